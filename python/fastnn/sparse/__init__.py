"""Sparse COO tensors (``torch.sparse_coo_tensor``, ``Tensor.to_sparse``) and ``fastnn.sparse.mm`` / ``spmm``.

A ``SparseTensor`` is a small class of its own, not a ``Tensor``: an int64 index array (sparse_dim, nnz),
a values ``Tensor`` (nnz, *dense_dims) and a size. It is what graph networks need: an adjacency matrix
built from edge lists, multiplied into dense features (``sparse.mm(adj, x)``), differentiable in the
features and in the values (a ``requires_grad`` sparse tensor's ``.grad`` is sparse, with its indices, as
in torch). The math lives in ``ops/sparse.py``."""
from __future__ import annotations

from .. import dtypes
from .._device import device as _device
from .._tensor import Size, Tensor
from ..backend import backend_of
from ..ops import sparse as _ops

__all__ = ["SparseTensor", "mm", "sparse_coo_tensor", "spmm", "sum"]


class _Layout:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"fastnn.{self.name}"


sparse_coo = _Layout("sparse_coo")
strided = _Layout("strided")


class SparseTensor:
    """A COO sparse tensor. ``indices()``/``values()`` need it coalesced (as torch); ``_indices()`` /
    ``_values()`` give the raw arrays as stored."""

    is_sparse = True
    layout = sparse_coo

    def __init__(self, indices, values: Tensor, size, coalesced: bool = False) -> None:
        self._idx = indices  # an int64 backend array (sparse_dim, nnz)
        self._vals = values
        self._size = Size(int(s) for s in size)
        self._coalesced = coalesced

    # ---- attributes --------------------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return self._size

    def size(self, dim: int | None = None):
        return self._size if dim is None else self._size[dim]

    def dim(self) -> int:
        return len(self._size)

    ndim = property(dim)

    def sparse_dim(self) -> int:
        return int(self._idx.shape[0])

    def dense_dim(self) -> int:
        return self._vals.ndim - 1

    def _nnz(self) -> int:
        return int(self._idx.shape[1])

    @property
    def dtype(self) -> dtypes.dtype:
        return self._vals.dtype

    @property
    def device(self) -> _device:
        return self._vals.device

    @property
    def requires_grad(self) -> bool:
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad: bool = True) -> "SparseTensor":
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        """The gradient of a leaf sparse tensor: sparse, at this tensor's indices (as in torch)."""
        g = self._vals.grad
        return None if g is None else SparseTensor(self._idx, g, self._size, self._coalesced)

    @property
    def grad_fn(self):
        return self._vals.grad_fn

    def is_coalesced(self) -> bool:
        return self._coalesced

    def numel(self) -> int:
        return self._size.numel()

    # ---- contents ------------------------------------------------------------------------------------------
    def _indices(self) -> Tensor:
        return Tensor._wrap(self._idx)

    def _values(self) -> Tensor:
        return self._vals

    def indices(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return Tensor._wrap(self._idx)

    def values(self) -> Tensor:
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._vals

    def coalesce(self) -> "SparseTensor":
        if self._coalesced:
            return self
        idx, vals = _ops.coalesce(self._idx, self._vals, self._size)
        return SparseTensor(idx, vals, self._size, True)

    def to_dense(self) -> Tensor:
        return _ops.scatter_to_dense(self._idx, self._vals, self._size)

    def to_sparse(self) -> "SparseTensor":
        return self

    def detach(self) -> "SparseTensor":
        return SparseTensor(self._idx, self._vals.detach(), self._size, self._coalesced)

    def t(self) -> "SparseTensor":
        if self.sparse_dim() != 2 or self.dense_dim() != 0:
            raise RuntimeError(f"t() expects a 2-D sparse matrix, got size {tuple(self._size)}")
        return SparseTensor(self._idx[::-1].copy(), self._vals, (self._size[1], self._size[0]), False)

    def to(self, *args, **kwargs) -> "SparseTensor":
        vals = self._vals.to(*args, **kwargs)
        be = backend_of(vals._data)
        idx = self._idx if backend_of(self._idx) is be else be.from_host(backend_of(self._idx).to_host(self._idx))
        return SparseTensor(idx, vals, self._size, self._coalesced)

    def float(self) -> "SparseTensor":
        return self.to(dtypes.float32)

    def double(self) -> "SparseTensor":
        return self.to(dtypes.float64)

    def mm(self, mat2: Tensor) -> Tensor:
        return mm(self, mat2)

    def __matmul__(self, other: Tensor) -> Tensor:
        return mm(self, other)

    def __repr__(self) -> str:
        ind = repr(Tensor._wrap(self._idx)).replace("\n", "\n" + " " * 15)
        val = repr(self._vals.detach()).replace("\n", "\n" + " " * 7)
        extra = ""
        if self._vals.grad_fn is not None:
            extra = f",\n       grad_fn=<{self._vals.grad_fn.name}>"
        elif self._vals.requires_grad:
            extra = ",\n       requires_grad=True"
        return (f"tensor(indices={ind},\n       values={val},\n       size={tuple(self._size)}, nnz={self._nnz()}, "
                f"layout=fastnn.sparse_coo{extra})")


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, requires_grad: bool = False,
                      check_invariants=None, is_coalesced=None) -> SparseTensor:
    """``torch.sparse_coo_tensor``: ``indices`` (sparse_dim, nnz) integers, ``values`` (nnz, *dense_dims);
    ``size`` inferred as each index's max + 1 when not given."""
    from ..creation import tensor

    if isinstance(values, Tensor):  # kept in the graph: the sparse tensor is differentiable in its values
        vals = values if dtype is None and device is None else values.to(dtype=dtype, device=device)
    else:
        vals = tensor(values, dtype=dtype, device=device)
    ind = indices._data if isinstance(indices, Tensor) else tensor(indices, dtype=dtypes.int64)._data
    be = backend_of(vals._data)
    if backend_of(ind) is not be:
        ind = be.from_host(backend_of(ind).to_host(ind))
    if ind.dtype.kind not in "iu":
        raise RuntimeError(f"sparse_coo_tensor: indices must be an int64 tensor, got {ind.dtype}")
    ind = ind.astype("int64", copy=False)
    if ind.ndim == 1 and ind.shape[0] == 0:
        ind = ind.reshape(1, 0)
    if ind.ndim != 2:
        raise RuntimeError(f"sparse_coo_tensor: indices must be sparse_dim x nnz, but got: {tuple(ind.shape)}")
    if vals.ndim == 0 or vals.shape[0] != ind.shape[1]:
        raise RuntimeError(f"sparse_coo_tensor: number of indices ({ind.shape[1]}) and values "
                           f"({vals.shape[0] if vals.ndim else 'a 0-d tensor'}) must match")
    sparse_dim, nnz = ind.shape
    if nnz and int(ind.min()) < 0:
        raise RuntimeError("sparse_coo_tensor: found negative index")
    if size is None:
        size = tuple(int(m) + 1 for m in ind.max(axis=1)) if nnz else (0,) * sparse_dim
        size = size + tuple(vals.shape[1:])
    else:
        size = tuple(int(s) for s in size)
        if len(size) != sparse_dim + vals.ndim - 1:
            raise RuntimeError(f"sparse_coo_tensor: number of dimensions must be sparse_dim ({sparse_dim}) + "
                               f"dense_dim ({vals.ndim - 1}), but got {len(size)}")
        if tuple(vals.shape[1:]) != size[sparse_dim:]:
            raise RuntimeError(f"sparse_coo_tensor: values have dense shape {tuple(vals.shape[1:])} but size "
                               f"asks for {size[sparse_dim:]}")
        if nnz:
            top = [int(m) for m in ind.max(axis=1)]
            for d, (m, s) in enumerate(zip(top, size)):
                if m >= s:
                    raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {s} but found "
                                       f"index {m}")
    if requires_grad:
        if vals.grad_fn is not None:
            raise RuntimeError("sparse_coo_tensor: requires_grad=True needs leaf values")
        vals = Tensor._wrap(vals._data).requires_grad_(True)  # a leaf of its own, whose .grad is ours
    return SparseTensor(ind, vals, size, bool(is_coalesced) or nnz <= 1)


def from_dense(t: Tensor, sparse_dim: int | None = None) -> SparseTensor:
    """``t.to_sparse()``: the nonzero entries (of the first ``sparse_dim`` dims, all by default), coalesced;
    differentiable in ``t`` (the values are gathered from it)."""
    from ..ops.indexing import getitem

    sd = t.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 < sd <= t.ndim:
        raise RuntimeError(f"to_sparse: sparse_dim {sd} must be in [1, {t.ndim}] for a {t.ndim}-D tensor")
    xp = backend_of(t._data).xp
    mask = t._data != 0
    if sd < t.ndim:
        mask = mask.any(axis=tuple(range(sd, t.ndim)))
    ind = xp.stack(xp.nonzero(mask)).astype("int64") if t.ndim else xp.zeros((0, 1), "int64")
    vals = getitem(t, tuple(Tensor._wrap(i) for i in ind))
    return SparseTensor(ind, vals, t.shape, True)


def mm(mat1, mat2: Tensor) -> Tensor:
    """``torch.sparse.mm(sparse, dense)``: a dense result, differentiable in the values and the dense matrix.
    A dense first operand is multiplied densely, as torch allows."""
    if isinstance(mat1, SparseTensor):
        if isinstance(mat2, SparseTensor):
            raise NotImplementedError("sparse.mm: sparse @ sparse is not supported; convert one with .to_dense()")
        return _ops.sparse_dense_mm(mat1._idx, mat1._vals, mat1._size, mat2)
    from ..ops.linalg import mm as dense_mm

    return dense_mm(mat1, mat2.to_dense() if isinstance(mat2, SparseTensor) else mat2)


def spmm(mat1, mat2: Tensor) -> Tensor:
    """``torch.spmm``: sparse (m, k) @ dense (k, n)."""
    return mm(mat1, mat2)


def sum(input, dim=None):  # noqa: A001  (torch.sparse.sum)
    """``torch.sparse.sum``: over every dim (a 0-d dense tensor) or over ``dim`` (densified first)."""
    dense = input.to_dense() if isinstance(input, SparseTensor) else input
    return dense.sum() if dim is None else dense.sum(dim)


