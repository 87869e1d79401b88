"""normalize, cosine_similarity, pairwise_distance, pdist and one_hot (torch.nn.functional).

They share one p-norm op over a dim whose backward is torch's at a zero norm: 0, not the NaN that
composing sqrt(sum(x^2)) would give (so normalize of a zero row has a zero gradient, as in torch)."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from . import arithmetic as _arith
from . import indexing as _indexing
from . import reduction as _red
from ._util import as_tensor, float_data, normalize_dim
from .arg_checks import check_int


def _pnorm(t: Tensor, p: float, dim, keepdim: bool) -> Tensor:
    """||t||_p over ``dim`` (an int, a tuple of ints, or None for all dims); p may be 0, inf, -inf or any
    other real. The gradient at a zero norm is 0 (torch's subgradient)."""
    x = float_data(t)
    be = backend_of(x)
    xp = be.xp
    axes = tuple(range(x.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    axes = tuple(d % x.ndim for d in axes) if x.ndim else ()  # a 0-d tensor is its own one-element vector
    ax = xp.abs(x)
    empty = any(x.shape[d] == 0 for d in axes)
    kshape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    if p == 2:
        out = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
    elif p == 1:
        out = ax.sum(axis=axes, keepdims=True)
    elif p == 0:
        out = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
    elif math.isinf(p):
        if empty:
            out = xp.zeros(kshape, x.dtype)
        else:
            out = ax.max(axis=axes, keepdims=True) if p > 0 else ax.min(axis=axes, keepdims=True)
    else:
        with be.errstate(divide="ignore"):
            out = (ax ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
    out = out.astype(x.dtype, copy=False)

    def backward(g):
        gk = g.reshape(kshape)
        dt = x.dtype.type
        if p == 0:
            return (xp.zeros(x.shape, x.dtype),)
        if p == 1:
            return (gk * xp.sign(x),)
        zero = out == 0
        if math.isinf(p):
            hit = ax == out
            return (gk * xp.sign(x) * hit / hit.sum(axis=axes, keepdims=True),)
        safe = xp.where(zero, dt(1), out)
        if p == 2:
            return (xp.where(zero, dt(0), gk * x / safe),)
        with be.errstate(divide="ignore", invalid="ignore"):  # 0 ** (p - 1) for p < 1: masked to 0 below
            scaled = xp.where(x == 0, dt(0), (ax / safe) ** (p - 1))
        return (xp.where(zero, dt(0), gk * xp.sign(x) * scaled),)

    res = out if keepdim else out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))
    return record(Tensor._wrap(res), "LinalgVectorNormBackward0", (t,), backward)


def _clamp_value_only(t: Tensor, low: float) -> Tensor:
    """max(t, low) in value, the identity in the gradient: torch clamps the norms of normalize-like ops in
    place under no_grad, so the gradient flows as if unclamped."""
    x = t._data
    xp = backend_of(x).xp
    return record(Tensor._wrap(xp.maximum(x, x.dtype.type(low))), "CloneBackward0", (t,), lambda g: (g,))


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """input / max(||input||_p over dim, eps)."""
    if out is not None:
        raise NotImplementedError("normalize(): out= is not supported")
    a = as_tensor(input, "normalize")
    d = normalize_dim(dim, a.ndim, "normalize")
    n = _pnorm(a, float(p), d, True)
    return _arith.div(a, _clamp_min(n, eps))


def _clamp_min(t: Tensor, low: float) -> Tensor:
    """max(t, low) with the gradient of clamp_min (0 where clamped), as torch's normalize uses."""
    x = t._data
    xp = backend_of(x).xp
    keep = x >= low
    y = xp.where(keep, x, x.dtype.type(low))
    return record(Tensor._wrap(y), "ClampMinBackward0", (t,), lambda g: (g * keep,))


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim), torch 2.x's formula (each vector divided
    by its norm first, the result stays within [-1, 1]); x1 and x2 broadcast."""
    a, b = as_tensor(x1, "cosine_similarity"), as_tensor(x2, "cosine_similarity")
    shape = np.broadcast_shapes(a.shape, b.shape)
    nd = len(shape)
    d = normalize_dim(dim, nd, "cosine_similarity")
    if a.shape != shape:
        a = a.expand(*shape)
    if b.shape != shape:
        b = b.expand(*shape)
    na = _clamp_value_only(_pnorm(a, 2.0, d, True), eps)
    nb = _clamp_value_only(_pnorm(b, 2.0, d, True), eps)
    return _red.sum(_arith.mul(_arith.div(a, na), _arith.div(b, nb)), d)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (torch adds eps to the difference, not to the norm)."""
    a, b = as_tensor(x1, "pairwise_distance"), as_tensor(x2, "pairwise_distance")
    diff = _arith.add(_arith.sub(a, b), eps)
    if diff.ndim == 0:
        return _pnorm(diff.reshape(1), float(p), 0, keepdim)
    return _pnorm(diff, float(p), diff.ndim - 1, keepdim)


def pdist(input, p: float = 2.0) -> Tensor:
    """The distances between the rows of an (N, M) input, pairs i < j in row-major order: N (N - 1) / 2."""
    a = as_tensor(input, "pdist")
    if a.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {a.ndim}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = a.shape[0]
    xp = backend_of(a._data).xp
    i, j = xp.triu_indices(n, 1)
    rows_i = _indexing.index_select(a, 0, Tensor._wrap(i.astype(np.int64)))
    rows_j = _indexing.index_select(a, 0, Tensor._wrap(j.astype(np.int64)))
    return _pnorm(_arith.sub(rows_i, rows_j), float(p), 1, False)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """(..., num_classes) int64 with a 1 at each value's class; num_classes=-1 takes max + 1."""
    num_classes = check_int(num_classes, "one_hot", "num_classes", 2)
    t = as_tensor(tensor, "one_hot")
    x = t._data
    if x.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = backend_of(x).xp
    if x.size and int(x.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if x.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(x.max()) + 1
    elif num_classes < -1:
        raise RuntimeError("num_classes should be positive or -1 (to infer)")
    if x.size * num_classes * 8 > 2 ** 63 - 1:  # NumPy's "array is too big" would name no op
        raise RuntimeError(f"one_hot(): Storage size calculation overflowed with sizes="
                           f"{list(x.shape) + [num_classes]}")
    if x.size and int(x.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor._wrap((x[..., None] == xp.arange(num_classes)).astype(np.int64))
