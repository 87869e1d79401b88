"""torch.linalg's decompositions and solvers on batches of matrices (..., m, n), forward beside backward.

The factorizations are the backend's LAPACK (``xp.linalg``: NumPy's on the CPU, cuSOLVER through CuPy on a
GPU); every matrix product in a backward goes through ``be.matmul`` (the native GEMM on the CPU).

Backward formulas (real matrices; ^-T is the inverse transpose):
- inv:       gA = -A^-T g A^-T
- solve:     gB = A^-T g,  gA = -gB X^T
- det:       gA = g det(A) A^-T, computed as g * cofactor(A) from an SVD so that singular A works too (the
             true derivative; torch 2.13 returns 0 for an exactly singular 2x2 such as [[1, 2], [2, 4]])
- slogdet:   g_logabsdet A^-T (the sign has no gradient)
- cholesky:  gA = L^-T Phi(L^T gL) L^-1, symmetrised (Phi: the lower triangle, diagonal halved)
- qr (m >= n): M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T; m < n splits A = [X | Y]
- eigh:      gA = V (diag(gL) + (V^T gV) / E) V^T with E_ij = L_j - L_i (off the diagonal), symmetrised
- svd:       torch's formula, gauge-invariant losses only (see ``_svd_backward``)
The gradients of eigh and svd are undefined when eigenvalues / singular values repeat (E has zeros: the
result is inf/NaN, as in torch); svd's with full_matrices=True ignores the gradients of U[..., k:] and
Vh[..., k:, :] (as torch does); qr's mode='r' has no gradient (Q is not kept), and mode='complete' with
m > n is not differentiable (torch refuses the same).
"""
from __future__ import annotations

import collections
import math

import numpy as np

from ..autograd.grad_mode import is_grad_enabled
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from . import arithmetic as _arith
from . import elementwise as _elem
from . import reduction as _red
from . import shape as _shape
from ._util import as_tensor, normalize_dim, unbroadcast
from .linalg import matmul


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a singular or not positive-definite input (a RuntimeError subclass)."""


SlogdetResult = collections.namedtuple("linalg_slogdet", ["sign", "logabsdet"])
QRResult = collections.namedtuple("linalg_qr", ["Q", "R"])
SVDResult = collections.namedtuple("linalg_svd", ["U", "S", "Vh"])
EighResult = collections.namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
LstsqResult = collections.namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
InvExResult = collections.namedtuple("linalg_inv_ex", ["inverse", "info"])
CholeskyExResult = collections.namedtuple("linalg_cholesky_ex", ["L", "info"])

_TORCH_NAMES = {"int64": "Long", "bool": "Bool", "float32": "Float", "float64": "Double"}


def _mT(x):
    return x.swapaxes(-1, -2)


def _mat(op: str, A, square: bool = True) -> Tensor:
    t = as_tensor(A, op)
    if t.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if not t.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_NAMES.get(t.dtype.name, t.dtype.name)}")
    if square and t.shape[-1] != t.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {t.shape[-2]} by "
                           f"{t.shape[-1]} matrices")
    return t


def _batch_prefix(shape, index) -> str:
    return f"(Batch element {index}): " if len(shape) > 2 else ""


def _first_zero_pivot(xp, a):
    """For each matrix of ``a`` (..., n, n): the 1-based index of the first exactly-zero pivot of LU with
    partial pivoting (LAPACK getrf's info), 0 when there is none. Only run on the error path."""
    flat = xp.array(a.reshape((-1,) + a.shape[-2:]), dtype=np.float64, copy=True)
    n = flat.shape[-1]
    infos = []
    for m in flat:
        info = 0
        for k in range(n):
            p = int(xp.argmax(xp.abs(m[k:, k]))) + k
            if m[p, k] == 0:
                info = info or k + 1
                continue
            if p != k:
                m[[k, p]] = m[[p, k]]
            m[k + 1:, k] /= m[k, k]
            m[k + 1:, k + 1:] -= m[k + 1:, k:k + 1] * m[k:k + 1, k + 1:]
        infos.append(info)
    return infos


def _raise_singular(xp, a, message):
    infos = _first_zero_pivot(xp, a)
    for i, info in enumerate(infos):
        if info:
            raise LinAlgError(_batch_prefix(a.shape, i) + message(info))
    raise LinAlgError(message(1))  # numpy found it singular without an exact zero pivot: report the first


def inv(A) -> Tensor:
    a = _mat("linalg.inv", A)
    x = a._data
    be = backend_of(x)
    xp = be.xp
    try:
        y = xp.linalg.inv(x) if x.size else xp.zeros(x.shape, x.dtype)
    except xp.linalg.LinAlgError:
        def msg(i):
            return (f"The diagonal element {i} is zero, the inversion could not be completed because the input "
                    "matrix is singular.")
        infos = _first_zero_pivot(xp, x)
        for b, info in enumerate(infos):
            if info:
                raise LinAlgError("linalg.inv: " + _batch_prefix(x.shape, b) + msg(info)) from None
        raise LinAlgError("linalg.inv: " + msg(1)) from None

    def backward(g):
        yt = _mT(y)
        return (-be.matmul(be.matmul(yt, g), yt),)

    return record(Tensor._wrap(y.astype(x.dtype, copy=False)), "LinalgInvExBackward0", (a,), backward)


def inv_ex(A, *, check_errors: bool = False):
    """(inverse, info): info is 0, or the first zero pivot's index for a singular matrix (whose inverse is
    then NaN), unless check_errors asks for the exception. info is int32, as torch's."""
    a = _mat("linalg.inv_ex", A)
    xp = backend_of(a._data).xp
    try:
        out = inv(a)
        info = xp.zeros(a.shape[:-2], np.int32)
    except LinAlgError:
        if check_errors:
            raise
        infos = _first_zero_pivot(xp, a._data)
        info = xp.asarray(infos, dtype=np.int32).reshape(a.shape[:-2])
        out = Tensor._wrap(xp.full(a.shape, np.nan, a._data.dtype))
    return InvExResult(out, Tensor._wrap(info))


def solve(A, B, *, left: bool = True) -> Tensor:
    """X with A X = B (left=True) or X A = B (left=False); B may be a vector (..., n) or matrices (..., n, k)
    and the batch dims broadcast (torch's rule: B is a vector when B.ndim == 1, or when B.shape == A.shape[:-1])."""
    a = _mat("linalg.solve", A)
    b = as_tensor(B, "linalg.solve")
    if b.dtype is not a.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{_TORCH_NAMES.get(a.dtype.name)} and B of type {_TORCH_NAMES.get(b.dtype.name)} instead")
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    if not left:
        if vector:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not supported for "
                               "left=False. In this case linalg.solve is equivalent to B / A.squeeze(-1)")
        return _shape.transpose(solve(_shape.transpose(a, -2, -1), _shape.transpose(b, -2, -1)), -2, -1)
    x, y = a._data, b._data
    n = x.shape[-1]
    y2 = y[..., None] if vector else y
    if y2.ndim < 2 or y2.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({'x'.join(map(str, x.shape[-2:]))} and {'x'.join(map(str, y2.shape[-2:]))})")
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y2.shape[:-2])
    except ValueError:
        raise RuntimeError(f"linalg.solve: batch dims of A {list(a.shape)} and B {list(b.shape)} cannot be "
                           "broadcast") from None
    be = backend_of(x, y)
    xp = be.xp
    ab = xp.broadcast_to(x, batch + x.shape[-2:])
    bb = xp.broadcast_to(y2, batch + y2.shape[-2:])
    try:
        out2 = xp.linalg.solve(ab, bb) if ab.size and bb.size else xp.zeros(bb.shape, x.dtype)
    except xp.linalg.LinAlgError:
        infos = _first_zero_pivot(xp, ab)
        for i, info in enumerate(infos):
            if info:
                raise LinAlgError("torch.linalg.solve: " + _batch_prefix(ab.shape, i) +
                                  "The solver failed because the input matrix is singular.") from None
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is singular.") from None
    out2 = out2.astype(x.dtype, copy=False)
    out = out2[..., 0] if vector else out2

    def backward(g):
        g2 = g[..., None] if vector else g
        gb2 = xp.linalg.solve(_mT(ab), g2) if g2.size else xp.zeros(g2.shape, g2.dtype)
        ga = unbroadcast(-be.matmul(gb2, _mT(out2)), x.shape) if a._requires_grad else None
        gb = None
        if b._requires_grad:
            gb = unbroadcast(gb2, y2.shape)
            gb = gb[..., 0] if vector else gb
        return ga, gb

    return record(Tensor._wrap(out), "LinalgSolveExBackward0", (a, b), backward)


def _cofactor(be, x):
    """det(A) A^-T for every A of x, from the SVD A = U S V^T: det(U) det(V) U diag(prod_{j!=i} s_j) V^T,
    which stays finite for singular A (the adjugate exists for every matrix)."""
    xp = be.xp
    n = x.shape[-1]
    if n == 0:
        return xp.zeros(x.shape, x.dtype)
    u, s, vh = xp.linalg.svd(x)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    # prod_{j != i} s_j without dividing by s_i (which may be 0): exclusive prefix and suffix products.
    ones = xp.ones(s.shape[:-1] + (1,), s.dtype)
    pre = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    suf = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], axis=-1), axis=-1), -1)
    others = pre * suf
    return be.matmul(u * (others * sign[..., None])[..., None, :], vh).astype(x.dtype, copy=False)


def det(A) -> Tensor:
    a = _mat("linalg.det", A)
    x = a._data
    be = backend_of(x)
    xp = be.xp
    out = xp.asarray(xp.linalg.det(x) if x.shape[-1] else xp.ones(x.shape[:-2], x.dtype)).astype(x.dtype, copy=False)

    def backward(g):
        return (g[..., None, None] * _cofactor(be, x),)

    return record(Tensor._wrap(out), "LinalgDetBackward0", (a,), backward)


def slogdet(A):
    """(sign, logabsdet): det(A) = sign * exp(logabsdet); only logabsdet has a gradient (-inf for singular A)."""
    a = _mat("linalg.slogdet", A)
    x = a._data
    be = backend_of(x)
    xp = be.xp
    sign, logabs = xp.linalg.slogdet(x)
    sign = xp.asarray(sign).astype(x.dtype, copy=False)
    logabs = xp.asarray(logabs).astype(x.dtype, copy=False)

    def backward(g):
        return (g[..., None, None] * _mT(xp.linalg.inv(x)),)

    # sign requires grad as torch's does, but is piecewise constant for real A: its gradient is undefined (None).
    sign_t = record(Tensor._wrap(sign), "LinalgSlogdetBackward0", (a,), lambda g: (None,))
    return SlogdetResult(sign_t, record(Tensor._wrap(logabs), "LinalgSlogdetBackward0", (a,), backward))


def logdet(A) -> Tensor:
    """log det(A): NaN for a negative determinant, -inf for a singular matrix (torch.logdet)."""
    sign, logabs = slogdet(A)
    xp = backend_of(sign._data).xp
    nan = Tensor._wrap(xp.where(sign._data < 0, xp.nan, 0).astype(sign._data.dtype))
    return _arith.add(logabs, nan)


def cholesky(A, *, upper: bool = False) -> Tensor:
    a = _mat("linalg.cholesky", A)
    x = a._data
    be = backend_of(x)
    xp = be.xp
    try:
        low = xp.linalg.cholesky(x) if x.size else xp.zeros(x.shape, x.dtype)
    except xp.linalg.LinAlgError:
        order, index = _first_non_pd(xp, x)
        raise LinAlgError("linalg.cholesky: " + _batch_prefix(x.shape, index) + "The factorization could not be "
                          "completed because the input is not positive-definite (the leading minor of order "
                          f"{order} is not positive-definite).") from None
    low = low.astype(x.dtype, copy=False)
    out = _mT(low) if upper else low

    def backward(g):
        gl = _mT(g) if upper else g
        phi = xp.tril(be.matmul(_mT(low), gl))
        d = xp.arange(phi.shape[-1])
        phi[..., d, d] *= 0.5
        # L^-T phi L^-1 through two solves (no triangular solver in xp.linalg: solve is LAPACK's gesv).
        tmp = xp.linalg.solve(_mT(low), phi)
        ga = _mT(xp.linalg.solve(_mT(low), _mT(tmp)))
        return (0.5 * (ga + _mT(ga)),)

    return record(Tensor._wrap(xp.ascontiguousarray(out)), "LinalgCholeskyExBackward0", (a,), backward)


def _first_non_pd(xp, x):
    """(order of the first leading minor that is not positive-definite, batch index) for the first bad matrix."""
    flat = x.reshape((-1,) + x.shape[-2:])
    for i, m in enumerate(flat):
        for k in range(1, m.shape[-1] + 1):
            try:
                xp.linalg.cholesky(m[:k, :k])
            except xp.linalg.LinAlgError:
                return k, i
    return 1, 0


def cholesky_ex(A, *, upper: bool = False, check_errors: bool = False):
    a = _mat("linalg.cholesky_ex", A)
    xp = backend_of(a._data).xp
    try:
        return CholeskyExResult(cholesky(a, upper=upper), Tensor._wrap(xp.zeros(a.shape[:-2], np.int32)))
    except LinAlgError:
        if check_errors:
            raise
        order, _ = _first_non_pd(xp, a._data)
        info = xp.zeros(a.shape[:-2], np.int32).reshape(-1)
        for i, m in enumerate(a._data.reshape((-1,) + a.shape[-2:])):
            try:
                xp.linalg.cholesky(m)
            except xp.linalg.LinAlgError:
                info[i] = _first_non_pd(xp, m)[0]
        return CholeskyExResult(Tensor._wrap(xp.full(a.shape, np.nan, a._data.dtype)),
                                Tensor._wrap(info.reshape(a.shape[:-2])))


def qr(A, mode: str = "reduced"):
    a = _mat("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           "or 'complete'")
    x = a._data
    be = backend_of(x)
    xp = be.xp
    m, n = x.shape[-2:]
    k = min(m, n)
    if x.size:
        q, r = xp.linalg.qr(x, mode="complete" if mode == "complete" else "reduced")
    else:
        qc = m if mode == "complete" else k
        q = xp.broadcast_to(xp.eye(m, qc, dtype=x.dtype), x.shape[:-2] + (m, qc)).copy()
        r = xp.zeros(x.shape[:-2] + (qc, n), x.dtype)
    q, r = q.astype(x.dtype, copy=False), r.astype(x.dtype, copy=False)

    def backward(gq, gr):
        if mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        if mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        gq = xp.zeros(q.shape, q.dtype) if gq is None else gq
        gr = xp.zeros(r.shape, r.dtype) if gr is None else gr
        if m >= n:
            return (_qr_backward_tall(be, q, r, gq, gr),)
        # A = [X | Y] with X square: X = Q R1, Y = Q R2, so Y's gradient is Q gR2 and X's sees gQ + Y gR2^T.
        yv = x[..., :, m:]
        gr1, gr2 = gr[..., :, :m], gr[..., :, m:]
        gx = _qr_backward_tall(be, q, r[..., :, :m], gq + be.matmul(yv, _mT(gr2)), gr1)
        return (xp.concatenate([gx, be.matmul(q, gr2)], axis=-1),)

    if mode == "r":
        qt = Tensor._wrap(xp.zeros((0,), x.dtype))
        return QRResult(qt, _record_multi((Tensor._wrap(r),), "LinalgQrBackward0", (a,),
                                          lambda gr: backward(None, gr))[0])
    outs = _record_multi((Tensor._wrap(q), Tensor._wrap(r)), "LinalgQrBackward0", (a,), backward)
    return QRResult(*outs)


def _qr_backward_tall(be, q, r, gq, gr):
    xp = be.xp
    mm = be.matmul(r, _mT(gr)) - be.matmul(_mT(gq), q)
    low = xp.tril(mm, -1)
    copyltu = low + _mT(low) + xp.tril(xp.triu(mm))  # lower triangle mirrored up, diagonal kept
    rhs = gq + be.matmul(q, copyltu)
    # rhs R^-T: solve R X^T = rhs^T.
    return _mT(xp.linalg.solve(r, _mT(rhs)))


def _record_multi(outs, name, inputs, backward):
    """One node for an op with several outputs (Q and R, U S Vh, ...): the outputs are laid end to end in one
    flat array behind the node, and each output is a differentiable slice of it, so the engine gathers all
    their gradients into one and ``backward(*grads)`` runs once. An output no loss reached gets None."""
    if not is_grad_enabled() or not any(t is not None and t._requires_grad for t in inputs):
        return outs
    be = backend_of(*(o._data for o in outs[:3]))
    xp = be.xp
    shapes = [o.shape for o in outs]
    sizes = [math.prod(s) for s in shapes]
    flat = xp.concatenate([o._data.reshape(-1) for o in outs]) if outs else None

    def flat_backward(g):
        parts, start = [], 0
        for s, sz in zip(shapes, sizes):
            piece = g[start:start + sz].reshape(s)
            parts.append(piece if xp.any(piece) else None)
            start += sz
        return backward(*parts)

    joined = record(Tensor._wrap(flat), name, inputs, flat_backward)
    res, start = [], 0
    for s, sz in zip(shapes, sizes):
        res.append(_shape.reshape(joined[start:start + sz], s))
        start += sz
    return tuple(res)


def eigh(A, UPLO: str = "L"):
    a = _mat("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    x = a._data
    be = backend_of(x)
    xp = be.xp
    if x.size:
        w, v = xp.linalg.eigh(x, UPLO=UPLO)
    else:
        w, v = xp.zeros(x.shape[:-1], x.dtype), xp.zeros(x.shape, x.dtype)
    w, v = w.astype(x.dtype, copy=False), v.astype(x.dtype, copy=False)

    def backward(gw, gv):
        inner = xp.zeros(v.shape, v.dtype)
        if gv is not None:
            e = w[..., None, :] - w[..., :, None]
            d = xp.arange(e.shape[-1])
            e[..., d, d] = 1
            inner = be.matmul(_mT(v), gv) / e
            inner[..., d, d] = 0
        if gw is not None:
            d = xp.arange(w.shape[-1])
            inner[..., d, d] = gw
        ga = be.matmul(be.matmul(v, inner), _mT(v))
        return (0.5 * (ga + _mT(ga)),)  # symmetrised, as torch: A is taken as symmetric, not as its triangle

    return EighResult(*_record_multi((Tensor._wrap(w), Tensor._wrap(v)), "LinalgEighBackward0", (a,), backward))


def eigvalsh(A, UPLO: str = "L") -> Tensor:
    a = _mat("linalg.eigvalsh", A)
    return eigh(a, UPLO).eigenvalues


def svd(A, full_matrices: bool = True, *, driver=None):
    a = _mat("linalg.svd", A, square=False)
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on CUDA inputs with "
                           "cuSOLVER backend.")
    x = a._data
    be = backend_of(x)
    xp = be.xp
    m, n = x.shape[-2:]
    k = min(m, n)
    if x.size:
        u, s, vh = xp.linalg.svd(x, full_matrices=full_matrices)
    else:
        mu, nv = (m, n) if full_matrices else (k, k)
        u = xp.broadcast_to(xp.eye(m, mu, dtype=x.dtype), x.shape[:-2] + (m, mu)).copy()
        vh = xp.broadcast_to(xp.eye(nv, n, dtype=x.dtype), x.shape[:-2] + (nv, n)).copy()
        s = xp.zeros(x.shape[:-2] + (k,), x.dtype)
    u, s, vh = (t.astype(x.dtype, copy=False) for t in (u, s, vh))

    def backward(gu, gs, gvh):
        uk, vhk = u[..., :, :k], vh[..., :k, :]
        gu = None if gu is None else gu[..., :, :k]
        gvh = None if gvh is None else gvh[..., :k, :]
        return (_svd_backward(be, uk, s, vhk, gu, gs, gvh),)

    return SVDResult(*_record_multi((Tensor._wrap(u), Tensor._wrap(s), Tensor._wrap(vh)), "LinalgSvdBackward0",
                                    (a,), backward))


def _svd_backward(be, u, s, vh, gu, gs, gvh):
    """torch's svd_backward for real inputs (U: m x k, S: k, Vh: k x n):
    gA = U [(skew(U^T gU) / E) S + S (skew(V^T gV) / E) + diag(gS)] V^T
         + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T),
    skew(X) = X - X^T, E_ij = s_j^2 - s_i^2 (1 on the diagonal). Valid for losses that do not depend on the
    signs of the singular vectors; undefined (inf/NaN) for repeated or, with gU/gV, zero singular values."""
    xp = be.xp
    m, n = u.shape[-2], vh.shape[-1]
    k = s.shape[-1]
    if gu is None and gvh is None:
        if gs is None:
            return xp.zeros(u.shape[:-1] + (n,), u.dtype)
        return be.matmul(u * gs[..., None, :], vh)
    v = _mT(vh)
    gv = None if gvh is None else _mT(gvh)
    s2 = s * s
    e = s2[..., None, :] - s2[..., :, None]
    d = xp.arange(k)
    e[..., d, d] = 1
    inner = xp.zeros(s.shape[:-1] + (k, k), u.dtype)
    if gu is not None:
        uhgu = be.matmul(_mT(u), gu)
        inner = inner + ((uhgu - _mT(uhgu)) / e) * s[..., None, :]
    if gv is not None:
        vhgv = be.matmul(vh, gv)
        inner = inner + s[..., :, None] * ((vhgv - _mT(vhgv)) / e)
    if gs is not None:
        inner[..., d, d] += gs
    ga = be.matmul(be.matmul(u, inner), vh)
    if gu is not None and m > k:
        proj = gu - be.matmul(u, be.matmul(_mT(u), gu))
        ga = ga + be.matmul(proj / s[..., None, :], vh)
    if gv is not None and n > k:
        proj = gv - be.matmul(v, be.matmul(vh, gv))
        ga = ga + be.matmul(u, _mT(proj / s[..., None, :]))
    return ga


def svdvals(A, *, driver=None) -> Tensor:
    a = _mat("linalg.svdvals", A, square=False)
    if not a._requires_grad:
        xp = backend_of(a._data).xp
        x = a._data
        s = xp.linalg.svd(x, compute_uv=False) if x.size else xp.zeros(x.shape[:-2] + (min(x.shape[-2:]),), x.dtype)
        return Tensor._wrap(s.astype(x.dtype, copy=False))
    return svd(a, full_matrices=False, driver=driver).S


def pinv(A, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The pseudo-inverse from the SVD, singular values under max(atol, rtol * s_max) treated as zero
    (rtol defaults to eps * max(m, n) when atol is not given, as torch). Its backward is torch's formula
    (pinv_backward), which needs no derivative of the SVD and holds at constant rank."""
    a = _mat("linalg.pinv", A, square=False)
    x = a._data
    be = backend_of(x)
    xp = be.xp
    m, n = x.shape[-2:]
    atol_v = _tol_value(xp, atol, x)
    rtol_v = _tol_value(xp, rtol, x)
    if rtol is None:
        rtol_v = np.finfo(x.dtype).eps * max(m, n) if atol is None else 0.0
    if x.size:
        if hermitian:
            w, v = xp.linalg.eigh(x)
            smax = xp.abs(w).max(-1, keepdims=True)
            tol = xp.maximum(atol_v, rtol_v * smax)
            winv = xp.where(xp.abs(w) > tol, 1 / xp.where(w == 0, 1, w), 0)
            p = be.matmul(v * winv[..., None, :], _mT(v))
        else:
            u, s, vh = xp.linalg.svd(x, full_matrices=False)
            smax = s[..., :1]
            tol = xp.maximum(atol_v, rtol_v * smax)
            sinv = xp.where(s > tol, 1 / xp.where(s == 0, 1, s), 0)
            p = be.matmul(_mT(vh) * sinv[..., None, :], _mT(u))
    else:
        p = xp.zeros(x.shape[:-2] + (n, m), x.dtype)
    p = p.astype(x.dtype, copy=False)

    def backward(g):
        mm = be.matmul
        ph = _mT(p)
        gh = _mT(g)
        if m <= n:
            kk = mm(gh, p)
            kp = mm(kk, ph)
            return (-_mT(mm(p, kk)) + kp - mm(mm(x, p), kp) + mm(mm(ph, p), gh - mm(kk, x)),)
        kk = mm(p, gh)
        pk = mm(ph, kk)
        return (-_mT(mm(kk, p)) + mm(mm(gh - mm(x, kk), p), ph) + pk - mm(mm(pk, p), x),)

    return record(Tensor._wrap(p), "LinalgPinvBackward0", (a,), backward)


def _tol_value(xp, tol, x):
    if tol is None:
        return 0.0
    if isinstance(tol, Tensor):
        return tol._data[..., None]
    return float(tol)


def matrix_rank(A, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    a = _mat("linalg.matrix_rank", A, square=False)
    x = a._data
    xp = backend_of(x).xp
    m, n = x.shape[-2:]
    if x.size == 0:
        return Tensor._wrap(xp.zeros(x.shape[:-2], np.int64))
    s = xp.abs(xp.linalg.eigvalsh(x)) if hermitian else xp.linalg.svd(x, compute_uv=False)
    smax = s.max(-1, keepdims=True)
    atol_v = _tol_value(xp, atol, x)
    rtol_v = _tol_value(xp, rtol, x)
    if rtol is None:
        rtol_v = np.finfo(x.dtype).eps * max(m, n) if atol is None or (not isinstance(atol, Tensor) and atol <= 0) \
            else 0.0
    tol = xp.maximum(atol_v, rtol_v * smax)
    return Tensor._wrap((s > tol).sum(-1).astype(np.int64))


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution of A X = B (the minimum-norm one for rank-deficient A), computed as
    pinv(A) @ B, so it is differentiable in A and B. The other fields follow torch's drivers (CPU default
    'gelsy'): rank for gelsy/gelsd/gelss, singular_values for gelsd/gelss, residuals (the squared residual
    norm per column) for gels when m > n and for gelsd/gelss when m > n and every matrix has full rank;
    the fields a driver does not compute are empty."""
    a = _mat("linalg.lstsq", A, square=False)
    b = as_tensor(B, "linalg.lstsq")
    if driver not in (None, "gelsy", "gelsd", "gelss", "gels"):
        raise RuntimeError(f"parameter `driver` should be one of (gels, gelsy, gelsd, gelss), got {driver}")
    driver = driver or "gelsy"
    if b.dtype is not a.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
                           f"input's dtype {_TORCH_NAMES.get(a.dtype.name)} and other's dtype "
                           f"{_TORCH_NAMES.get(b.dtype.name)}")
    vector = b.ndim == a.ndim - 1
    if (b.ndim if not vector else b.ndim + 1) < 2 or b.shape[-1 if vector else -2] != a.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-{1 if vector else 2})")
    m, n = a.shape[-2:]
    dt = a._data.dtype
    rtol = rcond if rcond is not None and rcond > 0 else np.finfo(dt).eps * max(m, n)
    p = pinv(a, rtol=rtol)
    bb = _shape.unsqueeze(b, -1) if vector else b
    sol2 = matmul(p, bb)
    sol = _shape.squeeze(sol2, -1) if vector else sol2
    xp = backend_of(a._data).xp
    empty_f = Tensor._wrap(xp.zeros((0,), dt))
    rank = Tensor._wrap(xp.zeros((0,), np.int64)) if driver == "gels" else matrix_rank(a, rtol=rtol)
    svals = svdvals(a.detach()) if driver in ("gelsd", "gelss") else empty_f
    # An empty residuals tensor still requires grad with A or B (torch's LinalgLstsqBackward0 owns it); no gradient.
    residuals = record(Tensor._wrap(xp.zeros((0,), dt)), "LinalgLstsqBackward0", (a, b), lambda g: (None, None))
    full_rank = driver == "gels" or bool((rank._data == n).all())
    if m > n and driver != "gelsy" and full_rank:
        r = _arith.sub(matmul(a, sol2), bb)
        residuals = _red.sum(_arith.mul(r, r), -2)  # a vector B keeps its column: shape (..., 1), as torch
    return LstsqResult(sol, residuals, rank, svals)


def matrix_power(A, n: int) -> Tensor:
    a = as_tensor(A, "linalg.matrix_power")
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are {a.shape[-2]} "
                           f"by {a.shape[-1]} matrices")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    xp = backend_of(a._data).xp
    if n == 0:
        # The identity, joined to the graph with a zero gradient (as torch: a's copy overwritten by eye).
        eye = Tensor._wrap(xp.broadcast_to(xp.eye(a.shape[-1], dtype=a._data.dtype), a.shape).copy())
        return _arith.add(_arith.mul(a, 0.0), eye) if a._requires_grad else eye
    if n < 0:
        a = inv(a)
        n = -n
    result, base = None, a
    while n:  # square-and-multiply: O(log n) products
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def vecdot(x, y, *, dim: int = -1) -> Tensor:
    """sum(x * y, dim) with broadcasting (conj(x) for complex: fastnn has real dtypes only)."""
    a, b = as_tensor(x, "linalg.vecdot"), as_tensor(y, "linalg.vecdot")
    return _red.sum(_arith.mul(a, b), dim)


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A view-like copy of the diagonals of A over (dim1, dim2), appended as the last dim (torch.diagonal)."""
    a = as_tensor(A, "linalg.diagonal")
    d1, d2 = normalize_dim(dim1, a.ndim, "diagonal"), normalize_dim(dim2, a.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = a._data
    xp = backend_of(x).xp
    out = xp.diagonal(x, offset=offset, axis1=d1, axis2=d2).copy()

    def backward(g):
        z = xp.zeros(x.shape, g.dtype)
        zd = xp.moveaxis(z, (d1, d2), (-2, -1))
        size = out.shape[-1]
        r = xp.arange(size) + (0 if offset >= 0 else -offset)
        c = xp.arange(size) + (offset if offset >= 0 else 0)
        zd[..., r, c] = g
        return (z,)

    return record(Tensor._wrap(out), "DiagonalBackward0", (a,), backward)


def _vector_norm(x: Tensor, ord, dim, keepdim: bool) -> Tensor:
    """The vector norms linalg.norm needs (fastnn.linalg.vector_norm, from ops/norms.py, is the public one)."""
    from .similarity import _pnorm
    return _pnorm(x, float(ord), dim, keepdim)


_MATRIX_ORDS = ("fro", "nuc", float("inf"), -float("inf"), 1, -1, 2, -2)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    a = as_tensor(A, "linalg.matrix_norm")
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_NAMES.get(a.dtype.name, a.dtype.name)}")
    if dtype is not None:
        a = a.to(dtype)
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = (normalize_dim(d, a.ndim, "linalg.matrix_norm") for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return _vector_norm(a, 2, (d0, d1), keepdim)
    rest = [i for i in range(a.ndim) if i not in (d0, d1)]
    moved = _shape.permute(a, rest + [d0, d1])
    if ord in ("nuc", 2, -2):
        s = svdvals(moved)
        r = _red.sum(s, -1) if ord == "nuc" else (_red.amax(s, -1) if ord == 2 else _red.amin(s, -1))
    else:
        ax = _elem.abs(moved)
        sums = _red.sum(ax, -2 if abs(ord) == 1 else -1)  # 1: column sums; inf: row sums
        r = _red.amax(sums, -1) if ord > 0 else _red.amin(sums, -1)
    if keepdim:
        for d in sorted((d0, d1)):
            r = _shape.unsqueeze(r, d)
    return r


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.norm: a vector norm for 1-D dim (or ord None with dim None, over everything flattened), a
    matrix norm for a 2-tuple dim (or 2-D input with ord given)."""
    a = as_tensor(A, "linalg.norm")
    if dtype is not None:
        a = a.to(dtype)
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_NAMES.get(a.dtype.name, a.dtype.name)}")
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and a.ndim == 2):
        return matrix_norm(a, "fro" if ord is None else ord, dim if dim is not None else (-2, -1), keepdim)
    if dim is None and ord is not None and a.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{a.ndim}D.")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: Order {ord} not supported for vectors.")
    if dim is None:
        flat = _shape.reshape(a, (-1,))
        r = _vector_norm(flat, 2 if ord is None else ord, None, False)
        if keepdim:
            r = _shape.reshape(r, (1,) * a.ndim)
        return r
    return _vector_norm(a, 2 if ord is None else ord, tuple(dim), keepdim)


# ---- torch's top-level / Tensor-method spellings -----------------------------------------------------------
SvdLegacyResult = collections.namedtuple("svd", ["U", "S", "V"])
QRLegacyResult = collections.namedtuple("qr", ["Q", "R"])
SlogdetLegacyResult = collections.namedtuple("slogdet", ["sign", "logabsdet"])


def torch_svd(input, some: bool = True, compute_uv: bool = True):
    """torch.svd: (U, S, V) with V (not Vh); some=True is the reduced decomposition."""
    if not compute_uv:  # torch: zero-filled U (m, m) and V (n, n) whatever ``some`` says
        a = _mat("linalg.svd", input, square=False)
        xp = backend_of(a._data).xp
        m, n = a.shape[-2:]
        zeros = (lambda k: Tensor._wrap(xp.zeros(tuple(a.shape[:-2]) + (k, k), a._data.dtype)))
        return SvdLegacyResult(zeros(m), svdvals(a), zeros(n))
    u, s, vh = svd(input, full_matrices=not some)
    return SvdLegacyResult(u, s, _shape.transpose(vh, -2, -1))


def torch_qr(input, some: bool = True):
    return QRLegacyResult(*qr(input, "reduced" if some else "complete"))


def torch_cholesky(input, upper: bool = False) -> Tensor:
    return cholesky(input, upper=upper)


def torch_slogdet(input):
    return SlogdetLegacyResult(*slogdet(input))


def pinverse(input, rcond: float = 1e-15) -> Tensor:
    return pinv(input, rtol=rcond)


def solve_triangular(A, B, *, upper: bool, left: bool = True, unitriangular: bool = False) -> Tensor:
    """X with A X = B (or X A = B) reading only A's upper or lower triangle (its diagonal taken as ones when
    unitriangular). Built on solve of the masked triangle, so A's gradient lands on that triangle only (as
    torch's). LAPACK's gesv does the solve (xp.linalg has no triangular solver: O(n^3) instead of O(n^2 k))."""
    a = _mat("linalg.solve_triangular", A)
    b = as_tensor(B, "linalg.solve_triangular")
    if b.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    xp = backend_of(a._data).xp
    n = a.shape[-1]
    ones = xp.ones((n, n), a._data.dtype)
    keep = xp.triu(ones, 1 if unitriangular else 0) if upper else xp.tril(ones, -1 if unitriangular else 0)
    tri = _arith.mul(a, Tensor._wrap(keep))
    if unitriangular:
        tri = _arith.add(tri, Tensor._wrap(xp.eye(n, dtype=a._data.dtype)))
    return solve(tri, b, left=left)
