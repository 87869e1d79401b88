"""dtype changes: ``to``, ``float``, ``double``, ``long``, ``bool`` (differentiable between floats)."""
from __future__ import annotations

from .. import dtypes
from ..autograd.graph import record
from .._device import check_supported
from .._tensor import Tensor


def cast(a: Tensor, dtype) -> Tensor:
    dt = dtypes.to_dtype(dtype)
    if dt is a.dtype:
        return a
    y = a._data.astype(dt.np)
    if not dt.is_floating_point:
        return Tensor._wrap(y)  # integer results leave the graph, as in PyTorch
    src = a._data.dtype
    return record(Tensor._wrap(y), "ToCopyBackward0", (a,), lambda g: (g.astype(src),))


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
    check_supported(device)
    out = cast(a, dtype) if dtype is not None else a
    if copy and out is a:
        from .shape import clone

        out = clone(a)
    return out
