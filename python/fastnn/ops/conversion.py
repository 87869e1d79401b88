"""dtype and device changes: ``to``, ``float``, ``double``, ``long``, ``bool`` (differentiable between floats)
and moves between devices (differentiable: the gradient moves back)."""
from __future__ import annotations

from .. import _memory_format as _mf
from .. import dtypes
from .._tensor import Tensor
from ..autograd.graph import record
from ..backend import backend_of, get_backend
from ..backend.bf16 import astype_any


def _aliases(a: Tensor, fmt) -> bool:
    """Whether ``to`` may return ``a`` itself for this memory format (ATen's to_will_alias): preserve, or the
    format ``a``'s strides suggest already (so a transposed 2-D tensor stays as it is for contiguous_format)."""
    return fmt is _mf.preserve_format or _mf.suggest(tuple(a.shape), _mf.strides_of(a._data)) is fmt


def _copy(a: Tensor, dt, fmt) -> Tensor:
    """``a``'s values as ``dt`` in a new array laid out as ``fmt`` says (ATen's _to_copy)."""
    if dt is dtypes.bfloat16 or a.dtype is dtypes.bfloat16:  # NumPy cannot cast to or from bfloat16's bits
        y = astype_any(a._data, dt.np, copy=False)
        # a conversion made a fresh C-order array already: a C-order source keeps that layout in every format
        # but channels_last, so the copy is skipped (it cost ~10x the conversion: autocast casts every weight)
        if not (dt is not a.dtype and a._data.flags.c_contiguous and y.flags.c_contiguous
                and fmt is not _mf.channels_last and fmt is not _mf.channels_last_3d):
            y = _mf.copy_as(y, fmt)
    else:
        y = _mf.copy_as(a._data, fmt, dt.np)
    if not dt.is_floating_point:
        return Tensor._wrap(y)  # integer results leave the graph, as in PyTorch
    src = a._data.dtype
    return record(Tensor._wrap(y), "ToCopyBackward0", (a,), lambda g: (astype_any(g, src, copy=False),))


def cast(a: Tensor, dtype, memory_format=None, op: str = "to") -> Tensor:
    """``a`` as ``dtype``: ``a`` itself when nothing changes, else a copy (``t.float(memory_format=...)``)."""
    dt = dtypes.to_dtype(dtype)
    fmt = _mf.resolve(memory_format, op)
    if dt is a.dtype and _aliases(a, fmt):
        return a
    return _copy(a, dt, fmt)


def move(a: Tensor, be, non_blocking: bool = False) -> Tensor:
    """``a`` on backend ``be``'s device: ``a`` itself when it is there already, else a copy through the host
    (``non_blocking``: asynchronous on the current stream where the device backend can, from pinned memory)."""
    src = backend_of(a._data)
    if be is src or be.device == src.device:  # the CPU's bfloat16 arrays have a backend of their own
        return a
    if a.dtype is dtypes.bfloat16:
        raise RuntimeError(f"fastnn holds bfloat16 tensors on the CPU only, not on {be.device}")
    host = src.to_host(a._data)
    y = be.from_host_async(host) if non_blocking and hasattr(be, "from_host_async") else be.from_host(host)
    return record(Tensor._wrap(y), "ToCopyBackward0", (a,), lambda g: (src.from_host(be.to_host(g)),))


def to(a: Tensor, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False,
       memory_format=None) -> Tensor:
    """``t.to(dtype)``, ``t.to(device)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``; ``memory_format``
    (preserve by default) lays out any copy made, and makes one when ``a``'s layout is another."""
    # torch's overloads: (tensor | device[, dtype] | dtype), then non_blocking and copy positionally.
    flags = []
    for arg in args:
        if isinstance(arg, bool):
            flags.append(arg)
        elif flags:
            raise TypeError(f"to() received an invalid combination of arguments: {arg!r} after non_blocking/copy")
        elif isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, str) and arg not in dtypes._BY_NAME:
            device = arg
        elif isinstance(arg, int):  # an index names a CUDA device, as in torch (t.to(0))
            device = arg
        elif hasattr(arg, "type") and hasattr(arg, "index"):
            device = arg
        else:
            dtype = arg
    if len(flags) > 2:
        raise TypeError(f"to() takes at most 2 positional flags (non_blocking, copy), got {len(flags)}")
    # non_blocking: a host-to-CUDA copy from pinned memory runs on the current stream (others are synchronous)
    if flags:
        non_blocking = flags[0]
    if len(flags) == 2:
        copy = flags[1]
    # The target backend first: an unsupported device raises get_backend's RuntimeError before any work.
    be = get_backend(device) if device is not None else None
    fmt = _mf.resolve(memory_format, "to")
    dt = dtypes.to_dtype(dtype) if dtype is not None else a.dtype
    moving = be is not None and be is not backend_of(a._data) and be.device != a.device
    if dt is not a.dtype or (copy and not moving) or not _aliases(a, fmt):
        out = _copy(a, dt, fmt)
    else:
        out = a
    if moving:
        out = move(out, be, non_blocking=bool(non_blocking))
    return out
