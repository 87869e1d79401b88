"""Reductions built on reduction.py's: nansum, nanmean, count_nonzero, var_mean, std_mean, aminmax."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, expand_reduced, normalize_dim, normalize_dims, reduction_dims
from .reduction import amax, amin, mean, std, var
from .arithmetic import div

MinMax = namedtuple("aminmax", ["min", "max"])


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The sum treating NaN as 0; no gradient reaches the NaNs."""
    a = as_tensor(input, "nansum")
    axes = reduction_dims(dim, a.ndim, "nansum")
    x = a._data
    if dtype is not None:
        x = x.astype(dtypes.to_dtype(dtype).np)
    elif x.dtype.kind in "bi":
        x = x.astype(dtypes.int64.np)
    xp = backend_of(x).xp
    keep = ~xp.isnan(x) if x.dtype.kind in "fV" else None
    y = (xp.where(keep, x, 0) if keep is not None else x).sum(axis=axes, keepdims=keepdim)
    shape, src = x.shape, a._data.dtype

    def backward(g):
        full = expand_reduced(g, shape, axes, keepdim)
        return (xp.where(keep, full, 0).astype(src, copy=False),)

    return record(Tensor._wrap(y), "NansumBackward0", (a,), backward)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """The mean of the non-NaN elements (NaN where there are none)."""
    a = as_tensor(input, "nanmean")
    if not a.dtype.is_floating_point:
        names = {"int64": "Long", "bool": "Bool"}
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{names[a.dtype.name]}")
    axes = reduction_dims(dim, a.ndim, "nanmean")
    xp = backend_of(a._data).xp
    count = Tensor._wrap((~xp.isnan(a._data)).sum(axis=axes, keepdims=keepdim).astype(a._data.dtype))
    return div(nansum(a, dim, keepdim, dtype=dtype), count)


def count_nonzero(input, dim=None) -> Tensor:  # noqa: A002
    a = as_tensor(input, "count_nonzero")
    axes = normalize_dims(dim, a.ndim, "count_nonzero")
    backend_of(a._data)  # (several CUDA devices: a's device becomes the current one)
    return Tensor._wrap((a._data != 0).sum(axis=axes).astype(dtypes.int64.np))


def _var_args(dim, unbiased, keepdim, correction):
    """torch's three overloads: var_mean(x, unbiased: bool), var_mean(x, dim, unbiased, keepdim) and
    var_mean(x, dim, *, correction, keepdim)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return dict(dim=dim, unbiased=unbiased, keepdim=keepdim, correction=correction)


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):  # noqa: A002
    """(var, mean) over ``dim`` (torch.var_mean); both differentiable."""
    a = as_tensor(input, "var_mean")
    if not a.dtype.is_floating_point:
        raise RuntimeError("var_mean only support floating point and complex dtypes")
    v = var(a, **_var_args(dim, unbiased, keepdim, correction))
    return v, mean(a, None if isinstance(dim, bool) else dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):  # noqa: A002
    """(std, mean) over ``dim`` (torch.std_mean); both differentiable."""
    a = as_tensor(input, "std_mean")
    if not a.dtype.is_floating_point:
        raise RuntimeError("std_mean only support floating point and complex dtypes")
    s = std(a, **_var_args(dim, unbiased, keepdim, correction))
    return s, mean(a, None if isinstance(dim, bool) else dim, keepdim)


def aminmax(input, *, dim=None, keepdim: bool = False):  # noqa: A002
    """(min, max) over ``dim`` (all elements when None), as torch.aminmax."""
    a = as_tensor(input, "aminmax")
    if dim is not None and a.ndim and a.shape[dim] == 0:
        d = normalize_dim(dim, a.ndim, "aminmax")
        raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
    if a._data.size == 0 and (dim is None or a.ndim == 0 or a.shape[dim] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    d = () if dim is None else dim
    return MinMax(amin(a, d, keepdim), amax(a, d, keepdim))
