"""Triangles and diagonals: tril, triu, tril_indices, triu_indices, diag, diagonal, diag_embed, diagflat,
trace. Their backwards mask the gradient with the same triangle, or move it between a diagonal and a matrix."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of, get_backend
from .._tensor import Tensor
from ._util import normalize_dim
from . import shape as _shape


def _tri(input: Tensor, diagonal: int, op: str, upper: bool) -> Tensor:
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions")
    xp = backend_of(x).xp
    k = int(diagonal)
    f = xp.triu if upper else xp.tril
    return record(Tensor._wrap(f(x, k)), "TriuBackward0" if upper else "TrilBackward0", (input,),
                  lambda g: (f(g, k),))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002  (PyTorch's names)
    return _tri(input, diagonal, "tril", upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    return _tri(input, diagonal, "triu", upper=True)


def _tri_indices(row: int, col: int, offset: int, dtype, device, op: str, upper: bool) -> Tensor:
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dt = dtypes.int64 if dtype is None else dtypes.to_dtype(dtype)
    xp = get_backend(device).xp
    rows = xp.arange(row, dtype=np.int64)[:, None]
    cols = xp.arange(col, dtype=np.int64)[None, :]
    keep = (cols - rows >= offset) if upper else (cols - rows <= offset)
    r, c = xp.nonzero(keep)  # row-major order, as PyTorch lists them
    return Tensor._wrap(xp.stack([r, c]).astype(dt.np, copy=False).reshape(2, -1))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    _check_layout(layout, "tril_indices")
    return _tri_indices(row, col, offset, dtype, device, "tril_indices", upper=False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None) -> Tensor:
    _check_layout(layout, "triu_indices")
    return _tri_indices(row, col, offset, dtype, device, "triu_indices", upper=True)


def _check_layout(layout, op: str) -> None:
    if layout is not None and str(layout) not in ("strided", "torch.strided"):
        raise NotImplementedError(f"{op}(): layout={layout!r} is not supported (only strided tensors)")


# ---- diagonals -------------------------------------------------------------------------------------------
def _diag_positions(xp, n1: int, n2: int, offset: int):
    """Row and column indices of diagonal ``offset`` in an (n1, n2) matrix."""
    if offset >= 0:
        length = max(min(n1, n2 - offset), 0)
        i = xp.arange(length, dtype=np.int64)
        return i, i + offset
    length = max(min(n1 + offset, n2), 0)
    i = xp.arange(length, dtype=np.int64)
    return i - offset, i


def _diag_dims(ndim: int, dim1: int, dim2: int, op: str):
    d1 = normalize_dim(dim1, ndim, op)
    d2 = normalize_dim(dim2, ndim, op)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    x = input._data
    d1, d2 = _diag_dims(x.ndim, dim1, dim2, "diagonal")
    xp = backend_of(x).xp
    offset = int(offset)
    y = xp.diagonal(x, offset, d1, d2)
    in_shape, dt = x.shape, x.dtype

    def backward(g):
        out = xp.zeros(in_shape, g.dtype if g.dtype.kind in "fV" else dt)
        i, j = _diag_positions(xp, in_shape[d1], in_shape[d2], offset)
        xp.moveaxis(out, (d1, d2), (-2, -1))[..., i, j] = g
        return (out,)

    return record(Tensor._wrap(y), "DiagonalBackward0", (input,), backward)


_diagonal = diagonal  # diag's argument named ``diagonal`` shadows the function there


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    x = input._data
    d1, d2 = _diag_dims(x.ndim + 1, dim1, dim2, "diag_embed")
    xp = backend_of(x).xp
    offset = int(offset)
    xr = x.reshape(1) if x.ndim == 0 else x
    n = xr.shape[-1] + abs(offset)
    rest = list(xr.shape[:-1])
    out_shape = [0] * (xr.ndim + 1)
    others = iter(rest)
    for k in range(xr.ndim + 1):
        out_shape[k] = n if k in (d1, d2) else next(others)
    y = xp.zeros(tuple(out_shape), x.dtype)
    i, j = _diag_positions(xp, n, n, offset)
    xp.moveaxis(y, (d1, d2), (-2, -1))[..., i, j] = xr
    in_shape = x.shape
    return record(Tensor._wrap(y), "DiagEmbedBackward0", (input,),
                  lambda g: (xp.diagonal(g, offset, d1, d2).reshape(in_shape),))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        d = _diagonal(input, diagonal, 0, 1)
        # diag of a matrix is a copy in PyTorch (diagonal is the view).
        return record(Tensor._wrap(d._data.copy()), "CloneBackward0", (d,), lambda g: (g,))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:  # noqa: A002
    return diag_embed(_shape.reshape(input, -1), offset, 0, 1)


def trace(input: Tensor) -> Tensor:  # noqa: A002
    x = input._data
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim}")
    if x.dtype == np.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    xp = backend_of(x).xp
    y = xp.trace(x)
    in_shape = x.shape

    def backward(g):
        return (xp.eye(in_shape[0], in_shape[1], dtype=g.dtype) * g,)

    return record(Tensor._wrap(xp.asarray(y, dtype=x.dtype)), "TraceBackward0", (input,), backward)
