"""The rest of torch.nn.functional's activations: the hard / shrink / threshold family, SELU, CELU,
Mish, softsign, logsigmoid, GLU, PReLU, RReLU, softmin and Gumbel-softmax.

Each elementwise one computes its forward with the backend's array module and records a closure for
its derivative (one node per call, no chain of small ops); the derivative at a kink takes torch's side
(e.g. hardtanh passes the gradient strictly inside (min, max), softshrink strictly outside the band).
"""
from __future__ import annotations

from .. import amp_state
import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..autograd.inplace import apply as inplace_apply
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, float_data, normalize_dim, unbroadcast
from .activation import softmax
from .conversion import cast

_F32_SIXTH = float.fromhex('0x1.555556p-3')  # 1/6 rounded to float32
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _in_place(input, fn, *args):
    """``inplace=True``: the result is written into ``input`` through autograd's in-place path (a rebase of
    its graph, as torch's); the snapshot keeps a copy of the old values, which the backward reads."""
    return inplace_apply(as_tensor(input, fn.__name__), fn, args, copy_src=True)


def _float_input(input, op: str):
    a = as_tensor(input, op)
    if not a.dtype.is_floating_point:
        raise NotImplementedError(f"\"{op}\" not implemented for '{_torch_name(a.dtype)}'")
    return a, float_data(a)


def _promoted_input(input, op: str):
    """An integer input computed in the default float dtype (torch's softsign / tanhshrink of int64 are float32);
    bool stays refused."""
    a = as_tensor(input, op)
    if a.dtype.np.kind in "iu":
        a = cast(a, dtypes.default_float)
    return _float_input(a, op)


def _torch_name(dtype) -> str:
    return {"int64": "Long", "bool": "Bool", "int32": "Int"}.get(str(dtype).split(".")[-1], str(dtype))


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, hardtanh, min_val, max_val)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    a = as_tensor(input, "hardtanh")
    if a.dtype.np.kind in "iu":  # torch clamps integers to the truncated bounds and keeps their dtype (relu6 too)
        x = a._data
        return Tensor._wrap(backend_of(x).xp.clip(x, x.dtype.type(min_val), x.dtype.type(max_val)))
    a, x = _float_input(a, "hardtanh")
    xp = backend_of(x).xp
    dt = x.dtype.type
    y = xp.clip(x, dt(min_val), dt(max_val))
    inside = (x > dt(min_val)) & (x < dt(max_val))
    return record(Tensor._wrap(y), "HardtanhBackward0", (a,), lambda g: (g * inside,))


def relu6(input, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, relu6)
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, hardsigmoid)
    a, x = _float_input(input, "hardsigmoid")
    xp = backend_of(x).xp
    dt = x.dtype.type
    y = xp.clip(x / dt(6) + dt(0.5), dt(0), dt(1))
    inside = (x > dt(-3)) & (x < dt(3))
    # torch's kernel scales by the float32 constant 1.0f / 6.0f at every precision; so does this one
    sixth = dt(_F32_SIXTH)
    return record(Tensor._wrap(y), "HardsigmoidBackward0", (a,), lambda g: (g * inside * sixth,))


def hardswish(input, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, hardswish)
    a, x = _float_input(input, "hardswish")
    xp = backend_of(x).xp
    dt = x.dtype.type
    y = x * xp.clip(x + dt(3), dt(0), dt(6)) / dt(6)

    def backward(g):  # 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 (torch's sides of the kinks)
        d = xp.where(x <= dt(-3), dt(0), xp.where(x < dt(3), x / dt(3) + dt(0.5), dt(1)))
        return (g * d,)

    return record(Tensor._wrap(y), "HardswishBackward0", (a,), backward)


def _elu_family(a, x, alpha: float, scale: float, input_scale: float, name: str,
                backward_input_scale: float | None = None) -> Tensor:
    """torch's elu kernel: scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1)); the derivative on
    the negative side is scale * alpha * s * exp(x * s) with s = ``backward_input_scale`` (default
    input_scale)."""
    xp = backend_of(x).xp
    dt = x.dtype.type
    xneg = xp.minimum(x, dt(0))
    neg = dt(alpha) * xp.expm1(xneg * dt(input_scale))
    y = dt(scale) * xp.where(x > 0, x, neg)
    s = input_scale if backward_input_scale is None else backward_input_scale

    def backward(g):
        return (g * xp.where(x > 0, dt(scale), dt(scale * alpha * s) * xp.exp(xneg * dt(s))),)

    return record(Tensor._wrap(y), name, (a,), backward)


def elu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, elu, alpha)
    a, x = _float_input(input, "elu")
    return _elu_family(a, x, alpha, 1.0, 1.0, "EluBackward0")


def selu(input, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, selu)
    a, x = _float_input(input, "selu")
    return _elu_family(a, x, _SELU_ALPHA, _SELU_SCALE, 1.0, "EluBackward0")


def celu(input, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, celu, alpha)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    a, x = _float_input(input, "celu")
    # torch's CeluBackward0 takes 1 / float32(alpha) as the inner scale (its forward the exact 1 / alpha);
    # the same here, so gradients agree to the last bit rather than to 2e-7
    return _elu_family(a, x, alpha, 1.0, 1.0 / alpha, "CeluBackward0",
                       backward_input_scale=1.0 / float(np.float32(alpha)))


def _softplus(xp, x):
    """log(1 + exp(x)) without overflow."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(xp, x):
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def mish(input, inplace: bool = False) -> Tensor:
    if inplace:
        return _in_place(input, mish)
    a, x = _float_input(input, "mish")
    xp = backend_of(x).xp
    t = xp.tanh(_softplus(xp, x))
    y = x * t

    def backward(g):
        return (g * (t + x * _sigmoid(xp, x) * (1 - t * t)),)

    return record(Tensor._wrap(y), "MishBackward0", (a,), backward)


def softsign(input) -> Tensor:
    a, x = _promoted_input(input, "softsign")
    xp = backend_of(x).xp
    d = 1 + xp.abs(x)
    return record(Tensor._wrap(x / d), "DivBackward0", (a,), lambda g: (g / (d * d),))


def tanhshrink(input) -> Tensor:
    a, x = _promoted_input(input, "tanhshrink")
    th = backend_of(x).xp.tanh(x)
    return record(Tensor._wrap(x - th), "SubBackward0", (a,), lambda g: (g * th * th,))


def softshrink(input, lambd: float = 0.5) -> Tensor:
    a, x = _float_input(input, "softshrink")
    if lambd < 0:
        limit = "3.40282e+38" if x.dtype.itemsize == 4 else "1.79769e+308"
        raise RuntimeError(f"lambda must be in range [0, {limit}] for input dtype "
                           f"{'Float' if x.dtype.itemsize == 4 else 'Double'}, but found {lambd:g}")
    xp = backend_of(x).xp
    dt = x.dtype.type
    outside = xp.abs(x) > dt(lambd)
    y = xp.where(outside, x - xp.sign(x) * dt(lambd), dt(0))
    return record(Tensor._wrap(y), "SoftshrinkBackward0", (a,), lambda g: (g * outside,))


def hardshrink(input, lambd: float = 0.5) -> Tensor:
    a, x = _float_input(input, "hardshrink")
    xp = backend_of(x).xp
    dt = x.dtype.type
    outside = (x > dt(lambd)) | (x < dt(-lambd))
    y = xp.where(outside, x, dt(0))
    return record(Tensor._wrap(y), "HardshrinkBackward0", (a,), lambda g: (g * outside,))


def threshold(input, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    if inplace:
        return _in_place(input, globals()["threshold"], threshold, value)
    a = as_tensor(input, "threshold")
    x = a._data
    xp = backend_of(x).xp
    keep = x > threshold
    y = xp.where(keep, x, xp.asarray(value).astype(x.dtype))
    return record(Tensor._wrap(y), "ThresholdBackward0", (a,), lambda g: (g * keep,))


def logsigmoid(input) -> Tensor:
    a, x = _float_input(input, "log_sigmoid")
    xp = backend_of(x).xp
    y = -_softplus(xp, -x)
    return record(Tensor._wrap(y), "LogSigmoidBackward0", (a,), lambda g: (g * _sigmoid(xp, -x),))


def glu(input, dim: int = -1) -> Tensor:
    a, x = _float_input(input, "glu")
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    ax = normalize_dim(dim, x.ndim, "glu")
    n = x.shape[ax]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {ax} is size {n}")
    xp = backend_of(x).xp
    first, second = xp.split(x, 2, axis=ax)
    s = _sigmoid(xp, second)
    y = first * s

    def backward(g):
        return (xp.concatenate([g * s, g * first * s * (1 - s)], axis=ax),)

    return record(Tensor._wrap(y), "GluBackward0", (a,), backward)


@amp_state.lower_precision_op(2)  # torch's CPU autocast list
def prelu(input, weight) -> Tensor:
    a, x = _float_input(input, "prelu")
    w_t = as_tensor(weight, "prelu")
    w = w_t._data
    if w.ndim > 1 or (w.size != 1 and (x.ndim < 2 or w.size != x.shape[1])):
        channels = x.shape[1] if x.ndim >= 2 else 1
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{w.size} and channel size = {channels}.")
    xp = backend_of(x, w).xp
    # the weight broadcasts over dim 1 (channels), or over everything when it has one element
    wb = w.reshape((1, -1) + (1,) * (x.ndim - 2)) if w.size != 1 else w.reshape(())
    pos = x > 0
    y = xp.where(pos, x, wb * x).astype(x.dtype, copy=False)

    def backward(g):
        gx = xp.where(pos, g, wb * g)
        gw = unbroadcast(xp.where(pos, 0, g * x), wb.shape).reshape(w.shape)
        return gx, gw.astype(w.dtype, copy=False)

    return record(Tensor._wrap(y), "PreluKernelBackward0", (a, w_t), backward)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training each negative element gets its own slope drawn uniformly from
    [lower, upper] (the backend's generator); in evaluation the slope is their mean."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if inplace:
        return _in_place(input, rrelu, lower, upper, training)
    a, x = _float_input(input, "rrelu")
    be = backend_of(x)
    dt = x.dtype.type
    if training:
        slope = be.generator().uniform(lower, upper, x.shape).astype(x.dtype)
    else:
        slope = dt((lower + upper) / 2)
    pos = x >= 0
    y = be.xp.where(pos, x, x * slope)
    return record(Tensor._wrap(y), "RreluWithNoiseBackward0", (a,), lambda g: (be.xp.where(pos, g, g * slope),))


def softmin(input, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    a = as_tensor(input, "softmin")
    if dtype is not None:
        a = a.to(dtype)
    if dim is None:
        dim = 0 if a.ndim in (0, 1, 3) else 1
    return softmax(-a, dim)


def gumbel_softmax(logits, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """Samples from the Gumbel-softmax distribution: softmax((logits + Gumbel noise) / tau); with
    ``hard`` the result is one-hot in the forward with the soft sample's gradient (straight-through)."""
    a, x = _float_input(logits, "gumbel_softmax")
    be = backend_of(x)
    xp = be.xp
    # -log(Exp(1)) noise, as torch draws it
    e = be.generator().exponential(1.0, x.shape).astype(x.dtype)
    noise = Tensor._wrap(-xp.log(e))
    y_soft = softmax((a + noise) / tau, dim)
    if not hard:
        return y_soft
    ax = normalize_dim(dim, x.ndim, "gumbel_softmax")
    idx = xp.expand_dims(y_soft._data.argmax(axis=ax), ax)
    one_hot = xp.zeros_like(y_soft._data)
    xp.put_along_axis(one_hot, idx, 1, axis=ax)
    return Tensor._wrap(one_hot) - y_soft.detach() + y_soft



# ---- torch.nn.functional's in-place spellings -----------------------------------------------------------
def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def elu_(input, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu_(input) -> Tensor:
    return selu(input, inplace=True)


def celu_(input, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def threshold_(input, threshold: float, value: float) -> Tensor:  # noqa: A002
    return globals()["threshold"](input, threshold, value, inplace=True)
