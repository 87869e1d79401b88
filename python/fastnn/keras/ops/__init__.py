"""fastnn.keras.ops: Keras 3's backend-neutral op namespace on fastnn Tensors, so that custom layers
written with ``from keras import ops`` run after ``keras`` -> ``fastnn.keras``. Names, signatures and
defaults follow Keras 3.15 (axis=, keepdims=, Keras' dtype defaults); every op delegates to fastnn's ops,
so results keep autograd. Inputs may be Tensors, NumPy arrays or Python numbers."""
from __future__ import annotations

import builtins
import math


import fastnn
from fastnn import Tensor

from ..device_scope import get_device
from . import nn
from . import symbolic as _symbolic
from ._convert import axes_arg, dtype_of, operands, to_tensor
from .nn import (binary_crossentropy, categorical_crossentropy, elu, gelu, leaky_relu, log_sigmoid,
                 log_softmax, moments, multi_hot, normalize, one_hot, relu, relu6, selu, sigmoid, silu,
                 softmax, softplus, softsign, sparse_categorical_crossentropy, swish)

_SMALL_INTS = (fastnn.bool, fastnn.uint8, fastnn.int8, fastnn.int16, fastnn.int32)


def _floatx(x):
    """Keras promotes integer inputs of float ops to float32."""
    return x if x.is_floating_point() else x.to(fastnn.float32)


def _int_reduce(x, out):
    """Keras keeps int32 for sums/products of <= 32-bit ints (torch widens to int64)."""
    if x.dtype in _SMALL_INTS and out.dtype == fastnn.int64:
        return out.to(fastnn.int32)
    return out


def _dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


# ---- conversion and creation ----
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    if sparse or ragged:
        raise NotImplementedError("keras.ops.convert_to_tensor: sparse/ragged tensors are not supported")
    return to_tensor(x, dtype)


def convert_to_numpy(x):
    """A host NumPy array of ``x`` (a device tensor is copied to the host; host data stays there)."""
    return to_tensor(x, like="cpu").detach().cpu().numpy()


def shape(x):
    if _symbolic.has_symbolic((x,)):
        return tuple(x.shape)  # a KerasTensor's static shape (None for the batch)
    return tuple(to_tensor(x).shape)


def ndim(x):
    if _symbolic.has_symbolic((x,)):
        return len(x.shape)
    return to_tensor(x).dim()


def size(x):
    return to_tensor(x).numel()


def cast(x, dtype):
    return to_tensor(x).to(dtype_of(dtype))


def dtype(x):
    if _symbolic.has_symbolic((x,)):
        return x.dtype
    return str(to_tensor(x).dtype).replace("fastnn.", "").replace("torch.", "")


def _shape_arg(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def zeros(shape, dtype=None):
    return fastnn.zeros(_shape_arg(shape), dtype=dtype_of(dtype or "float32"), device=get_device())


def ones(shape, dtype=None):
    return fastnn.ones(_shape_arg(shape), dtype=dtype_of(dtype or "float32"), device=get_device())


def full(shape, fill_value, dtype=None):
    fill = to_tensor(fill_value)
    d = dtype_of(dtype) or fill.dtype
    return fastnn.full(_shape_arg(shape), fill.item() if fill.dim() == 0 else 0, dtype=d, device=fill.device) + (
        0 if fill.dim() == 0 else fill.to(d))


def zeros_like(x, dtype=None):
    return fastnn.zeros_like(to_tensor(x), dtype=dtype_of(dtype))


def ones_like(x, dtype=None):
    return fastnn.ones_like(to_tensor(x), dtype=dtype_of(dtype))


def full_like(x, fill_value, dtype=None):
    return fastnn.full_like(to_tensor(x), fill_value, dtype=dtype_of(dtype))


def eye(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    d = dtype_of(dtype or "float32")
    if k == 0:
        return fastnn.eye(N, M, dtype=d, device=get_device())
    return fastnn.triu(fastnn.tril(fastnn.ones((N, M), dtype=d, device=get_device()), k), k)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if dtype is None:  # Keras: int32 for integer arguments, float32 otherwise
        ints = builtins.all(isinstance(v, int) for v in (start, stop, step))
        dtype = "int32" if ints else "float32"
    return fastnn.arange(start, stop, step, dtype=dtype_of(dtype), device=get_device())


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    if axis != 0 or isinstance(start, (Tensor, list, tuple)):
        raise NotImplementedError("keras.ops.linspace: only scalar start/stop with axis=0 are supported")
    d = dtype_of(dtype or "float32")
    if endpoint:
        out = fastnn.linspace(start, stop, num, dtype=fastnn.float64, device=get_device())
        step = (stop - start) / (num - 1) if num > 1 else float("nan")
    else:
        step = (stop - start) / num
        dev = get_device()
        out = fastnn.linspace(start, stop - step, num, dtype=fastnn.float64, device=dev) if num > 1 else \
            fastnn.full((num,), float(start), dtype=fastnn.float64, device=dev)
    out = out.to(d)
    return (out, step) if retstep else out


def meshgrid(*x, indexing="xy"):
    return list(fastnn.meshgrid(*[to_tensor(v) for v in x], indexing=indexing))


def tri(N, M=None, k=0, dtype=None):
    M = N if M is None else M
    return fastnn.tril(fastnn.ones((N, M), dtype=dtype_of(dtype or "float32"), device=get_device()), k)


# ---- shape and indexing ----
def concatenate(xs, axis=0):
    return fastnn.cat([to_tensor(v) for v in xs], dim=axis)


def append(x1, x2, axis=None):
    x1, x2 = to_tensor(x1), to_tensor(x2)
    if axis is None:
        return fastnn.cat([x1.reshape(-1), x2.reshape(-1)])
    return fastnn.cat([x1, x2], dim=axis)


def stack(x, axis=0):
    return fastnn.stack([to_tensor(v) for v in x], dim=axis)


def hstack(xs):
    xs = [to_tensor(v) for v in xs]
    return fastnn.cat(xs, dim=0 if xs[0].dim() == 1 else 1)


def vstack(xs):
    return fastnn.cat([to_tensor(v).reshape(1, -1) if to_tensor(v).dim() == 1 else to_tensor(v) for v in xs])


def reshape(x, newshape):
    return to_tensor(x).reshape(_shape_arg(newshape))


def ravel(x):
    return to_tensor(x).reshape(-1)


def transpose(x, axes=None):
    x = to_tensor(x)
    axes = tuple(reversed(range(x.dim()))) if axes is None else tuple(axes)
    return x.permute(axes)


def expand_dims(x, axis):
    x = to_tensor(x)
    for a in sorted(_dims(axis, 0), key=lambda a: a % (x.dim() + 1)):
        x = x.unsqueeze(a)
    return x


def squeeze(x, axis=None):
    x = to_tensor(x)
    if axis is None:
        return x.squeeze()
    for a in _dims(axis, x.dim()):
        if x.shape[a] != 1:
            raise ValueError(f"keras.ops.squeeze: axis {a} has size {x.shape[a]}, not 1")
    return x.squeeze(_dims(axis, x.dim()))


def moveaxis(x, source, destination):
    return fastnn.movedim(to_tensor(x), axes_arg(source), axes_arg(destination))


def swapaxes(x, axis1, axis2):
    return fastnn.swapaxes(to_tensor(x), axis1, axis2)


def broadcast_to(x, shape):
    return fastnn.broadcast_to(to_tensor(x), _shape_arg(shape))


def tile(x, repeats):
    return fastnn.tile(to_tensor(x), _shape_arg(repeats))


def repeat(x, repeats, axis=None):
    x = to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    r = to_tensor(repeats).long() if not isinstance(repeats, int) else repeats
    return fastnn.repeat_interleave(x, r, dim=axis)


def flip(x, axis=None):
    x = to_tensor(x)
    return fastnn.flip(x, _dims(axis, x.dim()))


def take(x, indices, axis=None):
    x, idx = to_tensor(x), to_tensor(indices).long()
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % x.dim()
    idx = fastnn.where(idx < 0, idx + x.shape[axis], idx)  # NumPy-style negative indices
    out = fastnn.index_select(x, axis, idx.reshape(-1))
    return out.reshape(tuple(x.shape[:axis]) + tuple(idx.shape) + tuple(x.shape[axis + 1:]))


def take_along_axis(x, indices, axis=None):
    x, idx = to_tensor(x), to_tensor(indices).long()
    if axis is None:
        x, axis = x.reshape(-1), 0
    axis = axis % x.dim()
    idx = fastnn.where(idx < 0, idx + x.shape[axis], idx)
    shp = list(fastnn.broadcast_shapes(tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:]),
                                       tuple(idx.shape)))
    xs = list(shp)
    xs[axis] = x.shape[axis]
    return fastnn.take_along_dim(x.expand(tuple(xs)), idx.expand(tuple(shp)), dim=axis)


def split(x, indices_or_sections, axis=0):
    x = to_tensor(x)
    if isinstance(indices_or_sections, int):
        n = x.shape[axis]
        if n % indices_or_sections:
            raise ValueError(f"keras.ops.split: axis of size {n} does not split into {indices_or_sections} "
                             "equal sections")
        return list(fastnn.split(x, n // indices_or_sections, dim=axis))
    return list(fastnn.tensor_split(x, list(indices_or_sections), dim=axis))


def array_split(x, indices_or_sections, axis=0):
    return list(fastnn.tensor_split(to_tensor(x), indices_or_sections, dim=axis))


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras' name
    x = to_tensor(inputs)
    starts = [int(s) for s in (start_indices.tolist() if isinstance(start_indices, Tensor) else start_indices)]
    for d, (s, n) in enumerate(zip(starts, shape)):
        x = x.narrow(d, s, x.shape[d] - s if n == -1 else n)
    return x


def pad(x, pad_width, mode="constant", constant_values=None):
    x = to_tensor(x)
    pw = [pad_width] * x.dim() if isinstance(pad_width, int) else list(pad_width)
    pw = [(p, p) if isinstance(p, int) else tuple(p) for p in pw]
    if len(pw) == 1 and x.dim() > 1:
        pw = pw * x.dim()
    flat = []
    for before, after in reversed(pw):
        flat += [before, after]
    if mode == "constant":
        return fastnn.nn.functional.pad(x, flat, mode="constant", value=constant_values or 0)
    if constant_values is not None:
        raise ValueError("keras.ops.pad: constant_values only applies to mode='constant'")
    if mode == "symmetric":  # NumPy's symmetric equals edge replication for pads of at most 1
        if builtins.any(p > 1 for p in flat):
            raise NotImplementedError("keras.ops.pad: mode='symmetric' supports pads of at most 1 per side")
        mode = "edge"
    torch_mode = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    if torch_mode is None:
        raise NotImplementedError(f"keras.ops.pad: mode={mode!r} is not supported")
    while len(flat) > 2 and flat[-2:] == [0, 0]:  # unpadded leading dims fold into the batch
        flat = flat[:-2]
    k = len(flat) // 2
    if k > 3:
        raise NotImplementedError(f"keras.ops.pad: mode={mode!r} pads at most the last 3 axes")
    # torch's non-constant modes want (N, C, *spatial): fold the leading dims into one batch axis
    lead, tail = tuple(x.shape[:x.dim() - k]), tuple(x.shape[x.dim() - k:])
    out = fastnn.nn.functional.pad(x.reshape((1, -1) + tail), flat, mode=torch_mode)
    return out.reshape(lead + tuple(out.shape[2:]))


def tril(x, k=0):
    return fastnn.tril(to_tensor(x), k)


def triu(x, k=0):
    return fastnn.triu(to_tensor(x), k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    return fastnn.diagonal(to_tensor(x), offset, axis1, axis2)


def trace(x, offset=0, axis1=0, axis2=1):
    x = to_tensor(x)
    return _int_reduce(x, fastnn.sum(fastnn.diagonal(x, offset, axis1, axis2), dim=-1))


def nonzero(x):
    # Keras' torch backend returns one int32 (ndim, n) tensor (its rows are NumPy's tuple), not a tuple
    return fastnn.nonzero(to_tensor(x)).T.to(fastnn.int32)


def where(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        return nonzero(to_tensor(condition))
    if x1 is None or x2 is None:
        raise ValueError("keras.ops.where: give both x1 and x2, or neither")
    c, a, b = operands(condition, x1, x2)
    return fastnn.where(c.bool(), a, b)


# ---- linear algebra ----
def matmul(x1, x2):
    return fastnn.matmul(to_tensor(x1), to_tensor(x2))


def dot(x1, x2):
    a, b = to_tensor(x1), to_tensor(x2)
    if a.dim() == 0 or b.dim() == 0:
        return a * b
    if b.dim() == 1 or a.dim() == 1:
        return fastnn.matmul(a, b)
    return fastnn.tensordot(a, b, dims=([a.dim() - 1], [b.dim() - 2]))


def tensordot(x1, x2, axes=2):
    return fastnn.tensordot(to_tensor(x1), to_tensor(x2), dims=axes)


def einsum(subscripts, *operands):
    return fastnn.einsum(subscripts, *[to_tensor(o) for o in operands])


def outer(x1, x2):
    return fastnn.outer(to_tensor(x1).reshape(-1), to_tensor(x2).reshape(-1))


def inner(x1, x2):
    a, b = to_tensor(x1), to_tensor(x2)
    if a.dim() == 0 or b.dim() == 0:
        return a * b
    return fastnn.tensordot(a, b, dims=([a.dim() - 1], [b.dim() - 1]))


def vdot(x1, x2):
    return fastnn.sum(to_tensor(x1).reshape(-1) * to_tensor(x2).reshape(-1))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = fastnn.movedim(to_tensor(x1), axisa, -1), fastnn.movedim(to_tensor(x2), axisb, -1)
    return fastnn.movedim(fastnn.linalg.cross(a, b, dim=-1), -1, axisc)


def norm(x, ord=None, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    return fastnn.linalg.norm(x, ord=ord, dim=axes_arg(axis), keepdim=keepdims)


# ---- reductions ----
def sum(x, axis=None, keepdims=False):  # noqa: A001
    x = to_tensor(x)
    if x.dtype == fastnn.bool:
        x = x.to(fastnn.int32)
    return _int_reduce(x, fastnn.sum(x, dim=_dims(axis, x.dim()), keepdim=keepdims))


def prod(x, axis=None, keepdims=False, dtype=None):
    x = to_tensor(x)
    if dtype is not None:
        x = x.to(dtype_of(dtype))
    elif x.dtype == fastnn.bool:
        x = x.to(fastnn.int32)
    out = x
    for a in sorted((d % x.dim() for d in _dims(axis, x.dim())), reverse=True) if x.dim() else []:
        out = fastnn.prod(out, dim=a, keepdim=keepdims)
    return _int_reduce(x, out)


def mean(x, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    return fastnn.mean(x, dim=_dims(axis, x.dim()), keepdim=keepdims)


def var(x, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    return fastnn.var(x, dim=_dims(axis, x.dim()), correction=0, keepdim=keepdims)


def std(x, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    return fastnn.std(x, dim=_dims(axis, x.dim()), correction=0, keepdim=keepdims)


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    x = to_tensor(x)
    out = fastnn.amax(x, dim=_dims(axis, x.dim()), keepdim=keepdims)
    return out if initial is None else fastnn.maximum(out, to_tensor(initial, x.dtype))


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    x = to_tensor(x)
    out = fastnn.amin(x, dim=_dims(axis, x.dim()), keepdim=keepdims)
    return out if initial is None else fastnn.minimum(out, to_tensor(initial, x.dtype))


amax, amin = max, min


def _arg(fn, x, axis, keepdims):
    x = to_tensor(x)
    if axis is None:
        out = fn(x.reshape(-1), dim=0)
        if keepdims:
            out = out.reshape((1,) * x.dim())
    else:
        out = fn(x, dim=axis, keepdim=keepdims)
    return out.to(fastnn.int32)  # Keras returns int32 indices


def argmax(x, axis=None, keepdims=False):
    return _arg(fastnn.argmax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(fastnn.argmin, x, axis, keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    x = to_tensor(x).bool()
    if axis is None and not keepdims:
        return fastnn.any(x)
    return fastnn.amax(x.to(fastnn.int32), dim=_dims(axis, x.dim()), keepdim=keepdims).bool()


def all(x, axis=None, keepdims=False):  # noqa: A001
    x = to_tensor(x).bool()
    if axis is None and not keepdims:
        return fastnn.all(x)
    return fastnn.amin(x.to(fastnn.int32), dim=_dims(axis, x.dim()), keepdim=keepdims).bool()


def logsumexp(x, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    return fastnn.logsumexp(x, dim=_dims(axis, x.dim()), keepdim=keepdims)


def count_nonzero(x, axis=None):
    x = to_tensor(x)
    return fastnn.sum((x != 0).to(fastnn.int32), dim=_dims(axis, x.dim())).to(fastnn.int32)


def average(x, axis=None, weights=None):
    x = _floatx(to_tensor(x))
    if weights is None:
        return mean(x, axis=axis)
    w = to_tensor(weights).to(x.dtype)
    if w.dim() == 1 and x.dim() > 1 and axis is not None:  # NumPy: 1-D weights lie along axis
        shp = [1] * x.dim()
        shp[axis] = w.shape[0]
        w = w.reshape(tuple(shp))
    return fastnn.sum(x * w, dim=_dims(axis, x.dim())) / fastnn.sum(
        fastnn.broadcast_to(w, tuple(x.shape)), dim=_dims(axis, x.dim()))


def cumsum(x, axis=None, dtype=None):
    x = to_tensor(x, dtype)
    if x.dtype == fastnn.bool:
        x = x.to(fastnn.int32)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return _int_reduce(x, fastnn.cumsum(x, dim=axis))


def cumprod(x, axis=None, dtype=None):
    x = to_tensor(x, dtype)
    if x.dtype == fastnn.bool:
        x = x.to(fastnn.int32)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return _int_reduce(x, fastnn.cumprod(x, dim=axis))


# ---- sorting ----
def sort(x, axis=-1):
    return fastnn.sort(to_tensor(x), dim=axis).values


def argsort(x, axis=-1):
    x = to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return fastnn.argsort(x, dim=axis, stable=True).to(fastnn.int32)


def top_k(x, k, sorted=True):  # noqa: A002
    r = fastnn.topk(to_tensor(x), k, dim=-1, sorted=sorted)
    return r.values, r.indices  # int64 indices, as Keras' torch backend gives


# ---- elementwise ----
def _binary(fn):
    def op(x1, x2):
        return fn(*operands(x1, x2))
    return op


add = _binary(fastnn.add)
subtract = _binary(fastnn.sub)
multiply = _binary(fastnn.mul)
maximum = _binary(fastnn.maximum)
minimum = _binary(fastnn.minimum)
equal = _binary(fastnn.eq)
not_equal = _binary(fastnn.ne)
greater = _binary(fastnn.gt)
greater_equal = _binary(fastnn.ge)
less = _binary(fastnn.lt)
less_equal = _binary(fastnn.le)
logical_and = _binary(fastnn.logical_and)
logical_or = _binary(fastnn.logical_or)
logical_xor = _binary(fastnn.logical_xor)


def divide(x1, x2):
    return fastnn.div(_floatx(to_tensor(x1)), to_tensor(x2))


true_divide = divide


def floor_divide(x1, x2):
    return fastnn.div(to_tensor(x1), to_tensor(x2), rounding_mode="floor")


def mod(x1, x2):
    return fastnn.remainder(to_tensor(x1), to_tensor(x2))


def power(x1, x2):
    return fastnn.pow(to_tensor(x1), to_tensor(x2))


def logical_not(x):
    return fastnn.logical_not(to_tensor(x))


def negative(x):
    return -to_tensor(x)


def clip(x, x_min, x_max):
    x = to_tensor(x)
    if x.dtype == fastnn.bool:
        x = x.to(fastnn.int32)
    return fastnn.clamp(x, x_min, x_max)


def _unary(fn, floatx=False):
    def op(x):
        x = to_tensor(x)
        return fn(_floatx(x) if floatx else x)
    return op


abs = _unary(fastnn.abs)  # noqa: A001
absolute = abs
square = _unary(fastnn.square)
sign = _unary(fastnn.sign)
floor = _unary(fastnn.floor, True)
ceil = _unary(fastnn.ceil, True)
sqrt = _unary(fastnn.sqrt, True)
exp = _unary(fastnn.exp, True)
expm1 = _unary(fastnn.expm1, True)
log = _unary(fastnn.log, True)
log1p = _unary(fastnn.log1p, True)
log2 = _unary(fastnn.log2, True)
log10 = _unary(fastnn.log10, True)
tanh = _unary(fastnn.tanh, True)
sin = _unary(fastnn.sin, True)
cos = _unary(fastnn.cos, True)
tan = _unary(fastnn.tan, True)
arcsin = _unary(fastnn.asin, True)
arccos = _unary(fastnn.acos, True)
arctan = _unary(fastnn.atan, True)
sinh = _unary(fastnn.sinh, True)
cosh = _unary(fastnn.cosh, True)
arcsinh = _unary(fastnn.asinh, True)
arccosh = _unary(fastnn.acosh, True)
arctanh = _unary(fastnn.atanh, True)
erf = _unary(fastnn.erf, True)
rsqrt = _unary(fastnn.rsqrt, True)
reciprocal = _unary(fastnn.reciprocal, True)
isnan = _unary(fastnn.isnan)
isfinite = _unary(fastnn.isfinite)
isinf = _unary(fastnn.isinf)


def round(x, decimals=0):  # noqa: A001
    return fastnn.round(to_tensor(x), decimals=decimals)


def arctan2(x1, x2):
    return fastnn.atan2(_floatx(to_tensor(x1)), _floatx(to_tensor(x2)))


def stop_gradient(variable):
    return to_tensor(variable).detach()


def copy(x):
    return to_tensor(x).clone()




# ---- more NumPy-like ops ----
trunc = _unary(fastnn.trunc)
fabs = _unary(fastnn.abs, True)
deg2rad = _unary(fastnn.deg2rad, True)
rad2deg = _unary(fastnn.rad2deg, True)
exp2 = _unary(fastnn.exp2, True)
erfinv = _unary(fastnn.erfinv, True)
signbit = _unary(fastnn.signbit)
isposinf = _unary(fastnn.isposinf)
isneginf = _unary(fastnn.isneginf)
sinc = _unary(fastnn.sinc, True)
i0 = _unary(fastnn.i0, True)
hypot = _binary(lambda a, b: fastnn.hypot(_floatx(a), _floatx(b)))
fmod = _binary(fastnn.fmod)
fmax = _binary(fastnn.fmax)
fmin = _binary(fastnn.fmin)
gcd = _binary(fastnn.gcd)
lcm = _binary(fastnn.lcm)
kron = _binary(fastnn.kron)
heaviside = _binary(fastnn.heaviside)
logaddexp = _binary(lambda a, b: fastnn.logaddexp(_floatx(a), _floatx(b)))
logaddexp2 = _binary(lambda a, b: fastnn.logaddexp2(_floatx(a), _floatx(b)))


def erfc(x):
    return fastnn.special.erfc(_floatx(to_tensor(x)))


def cbrt(x):
    x = _floatx(to_tensor(x))
    return fastnn.sign(x) * fastnn.pow(fastnn.abs(x), 1.0 / 3.0)


def ldexp(x1, x2):
    return fastnn.ldexp(_floatx(to_tensor(x1)), to_tensor(x2))


def divide_no_nan(x1, x2):
    a, b = _floatx(to_tensor(x1)), to_tensor(x2)
    safe = fastnn.where(b == 0, fastnn.ones_like(b), b)
    return fastnn.where(b == 0, fastnn.zeros_like(a / safe), a / safe)


def isclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    return fastnn.isclose(to_tensor(x1), to_tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-05, atol=1e-08, equal_nan=False):
    return fastnn.all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return fastnn.nan_to_num(to_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


def roll(x, shift, axis=None):
    x = to_tensor(x)
    if axis is None:
        return fastnn.roll(x.reshape(-1), shift).reshape(tuple(x.shape))
    return fastnn.roll(x, shift, dims=axis)


def diag(x, k=0):
    return fastnn.diag(to_tensor(x), k)


def diagflat(x, k=0):
    return fastnn.diagflat(to_tensor(x), k)


def fliplr(x):
    return fastnn.fliplr(to_tensor(x))


def flipud(x):
    return fastnn.flipud(to_tensor(x))


def rot90(array, k=1, axes=(0, 1)):
    return fastnn.rot90(to_tensor(array), k, list(axes))


def unstack(x, num=None, axis=0):
    out = list(fastnn.unbind(to_tensor(x), dim=axis))
    if num is not None and num != len(out):
        raise ValueError(f"keras.ops.unstack: num={num} but axis {axis} has size {len(out)}")
    return out


def dstack(xs):
    return fastnn.dstack([to_tensor(v) for v in xs])


def hsplit(x, indices_or_sections):
    x = to_tensor(x)
    return split(x, indices_or_sections, axis=0 if x.dim() == 1 else 1)


def vsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=2)


def median(x, axis=None, keepdims=False):
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    x = _floatx(to_tensor(x))
    qt = to_tensor(q, x.dtype)
    if axis is None or isinstance(axis, int):
        return fastnn.quantile(x, qt, dim=axis, keepdim=keepdims, interpolation=method)
    dims = sorted(a % x.dim() for a in axis)  # several axes: move them last and flatten them
    rest = [d for d in range(x.dim()) if d not in dims]
    y = x.permute(rest + dims).reshape(tuple(x.shape[d] for d in rest) + (-1,))
    out = fastnn.quantile(y, qt, dim=-1, keepdim=False, interpolation=method)
    if keepdims:
        for d in dims:
            out = out.unsqueeze(d + (out.dim() - len(rest)))
    return out


def ptp(x, axis=None, keepdims=False):
    return max(x, axis=axis, keepdims=keepdims) - min(x, axis=axis, keepdims=keepdims)


def nansum(x, axis=None, keepdims=False):
    x = to_tensor(x)
    return _int_reduce(x, fastnn.nansum(x, dim=_dims(axis, x.dim()), keepdim=keepdims))


def nanmean(x, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    return fastnn.nanmean(x, dim=_dims(axis, x.dim()), keepdim=keepdims)


def empty(shape, dtype=None):
    return fastnn.empty(_shape_arg(shape), dtype=dtype_of(dtype or "float32"), device=get_device())


def empty_like(x, dtype=None):
    return fastnn.empty_like(to_tensor(x), dtype=dtype_of(dtype))


def searchsorted(sorted_sequence, values, side="left"):
    out = fastnn.searchsorted(to_tensor(sorted_sequence), to_tensor(values), side=side)
    return out.to(fastnn.int32)  # Keras' int32 indices


def is_tensor(x):
    return isinstance(x, Tensor)


def cdist(x, y):
    return fastnn.cdist(_floatx(to_tensor(x)), _floatx(to_tensor(y)))


# ---- linear algebra (keras.ops.linalg, also at top level) ----
def det(x):
    return fastnn.linalg.det(to_tensor(x))


def inv(x):
    return fastnn.linalg.inv(to_tensor(x))


def solve(a, b):
    return fastnn.linalg.solve(to_tensor(a), to_tensor(b))


def cholesky(x, upper=False):
    return fastnn.linalg.cholesky(to_tensor(x), upper=upper)


def logdet(x):
    return fastnn.logdet(to_tensor(x))


def slogdet(x):
    r = fastnn.linalg.slogdet(to_tensor(x))
    return r[0], r[1]


def qr(x, mode="reduced"):
    r = fastnn.linalg.qr(to_tensor(x), mode=mode)
    return r[0], r[1]


def eigh(x):
    r = fastnn.linalg.eigh(to_tensor(x))
    return r[0], r[1]


def svd(x, full_matrices=True, compute_uv=True):
    x = to_tensor(x)
    if not compute_uv:
        return fastnn.linalg.svdvals(x)
    r = fastnn.linalg.svd(x, full_matrices=full_matrices)
    return r[0], r[1], r[2]


def solve_triangular(a, b, lower=False):
    return fastnn.linalg.solve_triangular(to_tensor(a), to_tensor(b), upper=not lower)


def pinv(x, rcond=None):
    x = to_tensor(x)
    return fastnn.linalg.pinv(x) if rcond is None else fastnn.linalg.pinv(x, rtol=rcond)


from .nn import (celu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh,  # noqa: E402
                 soft_shrink, sparse_plus, squareplus, tanh_shrink, threshold)


# ---- bitwise, NaN-aware and series ops ----
bitwise_and = _binary(fastnn.bitwise_and)
bitwise_or = _binary(fastnn.bitwise_or)
bitwise_xor = _binary(fastnn.bitwise_xor)
bitwise_left_shift = left_shift = _binary(fastnn.bitwise_left_shift)
bitwise_right_shift = right_shift = _binary(fastnn.bitwise_right_shift)
bitwise_not = bitwise_invert = _unary(fastnn.bitwise_not)


def real(x):
    return fastnn.real(to_tensor(x))


def imag(x):
    x = to_tensor(x)
    return fastnn.imag(x) if x.is_complex() else fastnn.zeros_like(x)


def conj(x):
    return fastnn.conj(to_tensor(x))


conjugate = conj


def isreal(x):
    x = to_tensor(x)
    return fastnn.imag(x) == 0 if x.is_complex() else fastnn.ones_like(x, dtype=fastnn.bool)


def _nan_fill(x, value):
    return fastnn.where(fastnn.isnan(x), fastnn.full_like(x, value), x)


def nanmax(x, axis=None, keepdims=False):
    x = to_tensor(x)
    if not x.is_floating_point():
        return max(x, axis=axis, keepdims=keepdims)
    out = max(_nan_fill(x, float("-inf")), axis=axis, keepdims=keepdims)
    allnan = all(fastnn.isnan(x), axis=axis, keepdims=keepdims)  # all-NaN slices stay NaN, as in NumPy
    return fastnn.where(allnan, fastnn.full_like(out, float("nan")), out)


def nanmin(x, axis=None, keepdims=False):
    x = to_tensor(x)
    if not x.is_floating_point():
        return min(x, axis=axis, keepdims=keepdims)
    out = min(_nan_fill(x, float("inf")), axis=axis, keepdims=keepdims)
    allnan = all(fastnn.isnan(x), axis=axis, keepdims=keepdims)
    return fastnn.where(allnan, fastnn.full_like(out, float("nan")), out)


def nanprod(x, axis=None, keepdims=False):
    x = to_tensor(x)
    return prod(_nan_fill(x, 1.0) if x.is_floating_point() else x, axis=axis, keepdims=keepdims)


def nancumsum(x, axis=None, dtype=None):
    x = to_tensor(x, dtype)
    return cumsum(_nan_fill(x, 0.0) if x.is_floating_point() else x, axis=axis)


def nancumprod(x, axis=None, dtype=None):
    x = to_tensor(x, dtype)
    return cumprod(_nan_fill(x, 1.0) if x.is_floating_point() else x, axis=axis)


def nanvar(x, axis=None, keepdims=False):
    x = _floatx(to_tensor(x))
    m = nanmean(x, axis=axis, keepdims=True)
    out = nanmean(fastnn.square(x - m), axis=axis, keepdims=keepdims)
    return out


def nanstd(x, axis=None, keepdims=False):
    return fastnn.sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    x = _floatx(to_tensor(x))
    if axis is not None and not isinstance(axis, int):
        raise NotImplementedError("keras.ops.nanquantile: axis must be None or one int")
    return fastnn.nanquantile(x, to_tensor(q, x.dtype), dim=axis, keepdim=keepdims, interpolation=method)


def nanmedian(x, axis=None, keepdims=False):
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, to_tensor(q, fastnn.float64) / 100, axis=axis, method=method, keepdims=keepdims)


def diff(a, n=1, axis=-1):
    x = to_tensor(a)
    for _ in range(n):
        x = x.narrow(axis, 1, x.shape[axis] - 1) - x.narrow(axis, 0, x.shape[axis] - 1)
    return x


def isin(x1, x2, assume_unique=False, invert=False):
    return fastnn.isin(to_tensor(x1), to_tensor(x2), assume_unique=assume_unique, invert=invert)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    exps = linspace(start, stop, num, endpoint=endpoint, dtype="float64", axis=axis)
    return fastnn.pow(float(base), exps).to(dtype_of(dtype or "float32"))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    if start == 0 or stop == 0 or (start < 0) != (stop < 0):
        raise ValueError("keras.ops.geomspace: start and stop must be non-zero and of the same sign")
    sign = -1.0 if start < 0 else 1.0
    exps = linspace(math.log10(abs(start)), math.log10(abs(stop)), num, endpoint=endpoint, dtype="float64",
                    axis=axis)
    return (sign * fastnn.pow(10.0, exps)).to(dtype_of(dtype or "float32"))


def vander(x, N=None, increasing=False):
    x = to_tensor(x)
    n = x.shape[0] if N is None else N
    powers = arange(n, dtype=x.dtype if x.is_floating_point() else "int64")
    if not increasing:
        powers = fastnn.flip(powers, (0,))
    return fastnn.pow(x.unsqueeze(-1), powers)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    y = _floatx(to_tensor(y))
    n = y.shape[axis]
    mids = (y.narrow(axis, 1, n - 1) + y.narrow(axis, 0, n - 1)) / 2
    if x is None:
        return fastnn.sum(mids, dim=axis) * dx
    return fastnn.sum(mids * diff(to_tensor(x).to(y.dtype), axis=axis), dim=axis)


def unravel_index(indices, shape):
    idx = to_tensor(indices)
    out = []
    for s in reversed(tuple(shape)):
        out.append(fastnn.remainder(idx, s))
        idx = fastnn.div(idx, s, rounding_mode="floor")
    return tuple(o.to(fastnn.int32) for o in reversed(out))  # Keras' int32 coordinates


def select(condlist, choicelist, default=0):
    choices = [to_tensor(c) for c in choicelist]
    out = to_tensor(default, choices[0].dtype) if choices else to_tensor(default)
    for c, v in zip(reversed(list(condlist)), reversed(choices)):
        out = fastnn.where(to_tensor(c).bool(), v, out)
    return out


def saturate_cast(x, dtype):
    x, d = to_tensor(x), dtype_of(dtype)
    if d.is_floating_point:
        info = fastnn.finfo(d)
    elif d == fastnn.bool:
        return x.to(d)
    else:
        info = fastnn.iinfo(d)
    lo, hi = info.min, info.max
    if not x.is_floating_point() and not d.is_floating_point:
        return fastnn.clamp(x.to(fastnn.int64), lo, hi).to(d)
    return fastnn.clamp(x, lo, hi).to(d)


from .nn import (batch_normalization, in_top_k, layer_normalization, psnr, rms_normalization,  # noqa: E402
                 sparse_sigmoid)


# ---- control flow: fastnn runs eagerly, so these are Python loops and branches ----
def cond(pred, true_fn, false_fn):
    return true_fn() if bool(to_tensor(pred)) else false_fn()


def switch(index, branches, *operands):
    i = int(to_tensor(index))
    return branches[builtins.min(builtins.max(i, 0), len(branches) - 1)](*operands)  # clamped, as Keras


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    single = not isinstance(loop_vars, (tuple, list))
    vars_ = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while (maximum_iterations is None or n < maximum_iterations) and bool(to_tensor(cond(*vars_))):
        out = body(*vars_)
        vars_ = (out,) if single else tuple(out)
        n += 1
    return vars_[0] if single else vars_


def map(f, xs):  # noqa: A001
    xs = to_tensor(xs)
    return fastnn.stack([to_tensor(f(xs[i])) for i in range(xs.shape[0])])


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    if xs is None and length is None:
        raise ValueError("keras.ops.scan: give xs or length")
    n = to_tensor(xs).shape[0] if xs is not None else length
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        carry, y = f(carry, None if xs is None else to_tensor(xs)[i])
        ys.append(to_tensor(y))
    if reverse:
        ys.reverse()
    return carry, fastnn.stack(ys) if ys else None


def vectorized_map(function, elements):
    return map(function, elements)


def argpartition(x, kth, axis=-1):
    # a full stable argsort is a valid partition: everything before kth is <= it, everything after >=
    return argsort(x, axis=axis)


def get_item(x, key):
    return to_tensor(x)[key]


def array(x, dtype=None):
    return to_tensor(x, dtype)


def slice_update(inputs, start_indices, updates):
    x, u = to_tensor(inputs), to_tensor(updates)
    starts = [int(s) for s in (start_indices.tolist() if isinstance(start_indices, Tensor) else start_indices)]
    out = x.clone()
    out[tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))] = u.to(x.dtype)
    return out


def scatter_update(inputs, indices, updates, reduction=None):
    if reduction is not None:
        raise NotImplementedError("keras.ops.scatter_update: reduction is not supported")
    x, idx, u = to_tensor(inputs), to_tensor(indices).long(), to_tensor(updates)
    out = x.clone()
    out[tuple(idx[:, j] for j in range(idx.shape[1]))] = u.to(x.dtype)
    return out


def scatter(indices, values, shape):
    idx, v = to_tensor(indices).long(), to_tensor(values)
    out = fastnn.zeros(_shape_arg(shape), dtype=v.dtype, device=v.device)
    # Keras (like tf.scatter_nd) sums values at repeated indices
    return out.index_put(tuple(idx[:, j] for j in range(idx.shape[1])), v, accumulate=True)


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    d, ids = to_tensor(data), to_tensor(segment_ids).long()
    n = int(fastnn.amax(ids)) + 1 if num_segments is None else num_segments
    out = fastnn.zeros((n,) + tuple(d.shape[1:]), dtype=d.dtype, device=d.device)
    return out.index_add(0, ids, d)


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    d, ids = to_tensor(data), to_tensor(segment_ids).long()
    n = int(fastnn.amax(ids)) + 1 if num_segments is None else num_segments
    lowest = float("-inf") if d.is_floating_point() else fastnn.iinfo(d.dtype).min
    out = fastnn.full((n,) + tuple(d.shape[1:]), lowest, dtype=d.dtype, device=d.device)
    idx = ids.reshape((-1,) + (1,) * (d.dim() - 1)).expand(tuple(d.shape))
    return out.scatter_reduce(0, idx, d, reduce="amax", include_self=True)


from .nn import average_pool, conv, dot_product_attention, max_pool  # noqa: E402


def segment_min(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002
    return -segment_max(-to_tensor(data), segment_ids, num_segments=num_segments)


def bincount(x, weights=None, minlength=0, sparse=False):
    if sparse:
        raise NotImplementedError("keras.ops.bincount: sparse=True is not supported")
    x = to_tensor(x).long()
    if x.dim() == 2:  # Keras counts each row of a batch separately
        return stack([bincount(r, None if weights is None else to_tensor(weights)[i], minlength)
                      for i, r in enumerate(x)]) if x.shape[0] else x
    n = builtins.max(int(fastnn.amax(x)) + 1 if x.numel() else 0, minlength)
    w = fastnn.ones_like(x, dtype=fastnn.int32) if weights is None else to_tensor(weights)
    return fastnn.zeros((n,), dtype=w.dtype, device=w.device).index_add(0, x, w)


def corrcoef(x):
    x = _floatx(to_tensor(x))
    xc = x - fastnn.mean(x, dim=1, keepdim=True)
    cov = fastnn.matmul(xc, xc.T)
    d = fastnn.sqrt(fastnn.diagonal(cov))
    return cov / fastnn.outer(d, d)


def angle(x):
    x = to_tensor(x)
    if x.is_complex():
        return fastnn.angle(x)
    x = _floatx(x)
    return fastnn.where(x < 0, fastnn.full_like(x, math.pi), fastnn.zeros_like(x))


def cholesky_inverse(x, upper=False):
    x = to_tensor(x)
    lt = x.mT if upper else x  # the inverse of L L^T from its Cholesky factor L
    return fastnn.linalg.inv(fastnn.matmul(lt, lt.mT))


def matrix_rank(x, tol=None):
    x = to_tensor(x)
    out = fastnn.linalg.matrix_rank(x) if tol is None else fastnn.linalg.matrix_rank(x, atol=tol, rtol=0.0)
    return out.to(fastnn.int32)


def lstsq(a, b, rcond=None):
    return fastnn.linalg.pinv(to_tensor(a)) @ to_tensor(b) if rcond is None else \
        fastnn.linalg.pinv(to_tensor(a), rtol=rcond) @ to_tensor(b)


def _window(n, fn):
    n = int(n)
    if n == 1:
        return fastnn.ones((1,), dtype=fastnn.float32, device=get_device())
    t = fastnn.arange(n, dtype=fastnn.float64, device=get_device()) / (n - 1)  # 0 .. 1 over the symmetric window
    return fn(t).to(fastnn.float32)


def hamming(x):
    return _window(x, lambda t: 0.54 - 0.46 * fastnn.cos(2 * math.pi * t))


def hanning(x):
    return _window(x, lambda t: 0.5 - 0.5 * fastnn.cos(2 * math.pi * t))


def bartlett(x):
    return _window(x, lambda t: 1 - fastnn.abs(2 * t - 1))


def blackman(x):
    return _window(x, lambda t: 0.42 - 0.5 * fastnn.cos(2 * math.pi * t) + 0.08 * fastnn.cos(4 * math.pi * t))


def kaiser(x, beta):
    b = float(beta)
    return _window(x, lambda t: fastnn.i0(b * fastnn.sqrt(fastnn.clamp(1 - fastnn.square(2 * t - 1), min=0.0)))
                   / fastnn.i0(fastnn.tensor(b, dtype=fastnn.float64, device=t.device)))


def nanargmax(x, axis=None, keepdims=False):
    x = to_tensor(x)
    return argmax(_nan_fill(x, float("-inf")) if x.is_floating_point() else x, axis=axis, keepdims=keepdims)


def nanargmin(x, axis=None, keepdims=False):
    x = to_tensor(x)
    return argmin(_nan_fill(x, float("inf")) if x.is_floating_point() else x, axis=axis, keepdims=keepdims)


from .nn import (adaptive_average_pool, adaptive_max_pool, depth_to_space, space_to_depth,  # noqa: E402
                 sparsemax)


def digitize(x, bins):
    # NumPy's digitize for increasing bins: the index i with bins[i-1] <= x < bins[i]
    return fastnn.bucketize(to_tensor(x), to_tensor(bins), right=True).to(fastnn.int32)


def nextafter(x1, x2):
    return fastnn.nextafter(_floatx(to_tensor(x1)), _floatx(to_tensor(x2)))


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return nanquantile(x, to_tensor(q, fastnn.float64) / 100, axis=axis, method=method, keepdims=keepdims)

from .ctc import ctc_loss  # noqa: E402,F401
from .nn import (conv_transpose, ctc_decode, depthwise_conv, fold, separable_conv,  # noqa: E402,F401
                 unfold)
from .symbolic import wrap_namespace as _wrap_namespace  # noqa: E402

_wrap_namespace(nn.__dict__, "nn.")
_wrap_namespace(globals(), shared=nn.__dict__)
from . import linalg, numpy  # noqa: E402,F401 - keras.ops.linalg / keras.ops.numpy, after every name exists
