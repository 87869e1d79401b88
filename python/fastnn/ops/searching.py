"""Finding positions: nonzero, argwhere, one-argument where, searchsorted, bucketize, isin. None of them is
differentiable (their results are indices or masks), so none records a node."""
from __future__ import annotations

import math

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, is_scalar
from . import elementwise as _elementwise


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def nonzero(input: Tensor, *, out=None, as_tuple: bool = False):  # noqa: A002  (PyTorch's names)
    if out is not None:
        raise NotImplementedError("nonzero(): out= is not supported; use the returned tensor")
    x = input._data
    xp = backend_of(x).xp
    if as_tuple:
        # A 0-d input is treated as 1-d (PyTorch's rule): one index tensor of 0 or 1 entries.
        return tuple(Tensor._wrap(i.astype(np.int64, copy=False)) for i in xp.nonzero(x.reshape(-1) if x.ndim == 0
                                                                                          else x))
    if x.ndim == 0:
        return Tensor._wrap(xp.zeros((1 if bool(x) else 0, 0), np.int64))
    idx = xp.nonzero(x)
    return Tensor._wrap(xp.stack(idx, axis=1).astype(np.int64, copy=False))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    return nonzero(input)


def where(condition, input=None, other=None):  # noqa: A002
    """where(condition) is nonzero(condition, as_tuple=True); with three arguments the elementwise select."""
    if input is None and other is None:
        return nonzero(as_tensor(condition, "where"), as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): expected either 1 argument (condition) or 3 (condition, input, other)")
    return _elementwise.where(condition, input, other)


def _values_arg(values, op: str):
    if isinstance(values, Tensor):
        return values, False
    if is_scalar(values):
        return as_tensor(values, op), True
    return as_tensor(values, op), False


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,  # noqa: A002
                 side: str | None = None, out=None, sorter=None) -> Tensor:
    op = "torch.searchsorted()"
    if out is not None:
        raise NotImplementedError("searchsorted(): out= is not supported; use the returned tensor")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"{op}: side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError(f"{op}: side and right can't be set to opposites, got side of left while right was "
                               "True")
        right = side == "right"
    seq = as_tensor(sorted_sequence, "searchsorted")
    vals, scalar = _values_arg(input, "searchsorted")
    s, v = seq._data, vals._data
    if s.ndim == 0:
        raise RuntimeError(f"{op}: boundaries tensor should have positive dimension, but got 0 dimension")
    if scalar and s.ndim != 1:
        raise RuntimeError(f"{op}: input value can be a scalar only when boundaries tensor dimension is 1, but we got "
                           f"boundaries tensor dim({s.ndim}) and input value's dim(0) numel(1)")
    if s.ndim > 1 and (v.ndim != s.ndim or s.shape[:-1] != v.shape[:-1]):
        raise RuntimeError(f"{op}: boundaries tensor should be 1 dimension or the first N-1 dimensions of boundaries "
                           f"tensor and input value tensor must match, but we got boundaries tensor "
                           f"{_shape_str(s.shape)} and input value tensor {_shape_str(v.shape)}")
    xp = backend_of(s, v).xp
    if sorter is not None:
        sorter = as_tensor(sorter, "searchsorted")
        so = sorter._data
        if so.shape != s.shape:
            raise RuntimeError(f"{op}: boundary and sorter must have the same size, but got boundary tensor "
                               f"{_shape_str(s.shape)}and got sorter tensor {_shape_str(so.shape)}")
        if so.dtype.kind not in "iu":
            raise RuntimeError(f"{op}: sorter must be a tensor of long dtype but got {sorter.dtype.name}")
        if so.size and (int(so.min()) < 0 or int(so.max()) >= s.shape[-1]):
            raise RuntimeError(f"{op}: sorter index out of range")
        s = xp.take_along_axis(s, so, axis=-1)
    side_name = "right" if right else "left"
    # Compare in the common dtype (an int sequence searched with float values compares as floats).
    common = xp.result_type(s.dtype, v.dtype)
    s, v = s.astype(common, copy=False), v.astype(common, copy=False)
    if s.ndim == 1:
        y = xp.searchsorted(s, v, side=side_name)
    else:
        lead = math.prod(s.shape[:-1])  # explicit: -1 cannot be inferred when a size is 0
        rows_s = s.reshape(lead, s.shape[-1])
        rows_v = v.reshape(lead, v.shape[-1])
        y = xp.empty(rows_v.shape, np.int64)
        for r in range(rows_s.shape[0]):  # one binary search per leading index (NumPy's is 1-D only)
            y[r] = xp.searchsorted(rows_s[r], rows_v[r], side=side_name)
        y = y.reshape(v.shape)
    return Tensor._wrap(xp.asarray(y, dtype=np.int32 if out_int32 else np.int64).reshape(v.shape))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False, out=None):  # noqa: A002
    boundaries = as_tensor(boundaries, "bucketize")
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    # bucketize's right=False puts x in bucket i when boundaries[i-1] < x <= boundaries[i]: searchsorted's left.
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): expected at least one of 'elements' and 'test_elements' to be a Tensor")
    e = as_tensor(elements, "isin")._data
    t = as_tensor(test_elements, "isin")._data
    xp = backend_of(e, t).xp
    return Tensor._wrap(xp.asarray(xp.isin(e, t, assume_unique=assume_unique, invert=invert)))


def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:  # noqa: A002
    """nonzero padded with ``fill_value`` rows (or cut) to exactly ``size`` rows."""
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    found = nonzero(input)._data
    xp = backend_of(found).xp
    out = xp.full((int(size), found.shape[1]), fill_value, np.int64)
    k = min(int(size), found.shape[0])
    out[:k] = found[:k]
    return Tensor._wrap(out)


def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` in ``shape``, as PyTorch computes them (floor division and
    modulo from the last dim: no range check, so an index past the end wraps)."""
    if isinstance(indices, Tensor) and (indices.dtype.is_floating_point or indices.dtype.name == "bool"):
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    idx = as_tensor(indices, "unravel_index")._data
    dims = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if any(s < 0 for s in dims):
        raise ValueError(f"'shape' cannot have negative values, but got {dims}")
    xp = backend_of(idx).xp
    coords = []
    rest = idx.astype(np.int64, copy=True)
    for s in reversed(dims):
        coords.append(rest % s if s else xp.zeros_like(rest))
        rest = rest // s if s else rest
    return tuple(Tensor._wrap(c) for c in reversed(coords))
