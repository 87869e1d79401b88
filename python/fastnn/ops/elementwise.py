"""Element-wise math: exp, log, log1p, sqrt, sin, cos, erf, abs, clamp, maximum, minimum, where."""
from __future__ import annotations

import math
import operator

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of, backend_with_cpu_scalars
from ..backend import registry as _registry
from .._tensor import Tensor
from ._util import as_tensor, binary_operands, float_data, on_device, promote_types, result_dtype, unbroadcast
from .arg_checks import check_fits, fits_every_float


def exp(a: Tensor) -> Tensor:
    x = float_data(a)
    be = backend_of(x)
    with be.errstate(over="ignore"):
        y = be.xp.exp(x)
    return record(Tensor._wrap(y), "ExpBackward0", (a,), lambda g: (g * y,))


def log(a: Tensor) -> Tensor:
    x = float_data(a)
    be = backend_of(x)
    with be.errstate(divide="ignore", invalid="ignore"):
        y = be.xp.log(x)

    def backward(g):
        with be.errstate(divide="ignore", invalid="ignore"):
            return (g / x,)

    return record(Tensor._wrap(y), "LogBackward0", (a,), backward)


def log1p(a: Tensor) -> Tensor:
    """log(1 + x), accurate where x is tiny (log(1 + 1e-10) in float32 would round 1 + x to 1)."""
    x = float_data(a)
    be = backend_of(x)
    with be.errstate(divide="ignore", invalid="ignore"):
        y = be.xp.log1p(x)

    def backward(g):
        with be.errstate(divide="ignore", invalid="ignore"):
            return (g / (1 + x),)

    return record(Tensor._wrap(y), "Log1PBackward0", (a,), backward)


def sin(a: Tensor) -> Tensor:
    x = float_data(a)
    xp = backend_of(x).xp
    return record(Tensor._wrap(xp.sin(x)), "SinBackward0", (a,), lambda g: (g * xp.cos(x),))


def cos(a: Tensor) -> Tensor:
    x = float_data(a)
    xp = backend_of(x).xp
    return record(Tensor._wrap(xp.cos(x)), "CosBackward0", (a,), lambda g: (-g * xp.sin(x),))


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def erf(a: Tensor) -> Tensor:
    """The error function, on the backend's erf kernel (NumPy has none)."""
    x = float_data(a)
    be = backend_of(x)
    y = be.erf(x)

    def backward(g):  # d/dx erf(x) = 2/sqrt(pi) exp(-x^2)
        return (g * (x.dtype.type(_TWO_OVER_SQRT_PI) * be.xp.exp(-(x * x))),)

    return record(Tensor._wrap(y), "ErfBackward0", (a,), backward)


def sqrt(a: Tensor) -> Tensor:
    x = float_data(a)
    be = backend_of(x)
    with be.errstate(invalid="ignore"):
        y = be.xp.sqrt(x)

    def backward(g):
        with be.errstate(divide="ignore", invalid="ignore"):
            return (g / (2 * y),)

    return record(Tensor._wrap(y), "SqrtBackward0", (a,), backward)


def abs(a: Tensor) -> Tensor:  # noqa: A001
    if _registry.ACTIVATES:
        on_device(a)
    x = a._data
    if x.dtype.kind == "b":
        raise NotImplementedError(f'"abs_{a.device.type}" not implemented for \'Bool\'')
    # The forward is an operator (any backend); only the backward asks for the array module.
    return record(Tensor._wrap(operator.abs(x)), "AbsBackward0", (a,), lambda g: (g * backend_of(x).xp.sign(x),))


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
    # Tensor bounds on another device raise PyTorch's error, CPU 0-d ones too: clamp.Tensor has the generated
    # device check, no CPU-scalar exemption (x_cuda.clamp(min=torch.tensor(0.)) raises on a GPU in PyTorch).
    # With several CUDA devices, backend_of also makes the tensor's device the current one.
    backend_of(a._data, lo if isinstance(min, Tensor) else None, hi if isinstance(max, Tensor) else None)
    check_fits(lo, dt.np)  # 1e308 against a float32 tensor: torch's overflow error, not NumPy's inf
    check_fits(hi, dt.np)
    x = a._data if a._data.dtype == dt.np else a._data.astype(dt.np)
    y = x.clip(lo, hi)
    if y.dtype != dt.np:
        y = y.astype(dt.np)
    in_shape = a.shape

    def backward(g):
        # PyTorch passes the gradient where min <= x <= max, boundaries included.
        xp = backend_of(x).xp
        keep = xp.ones(y.shape, bool)
        if lo is not None:
            keep &= x >= lo
        if hi is not None:
            keep &= x <= hi
        grads = [unbroadcast(xp.where(keep, g, 0).astype(g.dtype), in_shape), None, None]
        # Tensor bounds get the gradient where they won (PyTorch's clamp_backward_min_max): min where x < min
        # and min < max, max where x > max or max < min.
        if isinstance(min, Tensor) and min._requires_grad:
            won = (x < lo) & (lo < hi) if hi is not None else x < lo
            grads[1] = unbroadcast(xp.where(won, g, 0).astype(g.dtype), min.shape)
        if isinstance(max, Tensor) and max._requires_grad:
            won = (x > hi) | (hi < lo) if lo is not None else x > hi
            grads[2] = unbroadcast(xp.where(won, g, 0).astype(g.dtype), max.shape)
        return tuple(grads)

    bounds = (min if isinstance(min, Tensor) else None, max if isinstance(max, Tensor) else None)
    name = "ClampBackward1" if bounds[0] is None and bounds[1] is None else "ClampBackward0"
    return record(Tensor._wrap(y), name, (a, *bounds), backward)


def _extremum(name):
    def op(a, b) -> Tensor:
        ta, tb, xa, xb = binary_operands(as_tensor(a, name), as_tensor(b, name), name)
        xp = backend_of(xa, xb).xp
        y = getattr(xp, name)(xa, xb)

        def backward(g):
            # Ties split the gradient in half, as PyTorch does.
            wa = xp.where(xa == xb, 0.5, (y == xa).astype(g.dtype)).astype(g.dtype)
            return (unbroadcast(g * wa, ta.shape) if ta._requires_grad else None,
                    unbroadcast(g * (1 - wa), tb.shape) if tb._requires_grad else None)

        return record(Tensor._wrap(y), f"{name.capitalize()}Backward0", (ta, tb), backward)

    op.__name__ = name
    return op


maximum = _extremum("maximum")
minimum = _extremum("minimum")


def where(condition, a, b) -> Tensor:
    cond = as_tensor(condition, "where")._data
    if cond.dtype != np.bool_:
        raise TypeError(f"where(): expected condition to be a bool tensor, got {cond.dtype}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # where(cond, 1.0, 0.0): a scalar becomes a 0-d tensor on the condition's device, as in PyTorch
        a = as_tensor(a, "where").to(backend_of(cond).device)
    for scalar, other in ((a, b), (b, a)):  # 1e308 beside a float32 tensor: torch's overflow error, not inf
        # (a float that fits every dtype skips the promotion, which costs ~3 us)
        if isinstance(scalar, float) and isinstance(other, Tensor) and not fits_every_float(scalar):
            check_fits(scalar, result_dtype(other, scalar).np)
    ta, tb, xa, xb = binary_operands(a, b, "where")
    # Only tensors' arrays are asked: a NumPy scalar from a Python number has no device.
    be = backend_with_cpu_scalars(cond, xa if ta is not None else None, xb if tb is not None else None)
    cond, xa, xb = be.bring_scalars(cond, xa, xb)  # CPU 0-d operands beside a device's arrays: scalars
    xp = be.xp
    y = xp.where(cond, xa, xb)

    def backward(g):
        return (unbroadcast(xp.where(cond, g, 0), ta.shape) if ta is not None and ta._requires_grad else None,
                unbroadcast(xp.where(cond, 0, g), tb.shape) if tb is not None and tb._requires_grad else None)

    return record(Tensor._wrap(y), "WhereBackward0", (ta, tb), backward)


def sign(a: Tensor) -> Tensor:
    x = a._data
    xp = backend_of(x).xp
    y = x.copy() if x.dtype.kind == "b" else xp.sign(x)  # the sign of a bool is itself (NumPy has no bool loop)
    if x.dtype.kind in "fV":
        y = xp.where(y != y, y.dtype.type(0), y)  # torch's sign of NaN is 0 (NumPy's is NaN)
    return record(Tensor._wrap(y), "SignBackward0", (a,), lambda g: (xp.zeros_like(g),))


def isnan(a: Tensor) -> Tensor:
    x = a._data
    return Tensor._wrap(backend_of(x).xp.isnan(x))


def isfinite(a: Tensor) -> Tensor:
    x = a._data
    return Tensor._wrap(backend_of(x).xp.isfinite(x))
