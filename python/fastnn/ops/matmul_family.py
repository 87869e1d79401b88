"""The matmul family beyond matmul/mm/bmm: addmm, addmv, addr, addbmm, baddbmm, dot, vdot, inner, mv, outer/ger,
tensordot, kron, cross, chain_matmul / multi_dot and cdist.

Every product goes through the backend's matmul kernel (``be.matmul``: the native GEMM on the CPU), in the
forward and in the backward, so these stay as fast as ``@``. Ops that are pure reshapes around a product
(inner, tensordot, kron, outer, multi_dot) are written with the differentiable shape ops and ``matmul``,
whose backwards already exist.
"""
from __future__ import annotations

from .. import amp_state
import math
import numbers
import warnings

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from . import arithmetic as _arith
from . import shape as _shape
from ._util import as_tensor, normalize_dim, unbroadcast
from .linalg import _dims, matmul


def _scalar(v, name: str, op: str):
    if isinstance(v, Tensor):
        v = v.item()
    if not isinstance(v, numbers.Number) or isinstance(v, complex):
        raise TypeError(f"{op}(): argument '{name}' must be a Number, not {type(v).__name__}")
    return v


def _same_float(op: str, *ts):
    dt = ts[0].dtype
    for t in ts[1:]:
        if t.dtype is not dt:
            raise RuntimeError(f"{op}(): expected all tensors to have the same dtype, but got {_tname(ts[0])} and "
                               f"{_tname(t)}")


def _expand_input(op: str, inp: Tensor, shape):
    """input broadcast to the product's shape (torch expands it, with expand's message on failure)."""
    try:
        if np.broadcast_shapes(inp.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor ({shape[-1]}) must match the existing size "
                           f"({inp.shape[-1]}) at non-singleton dimension {len(shape) - 1}.  Target sizes: "
                           f"{list(shape)}.  Tensor sizes: {list(inp.shape)}") from None


def _add_scaled(be, inp, prod, beta, alpha):
    """beta * inp + alpha * prod, with torch's rule that beta == 0 ignores inp (its NaNs do not propagate)."""
    dt = prod.dtype.type
    out = prod if alpha == 1 else prod * dt(alpha)
    if beta == 0:
        return out
    return out + (inp if beta == 1 else inp * dt(beta))


def _addmm_like(op: str, node: str, input, m1, m2, beta, alpha, prod_fn, grads_fn, check):
    inp, a, b = (as_tensor(x, op) for x in (input, m1, m2))
    beta, alpha = _scalar(beta, "beta", op), _scalar(alpha, "alpha", op)
    check(inp, a, b)
    _same_float(op, inp, a, b)
    be = backend_of(inp._data, a._data, b._data)
    prod = prod_fn(be, a._data, b._data)
    _expand_input(op, inp, prod.shape)
    out = _add_scaled(be, inp._data, prod, beta, alpha)
    dt = out.dtype.type

    def backward(g):
        gi = unbroadcast(g * dt(beta), inp.shape) if inp._requires_grad and beta != 0 else None
        if inp._requires_grad and beta == 0:
            gi = be.xp.zeros(inp.shape, g.dtype)
        ga_ = g * dt(alpha) if alpha != 1 else g
        ga, gb = grads_fn(be, ga_, a._data, b._data, a._requires_grad, b._requires_grad)
        return gi, ga, gb

    return record(Tensor._wrap(out), node, (inp, a, b), backward)


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2), input broadcast to (n, p)."""
    def check(i, a, b):
        if a.ndim != 2 or b.ndim != 2:
            raise RuntimeError(f"addmm(): expected 2-D matrices, got {a.ndim}-D and {b.ndim}-D")
        if a.shape[1] != b.shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims(a._data)} and {_dims(b._data)})")

    def grads(be, g, x, y, rx, ry):
        return (be.matmul(g, y.T) if rx else None), (be.matmul(x.T, g) if ry else None)

    return _addmm_like("addmm", "AddmmBackward0", input, mat1, mat2, beta, alpha,
                       lambda be, x, y: be.matmul(x, y), grads, check)


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    def check(i, a, b):
        if a.ndim != 2 or b.ndim != 1 or i.ndim > 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {i.ndim}, {a.ndim}, {b.ndim}")
        if a.shape[1] != b.shape[0] or (i.ndim == 1 and i.shape[0] not in (1, a.shape[0])):
            raise RuntimeError(f"size mismatch, got input ({'x'.join(map(str, i.shape))}), mat ({_dims(a._data)}), "
                               f"vec ({_dims(b._data)})")

    def grads(be, g, x, y, rx, ry):
        return (g[:, None] * y[None, :] if rx else None), (be.matmul(g[None, :], x)[0] if ry else None)

    return _addmm_like("addmv", "AddmvBackward0", input, mat, vec, beta, alpha,
                       lambda be, x, y: be.matmul(x, y[:, None])[:, 0], grads, check)


def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    def check(i, a, b):
        if a.ndim != 1 or b.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {a.ndim}-D" if a.ndim != 1 else
                               f"addr: Expected 1-D argument vec2, but got {b.ndim}-D")

    def grads(be, g, x, y, rx, ry):
        return (be.matmul(g, y[:, None])[:, 0] if rx else None), (be.matmul(x[None, :], g)[0] if ry else None)

    return _addmm_like("addr", "AddrBackward0", input, vec1, vec2, beta, alpha,
                       lambda be, x, y: x[:, None] * y[None, :], grads, check)


def _check_bmm(op):
    def check(i, a, b):
        if a.ndim != 3 or b.ndim != 3:
            raise RuntimeError("batch1 must be a 3D tensor" if a.ndim != 3 else "batch2 must be a 3D tensor")
        if a.shape[0] != b.shape[0]:
            raise RuntimeError(f"{op}(): batch1 and batch2 must have same number of batches, got {a.shape[0]} "
                               f"and {b.shape[0]}")
        if a.shape[2] != b.shape[1]:
            raise RuntimeError(f"Incompatible matrix sizes for bmm ({a.shape[1]}x{a.shape[2]} and "
                               f"{b.shape[1]}x{b.shape[2]})")
    return check


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2), per batch."""
    def grads(be, g, x, y, rx, ry):
        return (be.matmul(g, y.swapaxes(1, 2)) if rx else None), (be.matmul(x.swapaxes(1, 2), g) if ry else None)

    return _addmm_like("baddbmm", "BaddbmmBackward0", input, batch1, batch2, beta, alpha,
                       lambda be, x, y: be.matmul(x, y), grads, _check_bmm("baddbmm"))


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * sum_b(batch1[b] @ batch2[b]): one GEMM over the batch laid side by side."""
    def prod(be, x, y):
        bsz, n, k = x.shape
        p = y.shape[2]
        # sum_b x_b @ y_b = [x_0 | x_1 | ...] @ [y_0; y_1; ...]: (n, b*k) @ (b*k, p).
        return be.matmul(x.transpose(1, 0, 2).reshape(n, bsz * k), y.reshape(bsz * k, p))

    def grads(be, g, x, y, rx, ry):
        gx = be.matmul(g[None], y.swapaxes(1, 2)) if rx else None
        gy = be.matmul(x.swapaxes(1, 2), g[None]) if ry else None
        return gx, gy

    return _addmm_like("addbmm", "AddbmmBackward0", input, batch1, batch2, beta, alpha, prod, grads,
                       _check_bmm("addbmm"))


def dot(input, tensor) -> Tensor:
    a, b = as_tensor(input, "dot"), as_tensor(tensor, "dot")
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {_tname(a)} and {_tname(b)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have "
                           f"the same number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively")
    x, y = a._data, b._data
    be = backend_of(x, y)
    out = be.matmul(x[None, :], y[:, None]).reshape(())

    def backward(g):
        return (g * y if a._requires_grad else None), (g * x if b._requires_grad else None)

    return record(Tensor._wrap(out), "DotBackward0", (a, b), backward)


def vdot(input, other) -> Tensor:
    """conj(input) . other: the same as dot for the real dtypes fastnn has."""
    return dot(input, other)


def _tname(t: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}.get(str(t.dtype).split(".")[-1],
                                                                                       str(t.dtype))


def mv(input, vec) -> Tensor:
    a, v = as_tensor(input, "mv"), as_tensor(vec, "mv")
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({_dims(a._data)}), vec ({v.shape[0]})")
    return matmul(a, v)


def outer(input, vec2) -> Tensor:
    a, b = as_tensor(input, "outer"), as_tensor(vec2, "outer")
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {a.ndim}-D" if a.ndim != 1 else
                           f"outer: Expected 1-D argument vec2, but got {b.ndim}-D")
    return _arith.mul(_shape.reshape(a, (a.shape[0], 1)), b)


ger = outer


def inner(input, other) -> Tensor:
    """Sums over the last dims of both: shape input.shape[:-1] + other.shape[:-1]; a 0-d operand multiplies."""
    a, b = as_tensor(input, "inner"), as_tensor(other, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return _arith.mul(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    return tensordot(a, b, dims=([a.ndim - 1], [b.ndim - 1]))


def tensordot(a, b, dims=2, out=None) -> Tensor:
    """Contracts a's dims ``dims[0]`` with b's ``dims[1]`` (an int n: a's last n with b's first n), as one GEMM."""
    if out is not None:
        raise NotImplementedError("tensordot(): out= is not supported")
    a, b = as_tensor(a, "tensordot"), as_tensor(b, "tensordot")
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be an int or a pair of lists of dims")
        da, db = dims
        da = [da] if isinstance(da, (int, np.integer)) else list(da)
        db = [db] if isinstance(db, (int, np.integer)) else list(db)
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length, got {len(da)} and {len(db)}")
    da = [normalize_dim(d, a.ndim, "tensordot") for d in da]
    db = [normalize_dim(d, b.ndim, "tensordot") for d in db]
    sa, sb = list(a.shape), list(b.shape)
    for i, j in zip(da, db):
        if sa[i] != sb[j]:
            if sa[i] != 1 and sb[j] != 1:
                raise RuntimeError(f"contracted dimensions need to match, but first has size {sa[i]} in dim {i} and "
                                   f"second has size {sb[j]} in dim {j}")
            sa[i] = sb[j] = max(sa[i], sb[j])  # a size-1 contracted dim broadcasts, as in torch
    if tuple(sa) != tuple(a.shape):
        a = _shape.expand(a, *sa)
    if tuple(sb) != tuple(b.shape):
        b = _shape.expand(b, *sb)
    if a.dtype is not b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    ra = _shape.reshape(_shape.permute(a, fa + da), (math.prod(a.shape[d] for d in fa), k))
    rb = _shape.reshape(_shape.permute(b, db + fb), (k, math.prod(b.shape[d] for d in fb)))
    return _shape.reshape(matmul(ra, rb), tuple(a.shape[d] for d in fa) + tuple(b.shape[d] for d in fb))


def kron(input, other) -> Tensor:
    """The Kronecker product: out[i*B + j] = a[i] * b[j] per dim (the shorter operand gets leading 1s)."""
    a, b = as_tensor(input, "kron"), as_tensor(other, "kron")
    nd = max(a.ndim, b.ndim)
    a = _shape.reshape(a, (1,) * (nd - a.ndim) + tuple(a.shape))
    b = _shape.reshape(b, (1,) * (nd - b.ndim) + tuple(b.shape))
    # Interleave: a as (a0, 1, a1, 1, ...), b as (1, b0, 1, b1, ...); the product's pairs merge into a_i * b_i.
    ai = _shape.reshape(a, tuple(x for s in a.shape for x in (s, 1)))
    bi = _shape.reshape(b, tuple(x for s in b.shape for x in (1, s)))
    return _shape.reshape(_arith.mul(ai, bi), tuple(p * q for p, q in zip(a.shape, b.shape)))


def _cross_arrays(xp, x, y, d):
    def part(z, i):
        return xp.take(z, [i], axis=d)
    x0, x1, x2 = part(x, 0), part(x, 1), part(x, 2)
    y0, y1, y2 = part(y, 0), part(y, 1), part(y, 2)
    return xp.concatenate([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], axis=d)


def linalg_cross(input, other, *, dim: int = -1) -> Tensor:
    """torch.linalg.cross: the 3-vector cross product along ``dim``, the batch dims broadcast."""
    a, b = as_tensor(input, "linalg.cross"), as_tensor(other, "linalg.cross")
    if a.ndim != b.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = normalize_dim(dim, a.ndim, "linalg.cross")
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[d]} and "
                           f"{b.shape[d]}")
    _same_float("linalg.cross", a, b)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"linalg.cross: shapes {list(a.shape)} and {list(b.shape)} cannot be broadcast") from None
    x, y = a._data, b._data
    be = backend_of(x, y)
    out = _cross_arrays(be.xp, x, y, d)

    def backward(g):
        ga = unbroadcast(_cross_arrays(be.xp, y, g, d), a.shape) if a._requires_grad else None
        gb = unbroadcast(_cross_arrays(be.xp, g, x, d), b.shape) if b._requires_grad else None
        return ga, gb

    return record(Tensor._wrap(out), "LinalgCrossBackward0", (a, b), backward)


def cross(input, other, dim=None) -> Tensor:
    """torch.cross: dim=None picks the first dim of size 3 (deprecated in torch, with its warning)."""
    a, b = as_tensor(input, "cross"), as_tensor(other, "cross")
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        shape = np.broadcast_shapes(a.shape, b.shape) if a.ndim == b.ndim else a.shape
        dims = [i for i, s in enumerate(shape) if s == 3]
        if not dims:
            raise RuntimeError("no dimension of size 3 in input")
        dim = dims[0]
    return linalg_cross(a, b, dim=dim)


def multi_dot(tensors) -> Tensor:
    """torch.linalg.multi_dot: the product of a chain, the first operand may be 1-D (a row) and the last
    1-D (a column); the order of products is chosen by the classic dynamic programme (fewest flops)."""
    ts = [as_tensor(t, "linalg.multi_dot") for t in tensors]
    n = len(ts)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first_1d, last_1d = ts[0].ndim == 1, ts[-1].ndim == 1
    for i, t in enumerate(ts):
        ok = t.ndim == 2 or (t.ndim == 1 and i in (0, n - 1))
        if not ok:
            which = "first" if i == 0 else ("last" if i == n - 1 else None)
            if which:
                raise RuntimeError(f"multi_dot(): the {which} tensor must be 1D or 2D but got {t.ndim}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
    dt = ts[0].dtype
    for i, t in enumerate(ts):
        if t.dtype is not dt:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is {dt} and "
                               f"tensor {i} {t.dtype}")
    if first_1d:
        ts[0] = _shape.reshape(ts[0], (1, ts[0].shape[0]))
    if last_1d:
        ts[-1] = _shape.reshape(ts[-1], (ts[-1].shape[0], 1))
    for i in range(n - 1):
        if ts[i].shape[1] != ts[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(ts[i].shape)} and "
                               f"{list(ts[i + 1].shape)} cannot be multiplied")
    dims = [ts[0].shape[0]] + [t.shape[1] for t in ts]
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def chain(i, j):
        if i == j:
            return ts[i]
        k = split[i][j]
        return matmul(chain(i, k), chain(k + 1, j))

    out = chain(0, n - 1)
    if first_1d and last_1d:
        return _shape.reshape(out, ())
    if first_1d:
        return _shape.reshape(out, (out.shape[1],))
    if last_1d:
        return _shape.reshape(out, (out.shape[0],))
    return out


def chain_matmul(*matrices) -> Tensor:
    """torch.chain_matmul (deprecated in torch for linalg.multi_dot): the product of 2-D matrices."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    for m in matrices:
        if as_tensor(m, "chain_matmul").ndim != 2:
            raise RuntimeError(f"chain_matmul(): Expected 2D tensor, got {as_tensor(m, 'chain_matmul').ndim}D")
    if len(matrices) == 1:
        return _shape.clone(as_tensor(matrices[0], "chain_matmul"))
    return multi_dot(matrices)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M) -> (..., P, R).

    p = 2 goes through the GEMM (|a|^2 + |b|^2 - 2 a.b) when torch's rule says so (either side over 25 rows
    under the default mode, always under 'use_mm_for_euclid_dist'); otherwise the differences are formed.
    The gradient at a zero distance is 0 (torch's choice: the norm has no derivative there)."""
    a, b = as_tensor(x1, "cdist"), as_tensor(x2, "cdist")
    if a.ndim < 2 or b.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {a.ndim}D" if a.ndim < 2 else
                           f"cdist only supports at least 2D tensors, X2 got: {b.ndim}D")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} X2: {b.shape[-1]}")
    if not a.dtype.is_floating_point or not b.dtype.is_floating_point:
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: {_tname(a)}")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected scalar type {_tname(a)} but found {_tname(b)}")
    p = float(p)
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    x, y = a._data, b._data
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise RuntimeError(f"cdist: batch dims of {list(a.shape)} and {list(b.shape)} cannot be broadcast") from None
    be = backend_of(x, y)
    xp = be.xp
    P, R, M = x.shape[-2], y.shape[-2], x.shape[-1]
    xb = xp.broadcast_to(x, batch + (P, M))
    yb = xp.broadcast_to(y, batch + (R, M))
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                         (compute_mode == modes[0] and (P > 25 or R > 25)))
    if use_mm:
        sq = (xb * xb).sum(-1)[..., :, None] + (yb * yb).sum(-1)[..., None, :] - 2 * be.matmul(xb, _swap(yb))
        out = xp.sqrt(xp.maximum(sq, 0)).astype(x.dtype, copy=False)
        diff = None
    else:
        diff = xb[..., :, None, :] - yb[..., None, :, :]
        ad = xp.abs(diff)
        if p == 0:
            out = (ad != 0).sum(-1).astype(x.dtype)
        elif p == 1:
            out = ad.sum(-1)
        elif p == 2:
            out = xp.sqrt((diff * diff).sum(-1))
        elif math.isinf(p):
            out = ad.max(-1) if M else xp.zeros(batch + (P, R), x.dtype)
        else:
            out = (ad ** p).sum(-1) ** (1 / p)
        out = out.astype(x.dtype, copy=False)

    def backward(g):
        dt = g.dtype.type
        if p == 0 or g.size == 0:
            w = None
            gx = xp.zeros(batch + (P, M), g.dtype)
            gy = xp.zeros(batch + (R, M), g.dtype)
        elif p == 2:
            safe = xp.where(out == 0, dt(1), out)
            w = xp.where(out == 0, dt(0), g / safe)  # d dist / d x1_i = (x1_i - x2_j) / dist
            gx = w.sum(-1)[..., None] * xb - be.matmul(w, yb)
            gy = _swap(w).sum(-1)[..., None] * yb - be.matmul(_swap(w), xb)
        else:
            d = diff if diff is not None else xb[..., :, None, :] - yb[..., None, :, :]
            ad = xp.abs(d)
            sgn = xp.sign(d)
            if p == 1:
                t = sgn
            elif math.isinf(p):
                t = sgn * (ad == out[..., None])
            else:
                safe = xp.where(out == 0, dt(1), out)[..., None]
                with be.errstate(divide="ignore", invalid="ignore"):  # 0 ** (p - 1), p < 1: masked to 0
                    scaled = xp.where(ad == 0, dt(0), (ad / safe) ** (p - 1))
                t = xp.where(out[..., None] == 0, dt(0), sgn * scaled)
            t = t * g[..., None]
            gx = t.sum(-2)
            gy = -t.sum(-3)
        gx = unbroadcast(gx.astype(x.dtype, copy=False), a.shape) if a._requires_grad else None
        gy = unbroadcast(gy.astype(x.dtype, copy=False), b.shape) if b._requires_grad else None
        return gx, gy

    return record(Tensor._wrap(out), "CdistBackward0", (a, b), backward)


def _swap(x):
    return x.swapaxes(-1, -2)
