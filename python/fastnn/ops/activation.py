"""Activations, numerically stable: relu, sigmoid, tanh, gelu, leaky_relu, softmax, log_softmax."""
from __future__ import annotations

import math

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import float_data, normalize_dim
from .conversion import cast


def relu(a: Tensor) -> Tensor:
    x = a._data
    if x.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    y = backend_of(x).xp.maximum(x, 0).astype(x.dtype, copy=False)
    return record(Tensor._wrap(y), "ReluBackward0", (a,), lambda g: (g * (y > 0),))


def sigmoid(a: Tensor) -> Tensor:
    x = float_data(a)
    xp = backend_of(x).xp
    # exp of -|x| never overflows; the two branches are the same function on each side of 0.
    e = xp.exp(-xp.abs(x))
    y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    return record(Tensor._wrap(y), "SigmoidBackward0", (a,), lambda g: (g * y * (1 - y),))


def tanh(a: Tensor) -> Tensor:
    x = float_data(a)
    y = backend_of(x).xp.tanh(x)
    return record(Tensor._wrap(y), "TanhBackward0", (a,), lambda g: (g * (1 - y * y),))


_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def gelu(a: Tensor, approximate: str = "none") -> Tensor:
    x = float_data(a)
    dt = x.dtype.type
    be = backend_of(x)
    if approximate == "none" and x.dtype.kind == "f":
        y, cdf = be.gelu_forward(x)

        def backward(g):
            return (be.gelu_backward(g, x, cdf),)
    elif approximate == "none":  # bfloat16: the formula in float32, rounded once (its cdf stays float32)
        cdf = dt(0.5) * (1 + be.erf(x * dt(_SQRT1_2)))
        y = x * cdf

        def backward(g):
            return (g * (cdf + x * be.xp.exp(dt(-0.5) * x * x) * dt(_INV_SQRT_2PI)),)
    elif approximate == "tanh":
        inner = dt(_SQRT_2_OVER_PI) * (x + dt(0.044715) * x * x * x)
        th = be.xp.tanh(inner)
        y = dt(0.5) * x * (1 + th)

        def backward(g):
            dinner = dt(_SQRT_2_OVER_PI) * (1 + dt(3 * 0.044715) * x * x)
            return (g * (dt(0.5) * (1 + th) + dt(0.5) * x * (1 - th * th) * dinner),)
    else:
        raise RuntimeError("approximate argument must be either none or tanh.")  # torch's type and text
    return record(Tensor._wrap(y), "GeluBackward0", (a,), backward)


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    x = float_data(a)
    s = x.dtype.type(negative_slope)
    xp = backend_of(x).xp
    pos = x > 0
    y = xp.where(pos, x, x * s)
    return record(Tensor._wrap(y), "LeakyReluBackward0", (a,), lambda g: (xp.where(pos, g, g * s),))


def _last_dim(x, ax: int) -> bool:
    """Softmax over the last dim runs on the backend's row kernel."""
    return x.ndim >= 1 and ax == x.ndim - 1


def _not_for_integers(name: str, a: Tensor, ax: int) -> None:
    """torch's NotImplementedError for an integer or bool input to (log_)softmax (its kernel's name in it)."""
    from .int_kernels import stem

    kernel = f"{name}_lastdim_kernel_impl" if ax == max(a.ndim - 1, 0) else f"{name}_kernel_impl"
    raise NotImplementedError(f'"{kernel}" not implemented for \'{stem(a.dtype)}\'')


def softmax(a: Tensor, dim: int, dtype=None) -> Tensor:
    if dtype is not None:  # PyTorch casts the input first (a float32 input computed in float64)
        a = cast(a, dtype)
    ax = normalize_dim(dim, a.ndim, "softmax")
    if not a.dtype.is_floating_point:
        if a.numel() == 0:
            return Tensor._wrap(a._data.copy())  # torch returns an empty integer input as it is
        _not_for_integers("softmax", a, ax)
    x = float_data(a)
    be = backend_of(x)
    if x.size == 0:  # nothing to normalise: torch returns at once, where a keepdims sum over the other dims of
        # a (0, 2**40) input would ask for terabytes
        return record(Tensor._wrap(be.xp.empty(a.shape, x.dtype)), "SoftmaxBackward0", (a,), lambda g: (g.copy(),))
    if _last_dim(x, ax):
        y = be.softmax_last(x, log=False)
        return record(Tensor._wrap(y), "SoftmaxBackward0", (a,),
                      lambda g: (be.softmax_last_backward(y, g, log=False),))
    if x.ndim == 0:
        x = x.reshape(1)
    z = x - x.max(axis=ax, keepdims=True) if x.size else x
    e = be.xp.exp(z)
    y = (e / e.sum(axis=ax, keepdims=True)).reshape(a.shape)

    def backward(g):
        return (y * (g - (g * y).sum(axis=ax if y.ndim else None, keepdims=True)),)

    return record(Tensor._wrap(y), "SoftmaxBackward0", (a,), backward)


def log_softmax(a: Tensor, dim: int, dtype=None) -> Tensor:
    if dtype is not None:  # PyTorch casts the input first (a float32 input computed in float64)
        a = cast(a, dtype)
    ax = normalize_dim(dim, a.ndim, "log_softmax")
    if not a.dtype.is_floating_point:
        if a.numel() == 0:
            return Tensor._wrap(a._data.copy())  # torch returns an empty integer input as it is
        _not_for_integers("log_softmax", a, ax)
    x = float_data(a)
    be = backend_of(x)
    if x.size == 0:  # nothing to normalise: torch returns at once, where a keepdims sum over the other dims of
        # a (0, 2**40) input would ask for terabytes
        return record(Tensor._wrap(be.xp.empty(a.shape, x.dtype)), "LogSoftmaxBackward0", (a,), lambda g: (g.copy(),))
    if _last_dim(x, ax):
        y = be.softmax_last(x, log=True)
        return record(Tensor._wrap(y), "LogSoftmaxBackward0", (a,),
                      lambda g: (be.softmax_last_backward(y, g, log=True),))
    if x.ndim == 0:
        x = x.reshape(1)
    z = x - x.max(axis=ax, keepdims=True) if x.size else x
    xp = be.xp
    with be.errstate(divide="ignore"):  # log(0) only for an empty softmax dim, whose result is empty anyway
        y = (z - xp.log(xp.exp(z).sum(axis=ax, keepdims=True))).reshape(a.shape)

    def backward(g):
        return (g - xp.exp(y) * g.sum(axis=ax if y.ndim else None, keepdims=True),)

    return record(Tensor._wrap(y), "LogSoftmaxBackward0", (a,), backward)
