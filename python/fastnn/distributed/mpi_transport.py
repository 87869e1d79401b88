"""The only file that talks to MPI (mpi4py): communicators, nonblocking collectives on host buffers, the
failure-notice channel, and abort.

Every data collective is MPI's nonblocking form (Iallreduce, Ibcast, ...): the caller polls the request, so a
wait can give up after the group's timeout or when a peer reports a failure, which a blocking MPI call cannot.
A GPU transport (NCCL through CuPy) would offer the same methods on device buffers.
"""
from __future__ import annotations

import numpy as np

_MPI = None


def mpi():
    """mpi4py.MPI, imported on first use: importing it initialises MPI, which only a distributed run needs."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:  # the extra is missing, or the MPI library under it
            raise RuntimeError(
                "fastnn.distributed needs mpi4py and an MPI library: pip install mpi4py mpich "
                f"(or fastnn[distributed]); importing mpi4py failed: {e}") from e
        _MPI = MPI
    return _MPI


def available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


_NOTICE_TAG = 7  # on the notice communicator only, which carries nothing else


class MpiTransport:
    """One communicator (a duplicate, so user MPI traffic on COMM_WORLD never matches ours) and its
    notice channel (another duplicate)."""

    def __init__(self, comm) -> None:
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._notice_comm = comm.Dup()
        self._notice_buf = np.zeros(4096, np.uint8)
        self._notice_req = self._notice_comm.Irecv(self._notice_buf, source=mpi().ANY_SOURCE, tag=_NOTICE_TAG)

    @classmethod
    def world(cls) -> "MpiTransport":
        return cls(mpi().COMM_WORLD.Dup())

    def split(self, color, key) -> "MpiTransport | None":
        """A transport over the ranks that passed the same ``color`` (None: not a member)."""
        MPI = mpi()
        sub = self.comm.Split(MPI.UNDEFINED if color is None else color, key)
        return None if sub == MPI.COMM_NULL else MpiTransport(sub)

    # ---- nonblocking collectives on host arrays (contiguous NumPy arrays, in place where MPI allows) --------
    def _op(self, op: str, dtype):
        MPI = mpi()
        if dtype == np.bool_:  # MPI reduces C_BOOL with the logical ops only
            return {"sum": MPI.LOR, "max": MPI.LOR, "bor": MPI.LOR, "min": MPI.LAND, "product": MPI.LAND,
                    "band": MPI.LAND, "bxor": MPI.LXOR}[op]
        return {"sum": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX, "band": MPI.BAND,
                "bor": MPI.BOR, "bxor": MPI.BXOR}[op]

    def iallreduce(self, arr, op: str):
        return self.comm.Iallreduce(mpi().IN_PLACE, arr, self._op(op, arr.dtype))

    def ireduce(self, arr, op: str, root: int):
        MPI = mpi()
        send = MPI.IN_PLACE if self.rank == root else arr
        return self.comm.Ireduce(send, arr if self.rank == root else None, self._op(op, arr.dtype), root=root)

    def ibcast(self, arr, root: int):
        return self.comm.Ibcast(arr, root=root)

    def iallgather(self, send, recv):
        return self.comm.Iallgather(send, recv)

    def igather(self, send, recv, root: int):
        return self.comm.Igather(send, recv if self.rank == root else None, root=root)

    def iscatter(self, send, recv, root: int):
        return self.comm.Iscatter(send if self.rank == root else None, recv, root=root)

    def ireduce_scatter_block(self, send, recv, op: str):
        return self.comm.Ireduce_scatter_block(send, recv, self._op(op, send.dtype))

    def ialltoall(self, send, recv):
        return self.comm.Ialltoall(send, recv)

    def ibarrier(self):
        return self.comm.Ibarrier()

    def isend(self, arr, dst: int, tag: int):
        return self.comm.Isend(arr, dest=dst, tag=tag)

    def irecv(self, arr, src, tag: int):
        MPI = mpi()
        status = MPI.Status()
        req = self.comm.Irecv(arr, source=MPI.ANY_SOURCE if src is None else src, tag=tag)
        return req, status

    @staticmethod
    def test(req, status=None) -> bool:
        return req.Test(status) if status is not None else req.Test()

    @staticmethod
    def source_of(status) -> int:
        return status.Get_source()

    # ---- failure notices -------------------------------------------------------------------------------------
    def received_notice(self):
        """(source rank, text) of a peer's failure notice, or None."""
        status = mpi().Status()
        if self._notice_req is None or not self._notice_req.Test(status):
            return None
        n = status.Get_count(mpi().BYTE)
        return status.Get_source(), bytes(self._notice_buf[:n]).decode("utf-8", "replace")

    def send_notices(self, text: str, wait_s: float) -> None:
        """Tells every other rank that this one failed; waits at most ``wait_s`` for the sends to leave."""
        import time
        data = np.frombuffer(text.encode("utf-8")[: self._notice_buf.size], np.uint8).copy()
        reqs = [self._notice_comm.Isend(data, dest=r, tag=_NOTICE_TAG) for r in range(self.size) if r != self.rank]
        deadline = time.monotonic() + wait_s
        while reqs and time.monotonic() < deadline:
            reqs = [r for r in reqs if not r.Test()]
            time.sleep(0.001)

    def close_notices(self) -> None:
        """Withdraws the pending notice receive (MPI would report it as leaked at exit otherwise)."""
        req, self._notice_req = self._notice_req, None
        if req is None:
            return
        try:
            req.Cancel()
            req.Wait()
        except mpi().Exception:
            pass

    def free(self) -> None:
        """Releases the communicators (collective over the group's ranks)."""
        self.close_notices()
        self._notice_comm.Free()
        self.comm.Free()

    @staticmethod
    def abort(code: int) -> None:
        mpi().COMM_WORLD.Abort(code)

    @staticmethod
    def world_rank_size() -> tuple:
        w = mpi().COMM_WORLD
        return w.Get_rank(), w.Get_size()

    def translate_to_world(self, ranks) -> list:
        MPI = mpi()
        return list(MPI.Group.Translate_ranks(self.comm.Get_group(), list(ranks), MPI.COMM_WORLD.Get_group()))
