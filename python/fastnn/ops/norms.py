"""Vector norms: ``linalg.vector_norm`` (exported as fastnn.linalg.vector_norm) and ``torch.norm`` /
``Tensor.norm`` for p = 'fro', a number, +-inf, over all elements or some dims."""
from __future__ import annotations

import math
import numbers

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, expand_reduced, normalize_dim, normalize_dims
from .arithmetic import add, div, mul, sub
from .conversion import cast
from .elementwise import where

_TORCH_TYPE = {"int64": "Long", "bool": "Bool", "float32": "Float", "float64": "Double"}


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A002
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements when None); ord = inf / -inf take max / min |x|,
    ord = 0 counts the nonzeros. The gradient follows PyTorch's norm_backward (0 where the norm is 0)."""
    a = as_tensor(x, "linalg.vector_norm")
    if dtype is not None:
        dt = dtypes.to_dtype(dtype)
        if not a.dtype.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                               f"Got {_TORCH_TYPE[a.dtype.name]}")
        a = cast(a, dt)
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_TORCH_TYPE[a.dtype.name]}")
    if isinstance(ord, bool) or not isinstance(ord, numbers.Real):
        raise RuntimeError(f"linalg.vector_norm: Expected a real number for ord, got {ord!r}")
    p = float(ord)
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    axes = normalize_dims(dim, a.ndim, "linalg.vector_norm")
    src = a._data
    be = backend_of(src)
    xp = be.xp
    if src.size == 0 and p < 0:
        raise RuntimeError("linalg.vector_norm cannot compute the -inf norm on an empty tensor because the "
                           "operation does not have an identity" if p == -math.inf else
                           f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                           "operation does not have an identity")
    ax = axes if axes else None
    if src.ndim == 0:
        ax = None
    absx = xp.abs(src)
    with be.errstate(all="ignore"):
        if p == math.inf:
            y = absx.max(axis=ax, keepdims=True) if src.size else xp.zeros([1] * src.ndim, src.dtype)
        elif p == -math.inf:
            y = absx.min(axis=ax, keepdims=True)
        elif p == 0:
            y = (src != 0).sum(axis=ax, keepdims=True).astype(src.dtype)
        elif p == 1:
            y = absx.sum(axis=ax, keepdims=True)
        elif p == 2:
            y = xp.sqrt((src * src).sum(axis=ax, keepdims=True))
        else:
            y = ((absx ** src.dtype.type(p)).sum(axis=ax, keepdims=True)) ** src.dtype.type(1 / p)
    y = y.astype(src.dtype, copy=False)
    reduced = tuple(range(src.ndim)) if ax is None else axes
    out = y if keepdim else y.reshape(tuple(s for i, s in enumerate(src.shape) if i not in reduced))
    shape = src.shape

    def backward(g):
        gk = expand_reduced(g, shape, reduced, keepdim, be) if src.ndim else g
        with be.errstate(all="ignore"):
            if p == 0:
                local = xp.zeros(shape, src.dtype)
                return (local,)
            if p in (math.inf, -math.inf):
                hit = (absx == y)
                count = hit.sum(axis=ax, keepdims=True)
                local = xp.sign(src) * hit / count
            elif p == 1:
                local = xp.sign(src)
            elif p < 1:
                local = xp.where(src == 0, 0, xp.sign(src) * absx ** (p - 1)) * y ** (1 - p)
            elif p < 2:
                local = xp.where(y == 0, 0, xp.sign(src) * absx ** (p - 1) / y ** (p - 1))
            else:
                local = xp.where(y == 0, 0, src * absx ** (p - 2) / y ** (p - 1))
            return ((gk * local).astype(g.dtype, copy=False),)

    return record(Tensor._wrap(out), "LinalgVectorNormBackward0", (a,), backward)


def norm(input, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:  # noqa: A002
    """torch.norm: 'fro' (or None) is the 2-norm of the selected elements (at most 2 dims), a number or +-inf
    is that vector norm; 'nuc' (a matrix norm) belongs to fastnn.linalg and is refused here."""
    if out is not None:
        raise NotImplementedError("norm(): out= is not supported; use the returned tensor")
    a = as_tensor(input, "norm")
    if isinstance(dim, int):
        dim = (dim,)
    if p is None or p == "fro":
        if dim is not None and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
        return vector_norm(a, 2, dim, keepdim, dtype=dtype)
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError("norm(): p='nuc' (the nuclear norm) needs a singular value decomposition; "
                                      "use fastnn.linalg.matrix_norm(x, 'nuc')")
        raise RuntimeError(f"norm(): unsupported p={p!r}; expected 'fro', 'nuc', a number or inf")
    return vector_norm(a, p, dim, keepdim, dtype=dtype)


def dist(input, other, p=2) -> Tensor:  # noqa: A002
    """The p-norm of input - other (broadcast), as torch.dist."""
    return vector_norm(sub(as_tensor(input, "dist"), as_tensor(other, "dist")), p)


def renorm(input, p, dim: int, maxnorm) -> Tensor:  # noqa: A002
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to it (torch.renorm: the scale is
    maxnorm / (norm + 1e-7)); differentiable through the norm."""
    a = as_tensor(input, "renorm")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"renorm: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_TYPE[a.dtype.name]}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if a.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    ax = normalize_dim(dim, a.ndim, "renorm")
    n = vector_norm(a, p, tuple(i for i in range(a.ndim) if i != ax), keepdim=True)
    over = Tensor._wrap(n._data > maxnorm)
    scale = where(over, div(maxnorm, add(n, 1e-7)), 1.0)
    return mul(a, scale)
