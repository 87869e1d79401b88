"""getitem with basic and advanced indices; its backward scatters the gradient back (adding repeats)."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from .._tensor import Tensor


def convert_index(index):
    """Turns Tensors inside an index into arrays; lists of ints/bools become arrays as in PyTorch."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(convert_index(i) for i in index)
    if isinstance(index, list):
        return np.asarray([i._data if isinstance(i, Tensor) else i for i in index])
    return index


def _is_advanced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) for p in parts)


def getitem(a: Tensor, index) -> Tensor:
    idx = convert_index(index)
    x = a._data
    try:
        y = x[idx]
        if isinstance(y, np.generic):
            # NumPy copies one element out as a scalar; an Ellipsis keeps it a 0-d view that writes through,
            # as PyTorch's t[i, j] does.
            y = x[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
    except IndexError as e:
        raise IndexError(f"index {index!r} is out of bounds for a tensor of shape {tuple(x.shape)}: {e}") from None
    advanced = _is_advanced(idx)
    in_shape = x.shape

    def backward(g):
        out = np.zeros(in_shape, g.dtype)
        if advanced:
            np.add.at(out, idx, g)  # repeated indices accumulate
        else:
            out[idx] = g
        return (out,)

    return record(Tensor._wrap(y), "IndexBackward0", (a,), backward)


def index_select(a: Tensor, dim: int, index: Tensor) -> Tensor:
    from ._util import normalize_dim

    ax = normalize_dim(dim, a.ndim, "index_select")
    return getitem(a, (slice(None),) * ax + (index,))


def masked_fill(a: Tensor, mask, value) -> Tensor:
    from .elementwise import where

    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    return where(Tensor._wrap(m), value, a)
