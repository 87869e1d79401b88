"""torch.distributed's collectives on fastnn Tensors.

Each works on the tensor's own array in place: on the CPU the NumPy buffer goes to MPI as it is (no copy);
an array on another device is staged through a host copy (``backend.to_host``) and written back when the
collective completes, until a device transport (NCCL through CuPy) exists. ``async_op=True`` returns a
``Work``; otherwise the call waits (under the group's timeout and the peers' failure notices).
src/dst arguments are global ranks, as in torch; ``group_src``/``group_dst`` give ranks within ``group``.
"""
from __future__ import annotations

import pickle

import numpy as np

from .._tensor import Tensor
from ..backend import backend_of
from ..backend.bf16 import bits_from_float, float_from_bits, is_bf16
from . import process_group as _pg
from .reduce_op import ReduceOp
from .work import Work

__all__ = ["all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "reduce", "gather", "scatter", "all_to_all_single", "barrier", "send", "recv",
           "isend", "irecv", "broadcast_object_list", "all_gather_object", "monitored_barrier"]


def _tensor(t, op: str, what: str = "tensor") -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(t).__name__}")
    if not t.is_contiguous():
        raise ValueError(f"{op}: {what} must be contiguous (call .contiguous() first)")
    return t


def _bits(arr):
    """A bfloat16 array's bits as uint16 (a view), which MPI can move but not reduce."""
    return arr.view(np.ndarray).view(np.uint16)


class _Staged:
    """A tensor's array as a host buffer MPI can read and write; ``back()`` writes a staged copy back.

    bfloat16 (the CPU's 2-byte storage, which MPI has no type for) travels as its uint16 bits, in place; for a
    reduction (``reduce=True``) it is widened to float32, reduced there, and rounded once on the way back.
    """

    def __init__(self, t: Tensor, reduce: bool = False) -> None:
        self.arr = t._data
        self.bk = backend_of(self.arr)
        host = self.bk.to_host(self.arr)
        self.copied = host is not self.arr
        self.widened = False
        if is_bf16(host):
            if reduce:
                host = float_from_bits(host)
                self.copied = self.widened = True
            else:
                host = _bits(host)
        self.host = np.ascontiguousarray(host).reshape(-1) if host.ndim != 1 else host

    def back(self) -> None:
        if self.widened:
            _bits(self.arr).reshape(-1)[...] = bits_from_float(self.host)
        elif self.copied:
            self.arr[...] = self.bk.from_host(self.host.reshape(self.arr.shape))


def _host_flat(x: Tensor, reduce: bool):
    """``x``'s values as a flat host array for a send buffer (bfloat16: float32 to reduce, bits to move)."""
    host = backend_of(x._data).to_host(x._data)
    if is_bf16(host):
        host = float_from_bits(host) if reduce else _bits(host)
    return host.reshape(-1)


def _store(arr, values) -> None:
    """Received ``values`` (host, flat or shaped) into the array ``arr`` of some tensor."""
    if is_bf16(arr):
        _bits(arr)[...] = values.reshape(arr.shape)  # bits received as uint16
    else:
        arr[...] = backend_of(arr).from_host(values.reshape(arr.shape))


def _mpi_op(op, dtype, name: str) -> str:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and np.issubdtype(dtype, np.floating):
        raise ValueError(f"{name}: {op.name} needs an integer or bool tensor, got {dtype}")
    return "sum" if op is ReduceOp.AVG else op.value


def _run(pg, name: str, requests, finish, async_op: bool, result=None):
    work = Work(pg, name, requests, finish, result)
    if async_op:
        return work
    work.wait()
    return None


def _group(group, name: str):
    pg = _pg._resolve(group, name)
    if pg is None:
        _pg.non_member_warning(name)
        return None
    pg.check_usable(name)  # a peer's failure notice is looked at while the op waits
    return pg


def _root(pg, src, group_src, name: str, what: str) -> int:
    if group_src is not None:
        if src is not None:
            raise ValueError(f"{name}: pass {what} or group_{what}, not both")
        r = int(group_src)
        if r < 0 or r >= pg.size():
            raise ValueError(f"{name}: group_{what}={r} is out of range for a group of {pg.size()} ranks")
        return r
    if src is None:
        raise ValueError(f"{name}: {what} is required")
    return pg.group_rank(int(src), name, what)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    name = "all_reduce"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    s = _Staged(t, reduce=True)
    mop = _mpi_op(op, s.host.dtype, name)
    n = pg.size()

    def finish():
        if op is ReduceOp.AVG:
            np.divide(s.host, n, out=s.host, casting="unsafe")
        s.back()
    reqs = [(pg.transport.iallreduce(s.host, mop), None)] if s.host.size and n > 1 else []
    return _run(pg, name, reqs, finish, async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op: bool = False, group_dst=None):
    name = "reduce"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, name, "dst")
    s = _Staged(t, reduce=True)
    mop = _mpi_op(op, s.host.dtype, name)
    n = pg.size()
    me_root = pg.rank() == root

    def finish():
        if me_root:
            if op is ReduceOp.AVG:
                np.divide(s.host, n, out=s.host, casting="unsafe")
            s.back()
    reqs = [(pg.transport.ireduce(s.host, mop, root), None)] if s.host.size and n > 1 else []
    return _run(pg, name, reqs, finish, async_op)


def broadcast(tensor, src=None, group=None, async_op: bool = False, group_src=None):
    name = "broadcast"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    root = _root(pg, src, group_src, name, "src")
    s = _Staged(t)
    receives = pg.rank() != root
    reqs = [(pg.transport.ibcast(s.host, root), None)] if s.host.size and pg.size() > 1 else []
    return _run(pg, name, reqs, s.back if receives else None, async_op)


def _same_layout(t: Tensor, ref: Tensor, name: str, what: str) -> None:
    if t.dtype != ref.dtype:
        raise TypeError(f"{name}: {what} has dtype {t.dtype} but the input tensor has {ref.dtype}")
    if t.device != ref.device:
        raise ValueError(f"{name}: {what} is on {t.device} but the input tensor is on {ref.device}")


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    name = "all_gather"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    n = pg.size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != n:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list).__name__
        raise ValueError(f"{name}: tensor_list must hold one tensor per rank ({n}), got {got}")
    for i, o in enumerate(tensor_list):
        if not isinstance(o, Tensor):
            raise TypeError(f"{name}: tensor_list[{i}] must be a Tensor, got {type(o).__name__}")
        _same_layout(o, t, name, f"tensor_list[{i}]")
        if o.numel() != t.numel():
            raise ValueError(f"{name}: tensor_list[{i}] has {o.numel()} elements but the input tensor has "
                             f"{t.numel()}")
    s = _Staged(t)
    recv = np.empty((n, s.host.size), s.host.dtype)

    def finish():
        for i, o in enumerate(tensor_list):
            _store(o._data, recv[i])
    reqs = [(pg.transport.iallgather(s.host, recv), None)] if s.host.size else []
    return _run(pg, name, reqs, finish, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    name = "all_gather_into_tensor"
    out = _tensor(output_tensor, name, "output_tensor")
    inp = _tensor(input_tensor, name, "input_tensor")
    pg = _group(group, name)
    if pg is None:
        return None
    _same_layout(out, inp, name, "output_tensor")
    n = pg.size()
    if out.numel() != n * inp.numel():
        raise ValueError(f"{name}: output tensor size must be equal to world_size times input tensor size "
                         f"({n} x {inp.numel()}), got {out.numel()}")
    si, so = _Staged(inp), _Staged(out)
    reqs = [(pg.transport.iallgather(si.host, so.host), None)] if si.host.size else []
    return _run(pg, name, reqs, so.back, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    name = "reduce_scatter"
    out = _tensor(output, name, "output")
    pg = _group(group, name)
    if pg is None:
        return None
    n = pg.size()
    if not isinstance(input_list, (list, tuple)) or len(input_list) != n:
        got = len(input_list) if isinstance(input_list, (list, tuple)) else type(input_list).__name__
        raise ValueError(f"{name}: input_list must hold one tensor per rank ({n}), got {got}")
    for i, x in enumerate(input_list):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input_list[{i}] must be a Tensor, got {type(x).__name__}")
        _same_layout(x, out, name, f"input_list[{i}]")
        if x.numel() != out.numel():
            raise ValueError(f"{name}: input_list[{i}] has {x.numel()} elements but the output has {out.numel()}")
    send = np.concatenate([_host_flat(x, reduce=True) for x in input_list])
    return _reduce_scatter_flat(pg, name, send, out, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op: bool = False):  # noqa: A002
    name = "reduce_scatter_tensor"
    out = _tensor(output, name, "output")
    inp = _tensor(input, name, "input")
    pg = _group(group, name)
    if pg is None:
        return None
    _same_layout(inp, out, name, "input")
    if inp.numel() != pg.size() * out.numel():
        raise ValueError(f"{name}: input tensor must be the same size as output size times world size "
                         f"({pg.size()} x {out.numel()}), got {inp.numel()}")
    si = _Staged(inp, reduce=True)
    return _reduce_scatter_flat(pg, name, si.host, out, op, async_op)


def _reduce_scatter_flat(pg, name, send, out, op, async_op):
    so = _Staged(out, reduce=True)
    mop = _mpi_op(op, send.dtype, name)
    n = pg.size()

    def finish():
        if op is ReduceOp.AVG:
            np.divide(so.host, n, out=so.host, casting="unsafe")
        so.back()
    reqs = [(pg.transport.ireduce_scatter_block(send, so.host, mop), None)] if so.host.size else []
    return _run(pg, name, reqs, finish, async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op: bool = False, group_dst=None):
    name = "gather"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    root = _root(pg, 0 if dst is None and group_dst is None else dst, group_dst, name, "dst")
    n, me_root = pg.size(), pg.rank() == root
    if me_root:
        if not isinstance(gather_list, (list, tuple)) or len(gather_list) != n:
            raise ValueError(f"{name}: on the destination rank gather_list must hold one tensor per rank ({n})")
        for i, o in enumerate(gather_list):
            _tensor(o, name, f"gather_list[{i}]")
            _same_layout(o, t, name, f"gather_list[{i}]")
            if o.numel() != t.numel():
                raise ValueError(f"{name}: gather_list[{i}] has {o.numel()} elements, the input {t.numel()}")
    elif gather_list:
        raise ValueError(f"{name}: Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    s = _Staged(t)
    recv = np.empty((n, s.host.size), s.host.dtype) if me_root else None

    def finish():
        if me_root:
            for i, o in enumerate(gather_list):
                _store(o._data, recv[i])
    if s.host.size:
        reqs = [(pg.transport.igather(s.host, recv, root), None)]
    else:
        reqs = []
    return _run(pg, name, reqs, finish, async_op)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op: bool = False, group_src=None):
    name = "scatter"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    root = _root(pg, 0 if src is None and group_src is None else src, group_src, name, "src")
    n, me_root = pg.size(), pg.rank() == root
    send = None
    if me_root:
        if not isinstance(scatter_list, (list, tuple)) or len(scatter_list) != n:
            raise ValueError(f"{name}: on the source rank scatter_list must hold one tensor per rank ({n})")
        for i, x in enumerate(scatter_list):
            _tensor(x, name, f"scatter_list[{i}]")
            _same_layout(x, t, name, f"scatter_list[{i}]")
            if x.numel() != t.numel():
                raise ValueError(f"{name}: scatter_list[{i}] has {x.numel()} elements, the output {t.numel()}")
        send = np.concatenate([_host_flat(x, reduce=False) for x in scatter_list])
    elif scatter_list:
        raise ValueError(f"{name}: Argument ``scatter_list`` must NOT be specified on non-source ranks.")
    s = _Staged(t)
    reqs = [(pg.transport.iscatter(send, s.host, root), None)] if s.host.size else []
    return _run(pg, name, reqs, s.back, async_op)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,  # noqa: A002
                      group=None, async_op: bool = False):
    name = "all_to_all_single"
    out = _tensor(output, name, "output")
    inp = _tensor(input, name, "input")
    pg = _group(group, name)
    if pg is None:
        return None
    if output_split_sizes is not None or input_split_sizes is not None:
        raise NotImplementedError(f"{name}: uneven split sizes are not supported yet; pass equal splits")
    _same_layout(inp, out, name, "input")
    n = pg.size()
    if inp.numel() != out.numel() or (inp.shape[0] if inp.dim() else 1) % n:
        raise ValueError(f"{name}: input and output must have the same size, with a first dimension divisible "
                         f"by the world size {n}; got {tuple(inp.shape)} and {tuple(out.shape)}")
    si, so = _Staged(inp), _Staged(out)
    reqs = [(pg.transport.ialltoall(si.host, so.host), None)] if si.host.size else []
    return _run(pg, name, reqs, so.back, async_op)


def barrier(group=None, async_op: bool = False, device_ids=None):
    name = "barrier"
    pg = _group(group, name)
    if pg is None:
        return None
    return _run(pg, name, [(pg.transport.ibarrier(), None)], None, async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks: bool = False):
    """A barrier that raises after ``timeout`` (default: the group's) instead of waiting on."""
    work = barrier(group=group, async_op=True)
    if work is not None:
        work.wait(timeout)


def isend(tensor, dst=None, group=None, tag: int = 0, group_dst=None):
    name = "isend"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    peer = _root(pg, dst, group_dst, name, "dst")
    if peer == pg.rank():
        raise ValueError(f"{name}: Invalid destination rank: should not be the same as the rank of the "
                         "current process.")
    s = _Staged(t)
    return Work(pg, name, [(pg.transport.isend(s.host, peer, int(tag)), None)])


def irecv(tensor, src=None, group=None, tag: int = 0, group_src=None):
    name = "irecv"
    t = _tensor(tensor, name)
    pg = _group(group, name)
    if pg is None:
        return None
    peer = None if src is None and group_src is None else _root(pg, src, group_src, name, "src")
    s = _Staged(t)
    req, status = pg.transport.irecv(s.host, peer, int(tag))

    def finish():
        s.back()
        return pg.world_ranks[pg.transport.source_of(status)]
    return Work(pg, name, [(req, status)], finish)


def send(tensor, dst=None, group=None, tag: int = 0, group_dst=None) -> None:
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag: int = 0, group_src=None) -> int:
    """Receives into ``tensor``; returns the sender's global rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    return work.result()


# ---- picklable objects ---------------------------------------------------------------------------------------
def _gather_bytes(pg, name: str, payload: bytes) -> list:
    """Every rank's bytes (as a list by group rank), through two array collectives (sizes, then data)."""
    n = pg.size()
    sizes = np.zeros(n, np.int64)
    mine = np.array([len(payload)], np.int64)
    Work(pg, name, [(pg.transport.iallgather(mine, sizes), None)]).wait()
    width = int(sizes.max()) if n else 0
    buf = np.zeros(max(width, 1), np.uint8)
    buf[:len(payload)] = np.frombuffer(payload, np.uint8)
    recv = np.empty((n, buf.size), np.uint8)
    Work(pg, name, [(pg.transport.iallgather(buf, recv), None)]).wait()
    return [recv[i, :sizes[i]].tobytes() for i in range(n)]


def all_gather_object(object_list, obj, group=None) -> None:
    name = "all_gather_object"
    pg = _group(group, name)
    if pg is None:
        return
    if not isinstance(object_list, list) or len(object_list) != pg.size():
        raise ValueError(f"{name}: object_list must be a list with one slot per rank ({pg.size()})")
    for i, b in enumerate(_gather_bytes(pg, name, pickle.dumps(obj))):
        object_list[i] = pickle.loads(b)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None) -> None:
    name = "broadcast_object_list"
    pg = _group(group, name)
    if pg is None:
        return
    root = _root(pg, 0 if src is None and group_src is None else src, group_src, name, "src")
    if not isinstance(object_list, list):
        raise TypeError(f"{name}: object_list must be a list, got {type(object_list).__name__}")
    payload = pickle.dumps(object_list) if pg.rank() == root else b""
    size = np.array([len(payload)], np.int64)
    Work(pg, name, [(pg.transport.ibcast(size, root), None)]).wait()
    buf = np.zeros(max(int(size[0]), 1), np.uint8)
    if pg.rank() == root:
        buf[:len(payload)] = np.frombuffer(payload, np.uint8)
    Work(pg, name, [(pg.transport.ibcast(buf, root), None)]).wait()
    if pg.rank() != root:
        got = pickle.loads(buf[:int(size[0])].tobytes())
        if len(got) != len(object_list):
            raise ValueError(f"{name}: object_list has {len(object_list)} slots here but {len(got)} on the "
                             f"source rank")
        object_list[:] = got
