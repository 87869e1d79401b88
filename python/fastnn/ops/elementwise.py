"""Element-wise math: exp, log, sqrt, abs, clamp, maximum, minimum, where."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from .._tensor import Tensor
from ._util import as_tensor, binary_operands, float_data, promote_types, result_dtype, unbroadcast


def exp(a: Tensor) -> Tensor:
    with np.errstate(over="ignore"):
        y = np.exp(float_data(a))
    return record(Tensor._wrap(y), "ExpBackward0", (a,), lambda g: (g * y,))


def log(a: Tensor) -> Tensor:
    x = float_data(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(x)

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / x,)

    return record(Tensor._wrap(y), "LogBackward0", (a,), backward)


def sqrt(a: Tensor) -> Tensor:
    with np.errstate(invalid="ignore"):
        y = np.sqrt(float_data(a))

    def backward(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / (2 * y),)

    return record(Tensor._wrap(y), "SqrtBackward0", (a,), backward)


def abs(a: Tensor) -> Tensor:  # noqa: A001
    x = a._data
    return record(Tensor._wrap(np.abs(x)), "AbsBackward0", (a,), lambda g: (g * np.sign(x),))


def clamp(a: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("clamp(): At least one of 'min' or 'max' must not be None")
    # The bounds promote like a binary op's operand: an int tensor clamped to 0.5 is float32, as in PyTorch.
    dt = a.dtype
    for bound in (min, max):
        if bound is not None:
            dt = promote_types(dt, result_dtype(a, bound))
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    x = a._data if a._data.dtype == dt.np else a._data.astype(dt.np)
    y = np.clip(x, lo, hi)
    if y.dtype != dt.np:
        y = y.astype(dt.np)
    in_shape = a.shape

    def backward(g):
        # PyTorch passes the gradient where min <= x <= max, boundaries included.
        keep = np.ones(y.shape, bool)
        if lo is not None:
            keep &= x >= lo
        if hi is not None:
            keep &= x <= hi
        return (unbroadcast(np.where(keep, g, 0).astype(g.dtype), in_shape),)

    return record(Tensor._wrap(y), "ClampBackward1", (a,), backward)


def _extremum(pick, name):
    def op(a, b) -> Tensor:
        ta, tb, xa, xb = binary_operands(as_tensor(a, name), as_tensor(b, name), name)
        y = pick(xa, xb)

        def backward(g):
            # Ties split the gradient in half, as PyTorch does.
            wa = np.where(xa == xb, 0.5, (pick(xa, xb) == xa).astype(g.dtype)).astype(g.dtype)
            return (unbroadcast(g * wa, ta.shape) if ta._requires_grad else None,
                    unbroadcast(g * (1 - wa), tb.shape) if tb._requires_grad else None)

        return record(Tensor._wrap(y), f"{name.capitalize()}Backward0", (ta, tb), backward)

    op.__name__ = name
    return op


maximum = _extremum(np.maximum, "maximum")
minimum = _extremum(np.minimum, "minimum")


def where(condition, a, b) -> Tensor:
    cond = as_tensor(condition, "where")._data
    if cond.dtype != np.bool_:
        raise TypeError(f"where(): expected condition to be a bool tensor, got {cond.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a, "where")  # where(cond, 1.0, 0.0): a scalar becomes a 0-d tensor, as in PyTorch
    ta, tb, xa, xb = binary_operands(a, b, "where")
    y = np.where(cond, xa, xb)

    def backward(g):
        return (unbroadcast(np.where(cond, g, 0), ta.shape) if ta is not None and ta._requires_grad else None,
                unbroadcast(np.where(cond, 0, g), tb.shape) if tb is not None and tb._requires_grad else None)

    return record(Tensor._wrap(y), "WhereBackward0", (ta, tb), backward)


def sign(a: Tensor) -> Tensor:
    return record(Tensor._wrap(np.sign(a._data)), "SignBackward0", (a,), lambda g: (np.zeros_like(g),))


def isnan(a: Tensor) -> Tensor:
    return Tensor._wrap(np.isnan(a._data))


def isfinite(a: Tensor) -> Tensor:
    return Tensor._wrap(np.isfinite(a._data))
