"""The default process group (and groups made by ``new_group``): who we are, how long to wait, what broke.

Rank and world size come from MPI (``mpiexec -n N``; a process started alone is a 1-rank world). The
``env://`` variables torchrun sets (RANK, WORLD_SIZE) are honoured as checks: they must agree with MPI.

Failure handling: a collective waits at most the group's timeout (torch's default, 30 minutes). While a group
of several ranks exists, an exception that ends a rank's program is first reported to every other rank (a
message on a communicator of its own), then the rank aborts the MPI job; a rank waiting in a collective sees the
notice within milliseconds and raises a RuntimeError naming the failed rank and its error. A rank killed
outright is seen by ``mpiexec``, which ends the job. No rank waits forever.
"""
from __future__ import annotations

import os
import sys
import warnings
from datetime import timedelta

from . import mpi_transport

__all__ = ["Backend", "get_global_rank", "get_group_rank", "get_process_group_ranks",
           "ProcessGroup", "init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "get_rank", "get_world_size", "get_backend", "new_group", "group", "GroupMember",
           "is_mpi_available", "is_gloo_available", "is_nccl_available", "default_pg_timeout"]

default_pg_timeout = timedelta(minutes=30)  # torch's default for CPU backends
_BACKENDS = ("mpi", "gloo")  # "gloo" programs run unchanged: their collectives are served by MPI
_NOTICE_GRACE_S = 1.0  # how long a failing rank lets its notices travel before it aborts the job


class ProcessGroup:
    def __init__(self, transport, backend: str, timeout_s: float, world_ranks) -> None:
        self.transport = transport
        self.backend = backend
        self.timeout_s = timeout_s
        self.world_ranks = list(world_ranks)  # global rank of each group rank
        self.broken = None  # the error that left a collective half done: later ones refuse at once
        self._in_flight = 0

    def rank(self) -> int:
        return self.transport.rank

    def size(self) -> int:
        return self.transport.size

    def group_rank(self, global_rank: int, op: str, what: str) -> int:
        """The group rank of global rank ``global_rank`` (torch's src/dst are global ranks)."""
        try:
            return self.world_ranks.index(global_rank)
        except ValueError:
            raise ValueError(f"{op}: {what} rank {global_rank} is not part of the process group (its global "
                             f"ranks are {self.world_ranks})") from None

    def check_usable(self, op: str) -> None:
        if self.broken is not None:
            raise RuntimeError(f"{op}: the process group is unusable after an earlier failure on rank "
                               f"{get_rank()}: {self.broken}")

    def check_notices(self, op: str) -> None:
        notice = _world_notice()
        if notice is not None:
            src, text = notice
            err = f"rank {src} failed: {text}"
            self.broken = err
            raise RuntimeError(f"{op}: rank {get_rank()} of {_WORLD.size()} cannot complete because {err}")

    def timed_out(self, op: str, limit: float) -> RuntimeError:
        self.broken = f"{op} timed out"
        return RuntimeError(
            f"{op}: timed out after {limit:g} s on rank {get_rank()} of {_WORLD.size()} waiting for the other "
            "ranks (a rank may have died, hung, or skipped this collective; the group's timeout is set by "
            "init_process_group(timeout=...))")


class _GroupNamespace:
    """``torch.distributed.group.WORLD``: the default group once initialised."""

    @property
    def WORLD(self):  # noqa: N802  (torch's name)
        return _WORLD


group = _GroupNamespace()


class GroupMember:
    NON_GROUP_MEMBER = object()

    WORLD = property(lambda self: _WORLD)


_WORLD: ProcessGroup | None = None
_SAVED_HOOK = None
_NOTICE = None  # a notice once received: it is consumed once from MPI and seen by every group


def _world_notice():
    global _NOTICE
    if _NOTICE is None and _WORLD is not None:
        _NOTICE = _WORLD.transport.received_notice()
    return _NOTICE


def is_available() -> bool:
    return mpi_transport.available()


def is_mpi_available() -> bool:
    return mpi_transport.available()


def is_gloo_available() -> bool:
    return mpi_transport.available()  # the "gloo" backend name is served by MPI


def is_nccl_available() -> bool:
    return False


def is_initialized() -> bool:
    return _WORLD is not None


def _default(op: str = "default process group") -> ProcessGroup:
    if _WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _WORLD


def _resolve(group_arg, op: str):
    """The group an op runs on: None (a non-member) or a ProcessGroup."""
    if group_arg is None or group_arg is _WORLD:
        return _default(op)
    if group_arg is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group_arg, ProcessGroup):
        raise TypeError(f"{op}: group must be a ProcessGroup from new_group() or None, got "
                        f"{type(group_arg).__name__}")
    _default(op)
    return group_arg


def _timeout_seconds(timeout, op: str) -> float:
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if not isinstance(timeout, timedelta):
        raise TypeError(f"{op}: Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    s = timeout.total_seconds()
    if s <= 0:
        raise ValueError(f"{op}: timeout must be positive, got {timeout}")
    return s


def _check_env(name: str, mpi_value: int, arg_value: int) -> None:
    if arg_value is not None and arg_value != -1 and int(arg_value) != mpi_value:
        raise ValueError(f"init_process_group: {name}={arg_value} but MPI started this process with "
                         f"{name}={mpi_value} (rank and world size come from mpiexec: mpiexec -n <world_size>)")
    env = os.environ.get(name.upper())
    if env is not None and env.strip() and int(env) != mpi_value:
        raise ValueError(f"init_process_group: the environment says {name.upper()}={env} but MPI started this "
                         f"process with {name}={mpi_value}")


def init_process_group(backend=None, init_method=None, timeout=None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None, device_id=None) -> None:
    """torch.distributed.init_process_group over MPI."""
    global _WORLD, _SAVED_HOOK, _NOTICE
    if _WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name in ("nccl", "cuda:nccl"):
        raise RuntimeError("Distributed package doesn't have NCCL built in: fastnn's GPU collectives (NCCL "
                           "through CuPy) are not built yet; use backend='mpi', which stages CUDA tensors "
                           "through the host")
    if name.startswith("cpu:"):
        name = name[4:].split(",")[0]
    if name not in _BACKENDS:
        raise ValueError(f"Invalid backend: '{backend}' (fastnn.distributed offers {', '.join(_BACKENDS)})")
    if init_method is not None and init_method != "env://":
        raise ValueError(f"init_process_group: init_method={init_method!r} is not supported: fastnn's ranks "
                         "meet through MPI (launch with mpiexec -n N, or python -m fastnn.distributed.run); "
                         "use init_method=None or 'env://'")
    if store is not None:
        raise ValueError("init_process_group: a Store is not supported: fastnn's ranks meet through MPI")
    if pg_options is not None:
        raise ValueError("init_process_group: pg_options are not supported by the MPI backend")
    timeout_s = _timeout_seconds(timeout, "init_process_group")
    world_rank, world_size_mpi = mpi_transport.MpiTransport.world_rank_size()
    _check_env("rank", world_rank, rank)
    _check_env("world_size", world_size_mpi, world_size)
    transport = mpi_transport.MpiTransport.world()
    _NOTICE = None
    _WORLD = ProcessGroup(transport, name, timeout_s, range(world_size_mpi))
    global _EXIT_REGISTERED
    if not _EXIT_REGISTERED:  # runs before mpi4py finalises MPI (its exit hook is C-level, after Python's)
        import atexit
        atexit.register(_close_at_exit)
        _EXIT_REGISTERED = True
    if world_size_mpi > 1 and _SAVED_HOOK is None:
        _SAVED_HOOK = sys.excepthook
        sys.excepthook = _report_and_abort


_EXIT_REGISTERED = False


def _close_at_exit() -> None:
    """A program that never calls destroy_process_group (most do not) still withdraws its notice receive."""
    if _WORLD is not None:
        _WORLD.transport.close_notices()


def destroy_process_group(group=None) -> None:
    global _WORLD, _SAVED_HOOK
    if group is not None and group is not _WORLD:
        if isinstance(group, ProcessGroup):
            group.transport.free()
        return
    if _WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    world, _WORLD = _WORLD, None
    if _SAVED_HOOK is not None:
        sys.excepthook, _SAVED_HOOK = _SAVED_HOOK, None
    if world.broken is None:
        world.transport.free()


def _report_and_abort(exc_type, exc, tb) -> None:
    """sys.excepthook while a multi-rank group exists: print as usual, tell the peers, end the MPI job."""
    hook = _SAVED_HOOK or sys.__excepthook__
    hook(exc_type, exc, tb)
    world = _WORLD
    if world is None:
        return
    text = f"{exc_type.__name__}: {exc}"
    try:
        world.transport.send_notices(f"{text}", _NOTICE_GRACE_S)
        import time
        time.sleep(_NOTICE_GRACE_S)  # peers waiting in a collective print their own error meanwhile
    finally:
        sys.stderr.flush()
        world.transport.abort(1)


def get_rank(group=None) -> int:
    pg = _resolve(group, "get_rank")
    if pg is None:
        return -1
    return pg.rank()  # the rank within that group, as torch's


def get_world_size(group=None) -> int:
    pg = _resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> str:
    pg = _resolve(group, "get_backend")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return pg.backend


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of some ranks; like torch, every rank of the default group must call it, members or not."""
    world = _default("new_group")
    n = world.size()
    members = list(range(n)) if ranks is None else sorted(int(r) for r in ranks)
    if any(r < 0 or r >= n for r in members) or len(set(members)) != len(members):
        raise ValueError(f"new_group: ranks must be distinct global ranks in [0, {n - 1}], got {ranks}")
    name = world.backend if backend is None else str(backend).lower()
    if name not in _BACKENDS:
        raise ValueError(f"Invalid backend: '{backend}'")
    timeout_s = world.timeout_s if timeout is None else _timeout_seconds(timeout, "new_group")
    me = world.rank()
    color = 0 if me in members else None
    key = members.index(me) if me in members else 0
    sub = world.transport.split(color, key)
    if sub is None:
        return GroupMember.NON_GROUP_MEMBER
    return ProcessGroup(sub, name, timeout_s, members)


def get_process_group_ranks(group) -> list:
    """The global ranks of ``group``'s members, in group-rank order."""
    pg = _resolve(group, "get_process_group_ranks")
    if pg is None:
        raise ValueError("get_process_group_ranks: this rank is not a member of the group")
    return list(pg.world_ranks)


def get_global_rank(group, group_rank: int) -> int:
    ranks = get_process_group_ranks(group)
    if not 0 <= int(group_rank) < len(ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return ranks[int(group_rank)]


def get_group_rank(group, global_rank: int) -> int:
    ranks = get_process_group_ranks(group)
    if int(global_rank) not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(int(global_rank))


class Backend(str):
    """torch.distributed.Backend: ``Backend("GLOO")`` is ``"gloo"``; the names as class attributes."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: {type(name)}")
        value = name.lower()
        if value not in ("undefined", "gloo", "nccl", "mpi"):
            raise ValueError(f"Invalid backend: '{name}'")
        return str.__new__(cls, value)


def non_member_warning(op: str) -> None:
    warnings.warn(f"Running {op} on global rank {get_rank()} which does not belong to the given group.",
                  stacklevel=3)
