"""Tensor methods: shape and indexing: flip ... scatter, searchsorted.

Declared on a plain class with PyTorch's signatures, each delegating to its op; ``tensor_methods.attach``
copies them onto ``Tensor`` when ``_tensor`` has finished importing, so they live in ``Tensor.__dict__``
exactly as if written there (no lookup through a base class)."""
from __future__ import annotations

from ..ops import reshaping as _reshaping
from ..ops import scatter_gather as _scatter_gather
from ..ops import searching as _searching
from ..ops import shape as _shape
from ..ops import splitting as _splitting
from ..ops import triangular as _triangular
from .._tensor import Tensor


class ShapeIndexingMethods:
    def flip(self, *dims) -> "Tensor":
        return _reshaping.flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def fliplr(self) -> "Tensor":
        return _reshaping.fliplr(self)

    def flipud(self) -> "Tensor":
        return _reshaping.flipud(self)

    def roll(self, shifts, dims=None) -> "Tensor":
        return _reshaping.roll(self, shifts, dims)

    def rot90(self, k: int = 1, dims=(0, 1)) -> "Tensor":
        return _reshaping.rot90(self, k, dims)

    def repeat(self, *sizes) -> "Tensor":
        return _reshaping.repeat(self, *sizes)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None) -> "Tensor":
        return _reshaping.repeat_interleave(self, repeats, dim, output_size=output_size)

    def tile(self, *dims) -> "Tensor":
        return _reshaping.tile(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def broadcast_to(self, size) -> "Tensor":
        return _reshaping.broadcast_to(self, size)

    def movedim(self, source, destination) -> "Tensor":
        return _reshaping.movedim(self, source, destination)

    def moveaxis(self, source, destination) -> "Tensor":
        return _reshaping.movedim(self, source, destination)

    def swapaxes(self, axis0: int, axis1: int) -> "Tensor":
        return _shape.transpose(self, axis0, axis1)

    def swapdims(self, dim0: int, dim1: int) -> "Tensor":
        return _shape.transpose(self, dim0, dim1)

    def ravel(self) -> "Tensor":
        return _reshaping.ravel(self)

    def unfold(self, dimension: int, size: int, step: int) -> "Tensor":
        return _reshaping.unfold(self, dimension, size, step)

    def narrow_copy(self, dim: int, start: int, length: int) -> "Tensor":
        return _reshaping.narrow_copy(self, dim, start, length)

    def select(self, dim: int, index: int) -> "Tensor":
        return _reshaping.select(self, dim, index)

    def take(self, index) -> "Tensor":
        return _reshaping.take(self, index)

    def tril(self, diagonal: int = 0) -> "Tensor":
        return _triangular.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> "Tensor":
        return _triangular.triu(self, diagonal)

    def tril_(self, diagonal: int = 0) -> "Tensor":
        return _scatter_gather.inplace(self, "tril_", _triangular.tril(self, diagonal))

    def triu_(self, diagonal: int = 0) -> "Tensor":
        return _scatter_gather.inplace(self, "triu_", _triangular.triu(self, diagonal))

    def diag(self, diagonal: int = 0) -> "Tensor":
        return _triangular.diag(self, diagonal)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> "Tensor":
        return _triangular.diag_embed(self, offset, dim1, dim2)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> "Tensor":
        return _triangular.diagonal(self, offset, dim1, dim2)

    def diagflat(self, offset: int = 0) -> "Tensor":
        return _triangular.diagflat(self, offset)

    def trace(self) -> "Tensor":
        return _triangular.trace(self)

    def gather(self, dim: int, index, *, sparse_grad: bool = False) -> "Tensor":
        return _scatter_gather.gather(self, dim, index, sparse_grad=sparse_grad)

    def take_along_dim(self, indices, dim=None) -> "Tensor":
        return _scatter_gather.take_along_dim(self, indices, dim)

    def scatter(self, dim: int, index, src=None, *, value=None, reduce=None) -> "Tensor":
        return _scatter_gather.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(self, dim: int, index, src=None, *, value=None, reduce=None) -> "Tensor":
        return _scatter_gather.inplace(self, "scatter_", _scatter_gather.scatter(self, dim, index, src, value=value,
                                                                                  reduce=reduce), src)

    def scatter_add(self, dim: int, index, src) -> "Tensor":
        return _scatter_gather.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: int, index, src) -> "Tensor":
        return _scatter_gather.inplace(self, "scatter_add_", _scatter_gather.scatter_add(self, dim, index, src), src)

    def scatter_reduce(self, dim: int, index, src, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.inplace(self, "scatter_reduce_", _scatter_gather.scatter_reduce(
            self, dim, index, src, reduce, include_self=include_self), src)

    def index_add(self, dim: int, index, source, *, alpha=1) -> "Tensor":
        return _scatter_gather.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim: int, index, source, *, alpha=1) -> "Tensor":
        return _scatter_gather.inplace(self, "index_add_", _scatter_gather.index_add(self, dim, index, source,
                                                                                      alpha=alpha), source)

    def index_copy(self, dim: int, index, source) -> "Tensor":
        return _scatter_gather.index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index, source) -> "Tensor":
        return _scatter_gather.inplace(self, "index_copy_", _scatter_gather.index_copy(self, dim, index, source),
                                       source)

    def index_fill(self, dim: int, index, value) -> "Tensor":
        return _scatter_gather.index_fill(self, dim, index, value)

    def index_fill_(self, dim: int, index, value) -> "Tensor":
        return _scatter_gather.inplace(self, "index_fill_", _scatter_gather.index_fill(self, dim, index, value),
                                       value)

    def index_put(self, indices, values, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.inplace(self, "index_put_", _scatter_gather.index_put(self, indices, values,
                                                                                      accumulate), values)

    def masked_select(self, mask) -> "Tensor":
        return _scatter_gather.masked_select(self, mask)

    def masked_scatter(self, mask, source) -> "Tensor":
        return _scatter_gather.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask, source) -> "Tensor":
        return _scatter_gather.inplace(self, "masked_scatter_", _scatter_gather.masked_scatter(self, mask, source),
                                       source)

    def tensor_split(self, indices_or_sections, dim: int = 0):
        return _splitting.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, indices_or_sections):
        return _splitting.hsplit(self, indices_or_sections)

    def vsplit(self, indices_or_sections):
        return _splitting.vsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections):
        return _splitting.dsplit(self, indices_or_sections)

    def split_with_sizes(self, split_sizes, dim: int = 0):
        return _splitting.split_with_sizes(self, split_sizes, dim)

    def unsafe_split(self, split_size, dim: int = 0):
        return _splitting.unsafe_split(self, split_size, dim)

    def unsafe_chunk(self, chunks: int, dim: int = 0):
        return _splitting.unsafe_chunk(self, chunks, dim)

    def select_scatter(self, src, dim: int, index: int) -> "Tensor":
        return _splitting.select_scatter(self, src, dim, index)

    def slice_scatter(self, src, dim: int = 0, start=None, end=None, step: int = 1) -> "Tensor":
        return _splitting.slice_scatter(self, src, dim, start, end, step)

    def diagonal_scatter(self, src, offset: int = 0, dim1: int = 0, dim2: int = 1) -> "Tensor":
        return _splitting.diagonal_scatter(self, src, offset, dim1, dim2)

    def index_reduce(self, dim: int, index, source, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.index_reduce(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim: int, index, source, reduce: str, *, include_self: bool = True) -> "Tensor":
        return _scatter_gather.inplace(self, "index_reduce_", _scatter_gather.index_reduce(
            self, dim, index, source, reduce, include_self=include_self), source)

    def put(self, index, source, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.put(self, index, source, accumulate)

    def put_(self, index, source, accumulate: bool = False) -> "Tensor":
        return _scatter_gather.inplace(self, "put_", _scatter_gather.put(self, index, source, accumulate), source)

    def nonzero_static(self, *, size: int, fill_value: int = -1) -> "Tensor":
        return _searching.nonzero_static(self, size=size, fill_value=fill_value)

    def sum_to_size(self, *size) -> "Tensor":
        return _reshaping.sum_to_size(self, *size)

    def reshape_as(self, other) -> "Tensor":
        return _shape.reshape(self, other.shape)

    @property
    def mH(self) -> "Tensor":  # noqa: N802  (PyTorch's names)
        return _reshaping.mH(self)

    @property
    def H(self) -> "Tensor":  # noqa: N802
        return _reshaping.H(self)

    def adjoint(self) -> "Tensor":
        return _reshaping.adjoint(self)

    def nonzero(self, *, as_tuple: bool = False):
        return _searching.nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> "Tensor":
        return _searching.argwhere(self)
