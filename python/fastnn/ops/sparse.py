"""The COO sparse ops (fastnn.sparse's tensors hold an int64 index array (sparse_dim, nnz) and a values
Tensor (nnz, *dense_dims)): scatter to dense, coalescing, and sparse @ dense. Each is differentiable in the
values and, for the product, in the dense operand; the indices are data, never differentiated.

The scatters to dense and the coalescing are segment sums with ``xp.add.at`` (repeated indices accumulate);
the product runs on the backend's ``spmm`` / ``sddmm`` kernels."""
from __future__ import annotations

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor


def scatter_to_dense(indices, values: Tensor, shape) -> Tensor:
    """The dense tensor of ``shape`` with ``values[k]`` added at ``indices[:, k]`` (duplicates summed)."""
    be = backend_of(indices, values._data)
    xp = be.xp
    v = values._data
    out = xp.zeros(tuple(shape), v.dtype)
    pos = tuple(indices)
    xp.add.at(out, pos, v)

    def backward(g):
        return (g[pos],)

    return record(Tensor._wrap(out), "ToDenseBackward0", (values,), backward)


def coalesce(indices, values: Tensor, shape):
    """(indices, values) with each position once, sorted row-major, duplicates summed."""
    be = backend_of(indices, values._data)
    xp = be.xp
    sparse_shape = tuple(shape[:indices.shape[0]])
    if indices.shape[1] == 0:
        return indices, values
    linear = xp.ravel_multi_index(tuple(indices), sparse_shape) if sparse_shape else xp.zeros(indices.shape[1], "int64")
    uniq, inverse = xp.unique(linear, return_inverse=True)
    inverse = inverse.reshape(-1)
    v = values._data
    out = xp.zeros((uniq.shape[0],) + v.shape[1:], v.dtype)
    xp.add.at(out, inverse, v)
    new_indices = xp.stack(xp.unravel_index(uniq, sparse_shape)).astype("int64") if sparse_shape else \
        xp.zeros((0, uniq.shape[0]), "int64")

    def backward(g):
        return (g[inverse],)

    return new_indices, record(Tensor._wrap(out), "CoalesceBackward0", (values,), backward)


def sparse_dense_mm(indices, values: Tensor, shape, dense: Tensor) -> Tensor:
    """(m, k) sparse times (k, n) dense: ``out[i] = sum over entries (i, j, v) of v * dense[j]``, on the
    backend's ``spmm`` kernel (entries in any order, duplicates adding: no coalescing first). The backward
    is the same kernel on the transposed entries for the dense operand, and ``sddmm`` (one dot product per
    entry) for the values."""
    if len(shape) != 2 or indices.shape[0] != 2 or values.ndim != 1:
        raise RuntimeError(f"sparse.mm: expected a 2-D sparse matrix with scalar values, got size {tuple(shape)} "
                           f"with {indices.shape[0]} sparse dims")
    if dense.ndim != 2:
        raise RuntimeError(f"sparse.mm: expected a 2-D dense matrix, got {dense.ndim}-D")
    m, k = shape
    if dense.shape[0] != k:  # torch's words (its sparse mm is an addmm)
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {k}, got {dense.shape[0]}")
    if values.dtype is not dense.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(values.dtype)} but found {_scalar_name(dense.dtype)}")
    be = backend_of(indices, values._data, dense._data)
    rows, cols = indices[0], indices[1]
    v, d = values._data, dense._data
    out = be.spmm(rows, cols, v, d, m)

    def backward(g):
        gv = be.sddmm(rows, cols, g, d) if values._requires_grad else None
        gd = be.spmm(cols, rows, v, g, k) if dense._requires_grad else None
        return gv, gd

    return record(Tensor._wrap(out), "SparseAddmmBackward0", (values, dense), backward)


def _scalar_name(dt) -> str:
    """torch's ScalarType name of a dtype (Float, Double, Long, ...), as its dtype-mismatch errors print."""
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
    name = str(dt).rsplit(".", 1)[-1]
    return names.get(name, name)
