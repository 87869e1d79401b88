"""Reductions with ``dim`` / ``keepdim``: sum, mean, max, min, argmax, argmin, var, std, logsumexp."""
from __future__ import annotations

from .. import amp_state
import numpy as np

from .. import dtypes, return_types
from ..autograd.graph import record
from ..backend import backend_of
from ..backend import registry as _registry
from .._tensor import Tensor
from .arg_checks import check_bool
from ._util import expand_reduced, float_data, normalize_dim, normalize_dims, on_device, reduction_dims
from .conversion import cast
from .elementwise import maximum, minimum

# PyTorch's scalar-type names in its messages
_TORCH_TYPE_NAME = {"int64": "Long", "bool": "Bool", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte"}


def _count(shape, axes) -> int:
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def sum(a: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    check_bool(keepdim, "sum", "keepdim")
    axes = reduction_dims(dim, a.ndim, "sum")
    if _registry.ACTIVATES:
        on_device(a)
    x = a._data
    if dtype is not None:
        x = x.astype(dtypes.to_dtype(dtype).np)
    elif x.dtype.kind in "biu":
        x = x.astype(np.int64)  # PyTorch sums bools and ints as int64
    # The method form skips NumPy's Python-level reduction wrapper (a third of a small sum's cost).
    y = x.sum(axis=axes if len(axes) != x.ndim else None, keepdims=keepdim)
    shape = x.shape
    if dtype is not None and a._data.dtype != x.dtype and a._data.dtype.kind in "fV":
        src = a._data.dtype  # sum(float32, dtype=float64): the gradient goes back as float32
        return record(Tensor._wrap(y), "SumBackward1", (a,),
                      lambda g: (expand_reduced(g, shape, axes, keepdim).astype(src),))
    return record(Tensor._wrap(y), "SumBackward1", (a,), lambda g: (expand_reduced(g, shape, axes, keepdim),))


def mean(a: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    check_bool(keepdim, "mean", "keepdim")
    if dtype is None and not a.dtype.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {_TORCH_TYPE_NAME.get(a.dtype.name, a.dtype.name)}")
    if dtype is not None and not dtypes.to_dtype(dtype).is_floating_point:
        name = dtypes.to_dtype(dtype).name
        raise RuntimeError(f"mean(): could not infer output dtype. Optional dtype must be either a floating point or "
                           f"complex dtype. Got: {_TORCH_TYPE_NAME.get(name, name)}")
    axes = reduction_dims(dim, a.ndim, "mean")
    x = a._data if dtype is None else a._data.astype(dtypes.to_dtype(dtype).np)
    n = _count(a.shape, axes)
    be = backend_of(x)
    with be.errstate(invalid="ignore", divide="ignore"):  # the mean of nothing is NaN, as in PyTorch
        y = x.sum(axis=axes, keepdims=keepdim) / x.dtype.type(n)
    shape = a.shape
    src = a._data.dtype  # mean(float32, dtype=float64): the gradient goes back as float32
    return record(Tensor._wrap(y), "MeanBackward1", (a,), lambda g: (
        expand_reduced(g / g.dtype.type(n or 1), shape, axes, keepdim, be).astype(src, copy=False),))


def _extreme(a: Tensor, dim, keepdim, name):
    """max / min (``name``), through the array methods of that name and arg+name."""
    check_bool(keepdim, name, "keepdim")
    if _registry.ACTIVATES:
        on_device(a)
    x = a._data
    if dim is None:
        if x.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        y = getattr(x, name)()

        def backward(g):
            # The full reduction spreads the gradient evenly over tied extremes (PyTorch's amax rule).
            xp = backend_of(x).xp
            mask = (x == y) | (xp.isnan(x) & xp.isnan(y))
            return ((mask * (g / mask.sum())).astype(g.dtype),)

        return record(Tensor._wrap(y), f"{name.capitalize()}Backward1", (a,), backward)
    ax = normalize_dim(dim, a.ndim, name)
    if a.ndim and x.shape[ax] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    xp = backend_of(x).xp
    if a.ndim == 0:
        idx = xp.zeros((), np.int64)
        values = record(Tensor._wrap(x.copy()), f"{name.capitalize()}Backward0", (a,), lambda g: (g,))
        return getattr(return_types, name)(values, Tensor._wrap(idx))
    idx = getattr(x, "arg" + name)(axis=ax, keepdims=True)
    vals = xp.take_along_axis(x, idx, axis=ax)
    shape = x.shape

    def backward(g):
        gk = g if keepdim else xp.expand_dims(g, ax)
        out = xp.zeros(shape, g.dtype)
        xp.put_along_axis(out, idx, gk, axis=ax)
        return (out,)

    values = Tensor._wrap(vals if keepdim else vals.squeeze(ax))
    values = record(values, f"{name.capitalize()}Backward0", (a,), backward)
    return getattr(return_types, name)(values, Tensor._wrap((idx if keepdim else idx.squeeze(ax)).astype(np.int64)))


def max(a: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """max() -> the largest element; max(dim) -> (values, indices) along ``dim``; max(other) -> maximum."""
    if isinstance(dim, Tensor):
        return maximum(a, dim)
    return _extreme(a, dim, keepdim, "max")


def min(a: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    if isinstance(dim, Tensor):
        return minimum(a, dim)
    return _extreme(a, dim, keepdim, "min")


def amax(a: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amext(a, dim, keepdim, "max", "amax")


def amin(a: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    return _amext(a, dim, keepdim, "min", "amin")


def _amext(a, dim, keepdim, method, name):
    check_bool(keepdim, name, "keepdim")
    if _registry.ACTIVATES:
        on_device(a)
    axes = reduction_dims(dim, a.ndim, name)
    x = a._data
    _check_nonempty(x, dim, axes, name)
    y = getattr(x, method)(axis=axes, keepdims=True)

    def backward(g):
        mask = x == y
        gk = g if keepdim else g.reshape(y.shape)
        return ((mask * (gk / mask.sum(axis=axes, keepdims=True))).astype(g.dtype),)

    out = y if keepdim else y.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))
    return record(Tensor._wrap(out), f"{name.capitalize()}Backward0", (a,), backward)


def _check_nonempty(x, dim, axes, name):
    """PyTorch's errors for an extreme of nothing (NumPy would raise a bare ValueError)."""
    if x.size:
        return
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    for ax in axes:
        if x.shape[ax] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {ax} to have non-zero size.")


def _argext(a, dim, keepdim, name):
    """argmax / argmin (``name``, an array method)."""
    if a.dtype is dtypes.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    check_bool(keepdim, name, "keepdim")
    x = a._data
    if dim is None:
        _check_nonempty(x, None, (), name)
        idx = getattr(x, name)().astype(np.int64)
        # keepdim without dim keeps every dim at size 1, as in PyTorch.
        return Tensor._wrap(idx.reshape((1,) * x.ndim) if keepdim else idx)
    ax = normalize_dim(dim, a.ndim, name)
    _check_nonempty(x, dim, (ax,) if a.ndim else (), name)
    return Tensor._wrap(getattr(x, name)(axis=ax, keepdims=keepdim).astype(np.int64))


def argmax(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _argext(a, dim, keepdim, "argmax")


def argmin(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _argext(a, dim, keepdim, "argmin")


def _unbiased_overload(dim, unbiased):
    """PyTorch's ``var(input, unbiased)`` overload: a bool in ``dim``'s place is ``unbiased``."""
    if isinstance(dim, bool) and unbiased is None:
        return None, dim
    return dim, unbiased


def _correction(correction, unbiased):
    if unbiased is not None:
        if correction is not None:
            raise TypeError("var/std(): pass either unbiased or correction, not both")
        return 1 if unbiased else 0
    return 1 if correction is None else correction


def var(a: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    dim, unbiased = _unbiased_overload(dim, unbiased)
    check_bool(keepdim, "var", "keepdim")
    if not a.dtype.is_floating_point and not getattr(a.dtype, "is_complex", False):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = reduction_dims(dim, a.ndim, "var")
    c = _correction(correction, unbiased)
    x = float_data(a)
    be = backend_of(x)
    n = _count(a.shape, axes)
    centered = x - x.mean(axis=axes, keepdims=True) if n else x
    denom = x.dtype.type(n - c) if n - c > 0 else x.dtype.type(0)
    with be.errstate(invalid="ignore", divide="ignore"):
        y = (centered * centered).sum(axis=axes, keepdims=keepdim) / denom
    shape = a.shape

    def backward(g):
        with be.errstate(invalid="ignore", divide="ignore"):
            return (expand_reduced(g, shape, axes, keepdim, be) * (2 / denom) * centered,)

    return record(Tensor._wrap(y), "VarBackward0", (a,), backward)


def std(a: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    dim, unbiased = _unbiased_overload(dim, unbiased)
    check_bool(keepdim, "std", "keepdim")
    if not a.dtype.is_floating_point and not getattr(a.dtype, "is_complex", False):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = reduction_dims(dim, a.ndim, "std")
    c = _correction(correction, unbiased)
    x = float_data(a)
    be = backend_of(x)
    n = _count(a.shape, axes)
    centered = x - x.mean(axis=axes, keepdims=True) if n else x
    denom = x.dtype.type(n - c) if n - c > 0 else x.dtype.type(0)
    xp = be.xp
    with be.errstate(invalid="ignore", divide="ignore"):
        y = xp.sqrt((centered * centered).sum(axis=axes, keepdims=keepdim) / denom)
    shape = a.shape

    def backward(g):
        with be.errstate(invalid="ignore", divide="ignore"):
            # Where the std is 0 the gradient is taken as 0 (not 0/0), as PyTorch's std_backward does.
            scale = expand_reduced(xp.where(y == 0, 0, g / (denom * y)).astype(g.dtype), shape, axes, keepdim, be)
            return (scale * centered,)

    return record(Tensor._wrap(y), "StdBackward0", (a,), backward)


def logsumexp(a: Tensor, dim, keepdim: bool = False) -> Tensor:
    check_bool(keepdim, "logsumexp", "keepdim")
    if dim is None:  # torch's logsumexp wants its dims named
        raise TypeError("logsumexp(): argument 'dim' (position 2) must be tuple of ints, not NoneType")
    axes = normalize_dims(dim, a.ndim, "logsumexp")
    x = float_data(a)
    be = backend_of(x)
    xp = be.xp
    m = x.max(axis=axes, keepdims=True) if x.size else xp.zeros([1] * x.ndim, x.dtype)
    m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype)  # all -inf rows stay -inf instead of NaN
    with be.errstate(all="ignore"):  # x - m overflows to -inf for x = -3.4e38 beside m = 3.4e38: exp gives 0
        y_keep = m + xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True))
    y = y_keep if keepdim else y_keep.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def backward(g):
        gk = g if keepdim else g.reshape(y_keep.shape)
        with be.errstate(all="ignore"):  # exp(x - result), as torch's LogsumexpBackward0 (and its rounding)
            return (gk * xp.exp(x - y_keep),)

    return record(Tensor._wrap(y), "LogsumexpBackward0", (a,), backward)


def all(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    check_bool(keepdim, "all", "keepdim")
    axes = normalize_dims(dim, a.ndim, "all")
    if _registry.ACTIVATES:
        on_device(a)
    return Tensor._wrap(a._data.all(axis=axes, keepdims=keepdim))


def any(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    check_bool(keepdim, "any", "keepdim")
    axes = normalize_dims(dim, a.ndim, "any")
    if _registry.ACTIVATES:
        on_device(a)
    return Tensor._wrap(a._data.any(axis=axes, keepdims=keepdim))


@amp_state.fp32_op(1)  # torch's CPU autocast list
def prod(a: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    check_bool(keepdim, "prod", "keepdim")
    axes = normalize_dims(dim, a.ndim, "prod")
    if _registry.ACTIVATES:
        on_device(a)
    if dtype is not None:  # PyTorch casts first: the product (and its gradient) is taken in dtype
        a = cast(a, dtype)
    x = a._data if a.dtype.is_floating_point else a._data.astype(np.int64)
    y = x.prod(axis=axes, keepdims=keepdim)
    if dtype is not None and a.dtype.np.kind == "b":
        y = y.astype(np.bool_)  # prod(..., dtype=bool) is a bool tensor, as in PyTorch
    shape = a.shape

    def backward(g):
        be = backend_of(x)
        xp = be.xp
        if x.size == 0:  # nothing to differentiate (and the cumprod below cannot reshape an empty axis)
            return (xp.zeros(shape, g.dtype),)
        # Product of the others, computed without dividing so zeros are handled exactly.
        out = xp.empty(shape, g.dtype)
        flat_axes = axes
        moved = xp.moveaxis(x, flat_axes, tuple(range(len(shape) - len(flat_axes), len(shape))))
        lead = moved.shape[: len(shape) - len(flat_axes)]
        m = moved.reshape(lead + (-1,))
        left = xp.concatenate([xp.ones(lead + (1,), x.dtype), m[..., :-1]], -1).cumprod(-1)
        right = xp.flip(xp.concatenate([xp.ones(lead + (1,), x.dtype), xp.flip(m, -1)[..., :-1]], -1).cumprod(-1), -1)
        others = (left * right).reshape(moved.shape)
        out[...] = xp.moveaxis(others, tuple(range(len(shape) - len(flat_axes), len(shape))), flat_axes)
        return (expand_reduced(g, shape, axes, keepdim, be) * out,)

    return record(Tensor._wrap(y), "ProdBackward0", (a,), backward)
