"""getitem with basic and advanced indices; its backward scatters the gradient back (adding repeats)."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import normalize_dim
from .elementwise import where

# Index parts that select a view (basic indexing); anything else is an array of indices or a mask. Python
# ints come first: isinstance tries the tuple in order.
_BASIC = (int, slice, type(None), type(Ellipsis), np.generic)


def convert_index(index, arr=None):
    """Turns Tensors inside an index into arrays; lists of ints/bools become arrays as in PyTorch, on the
    backend of ``arr`` (the indexed array; the CPU's when not given)."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(convert_index(i, arr) for i in index)
    if isinstance(index, list):
        return backend_of(arr).xp.asarray([i._data if isinstance(i, Tensor) else i for i in index])
    return index


def _is_advanced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return not all(isinstance(p, _BASIC) for p in parts)


def getitem(a: Tensor, index) -> Tensor:
    x = a._data
    idx = convert_index(index, x)
    try:
        y = x[idx]
        if type(y) is not type(x):
            # NumPy copies one element out as a scalar; an Ellipsis keeps it a 0-d view that writes through,
            # as PyTorch's t[i, j] does.
            y = x[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
    except IndexError as e:
        raise IndexError(f"index {index!r} is out of bounds for a tensor of shape {tuple(x.shape)}: {e}") from None
    in_shape = x.shape

    def backward(g):
        # The forward is plain indexing (any backend); only the scatter asks for the array module.
        xp = backend_of(g).xp
        out = xp.zeros(in_shape, g.dtype)
        if _is_advanced(idx):
            xp.add.at(out, idx, g)  # repeated indices accumulate
        else:
            out[idx] = g
        return (out,)

    out = Tensor._wrap(y)
    yb = y.base
    if yb is not None and (yb is x or yb is x.base):  # basic indexing made a view: a's storage and version
        out._base = root = a if a._base is None else a._base
        out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "IndexBackward0", (a,), backward)


def index_select(a: Tensor, dim: int, index: Tensor) -> Tensor:
    ax = normalize_dim(dim, a.ndim, "index_select")
    return getitem(a, (slice(None),) * ax + (index,))


def masked_fill(a: Tensor, mask, value) -> Tensor:
    return where(mask, value, a)  # where takes a Tensor mask as is and converts any other
