"""dtype and device changes: ``to``, ``float``, ``double``, ``long``, ``bool`` (differentiable between floats)
and moves between devices (differentiable: the gradient moves back)."""
from __future__ import annotations

from .. import dtypes
from .._tensor import Tensor
from ..autograd.graph import record
from ..backend import backend_of, get_backend
from .shape import clone


def cast(a: Tensor, dtype) -> Tensor:
    dt = dtypes.to_dtype(dtype)
    if dt is a.dtype:
        return a
    y = a._data.astype(dt.np)
    if not dt.is_floating_point:
        return Tensor._wrap(y)  # integer results leave the graph, as in PyTorch
    src = a._data.dtype
    return record(Tensor._wrap(y), "ToCopyBackward0", (a,), lambda g: (g.astype(src),))


def move(a: Tensor, be) -> Tensor:
    """``a`` on backend ``be``'s device: ``a`` itself when it is there already, else a copy through the host."""
    src = backend_of(a._data)
    if be is src:
        return a
    y = be.from_host(src.to_host(a._data))
    return record(Tensor._wrap(y), "ToCopyBackward0", (a,), lambda g: (src.from_host(be.to_host(g)),))


def to(a: Tensor, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False) -> Tensor:
    """``t.to(dtype)``, ``t.to(device)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, str) and arg not in dtypes._BY_NAME:
            device = arg
        elif hasattr(arg, "type") and hasattr(arg, "index"):
            device = arg
        else:
            dtype = arg
    # The target backend first: an unsupported device raises get_backend's RuntimeError before any work.
    be = get_backend(device) if device is not None else None
    out = cast(a, dtype) if dtype is not None else a
    if be is not None:
        out = move(out, be)
    if copy and out is a:
        out = clone(a)
    return out
