"""embedding: rows of a weight matrix picked by integer indices; the backward scatters the output gradient
back into those rows (repeats add up).

The scatter is the sparse product kernel (``be.spmm``: selection matrix @ gradient rows, a counting sort
by row and then one pass; 4096 indices x 256 dims into 10000 rows, ~1/3 repeats, on a busy 2-core machine:
11.4 ms all through np.add.at, 3.4 ms with only the repeats through add.at, 27 ms for a sort +
np.add.reduceat variant)."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor


def _normalize_padding_idx(padding_idx, num_embeddings: int):
    """torch's rule: a negative padding_idx counts from the end; out of range is an AssertionError."""
    if padding_idx is None:
        return None
    if not isinstance(padding_idx, (numbers.Integral, np.integer)) or isinstance(padding_idx, bool):
        raise TypeError(f"embedding(): argument 'padding_idx' must be int, not {type(padding_idx).__name__}")
    padding_idx = int(padding_idx)
    if (padding_idx > 0 and padding_idx >= num_embeddings) or (padding_idx < 0 and padding_idx < -num_embeddings):
        raise AssertionError("Padding_idx must be within num_embeddings")  # torch's asserts (0 always passes)
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def _indices(input, rows: int):
    t = input if isinstance(input, Tensor) else as_tensor(input, "embedding")
    idx = t._data
    backend_of(idx)  # (several CUDA devices: the index's device becomes the current one)
    if idx.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {t.dtype} instead (while checking arguments for embedding)")
    if idx.size and rows == 0:  # torch's text for an empty table (its index_select underneath)
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        raise IndexError("index out of range in self")
    return idx


def _renorm_(weight: Tensor, idx, max_norm: float, norm_type: float, xp) -> None:
    """torch's embedding_renorm_: every referenced row whose norm exceeds max_norm is scaled in place to
    max_norm (the 1e-7 keeps the division safe, as in torch)."""
    rows = xp.unique(idx)
    w = weight._data
    norms = xp.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        with no_grad():
            scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
            w[rows[big]] *= scale[:, None]
            weight._written()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """torch.nn.functional.embedding: ``weight[input]`` for integer ``input`` of any shape; the row at
    ``padding_idx`` gets no gradient; ``max_norm`` renormalises the referenced rows of ``weight`` in place."""
    w = as_tensor(weight, "embedding")
    if w.ndim != 2:
        raise RuntimeError(f"embedding(): 'weight' must be 2-D, got {w.ndim}-D of size {list(w.shape)}")
    if sparse:
        raise NotImplementedError("embedding(): sparse=True (sparse gradients) is not supported; use sparse=False")
    rows, dim = w.shape
    padding_idx = _normalize_padding_idx(padding_idx, rows)
    idx = _indices(input, rows)
    be = backend_of(w._data, idx)
    xp = be.xp
    if max_norm is not None:
        _renorm_(w, idx, float(max_norm), float(norm_type), xp)
    y = w._data[idx]  # a fresh (…, dim) array

    def backward(g):
        flat = idx.reshape(-1)
        g2 = g.reshape(flat.size, dim)
        if scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=rows)
            g2 = g2 / counts[flat].astype(g2.dtype)[:, None]
        # gw = S @ g2 for the (rows, n) selection matrix S with a one at (flat[e], e): the sparse product's
        # kernel sums each row's picks in index order, as add.at would, without add.at's per-element cost
        flat64 = flat.astype("int64", copy=False)
        gw = be.spmm(flat64, xp.arange(flat.size, dtype="int64"), xp.ones(flat.size, g2.dtype), g2, rows)
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)

    return record(Tensor._wrap(y), "EmbeddingBackward0", (w,), backward)
