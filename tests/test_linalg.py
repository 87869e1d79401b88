"""fastnn.linalg against torch.linalg: values and gradients on batched, size-1, zero-size and float32 inputs,
float64 gradchecks (gauge-invariant functions of the decompositions), torch's errors (LinAlgError)."""
import numpy as np
import pytest
import torch

import fastnn
from fastnn import linalg as LA
from op_helpers import assert_close, gradcheck_op, noncontiguous

RNG = np.random.default_rng(11)


def _arr(shape, kind="general"):
    a = RNG.standard_normal(shape)
    if kind == "spd":
        a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    elif kind == "wellcond":
        a = a + 2 * shape[-1] ** 0.5 * np.eye(shape[-1])
    return a


def _check(ff, tf, arrays, post=None, dtype=np.float64, atol=1e-9, rtol=1e-7, grad=True):
    """Same inputs to both: outputs (after ``post``, e.g. a gauge-invariant map) and gradients must agree."""
    F = [fastnn.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    T = [torch.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    of, ot = ff(*F), tf(*T)
    if post is not None:
        of, ot = post(of), post(ot)
    if not isinstance(of, (tuple, list)):
        of, ot = [of], [ot]
    lf = lt = 0
    for a, b in zip(of, ot):
        assert tuple(a.shape) == tuple(b.shape)
        assert_close(a, b.detach().numpy(), atol=atol, rtol=rtol)
        if grad and b.requires_grad and b.numel():
            w = RNG.standard_normal(tuple(b.shape)).astype(dtype)
            lf = lf + (a * fastnn.tensor(w)).sum()
            lt = lt + (b * torch.tensor(w)).sum()
    if grad and isinstance(lt, torch.Tensor) and lt.requires_grad:
        lf.backward()
        lt.backward()
        for f, t in zip(F, T):
            want = t.grad.numpy() if t.grad is not None else np.zeros(t.shape)  # torch: no path, no gradient
            got = f.grad if f.grad is not None else np.zeros(f.shape)
            assert_close(got, want, atol=atol, rtol=rtol)


BATCHES = [(), (1,), (2, 3)]
SIZES = [1, 3, 5]


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("n", SIZES)
def test_inv_det_slogdet_solve(batch, n):
    a = _arr(batch + (n, n), "wellcond")
    b = RNG.standard_normal(batch + (n, 2))
    _check(LA.inv, torch.linalg.inv, [a])
    _check(LA.det, torch.linalg.det, [a])
    _check(LA.slogdet, torch.linalg.slogdet, [a])
    _check(LA.solve, torch.linalg.solve, [a, b])
    _check(LA.solve, torch.linalg.solve, [a, b[..., 0]])
    _check(lambda x, y: LA.solve(x, y, left=False), lambda x, y: torch.linalg.solve(x, y, left=False),
           [a, np.swapaxes(b, -1, -2)])


def test_solve_broadcasts_and_float32_and_zero_size():
    _check(LA.solve, torch.linalg.solve, [_arr((2, 1, 3, 3), "wellcond"), RNG.standard_normal((4, 3, 2))])
    _check(LA.solve, torch.linalg.solve, [_arr((3, 3), "wellcond"), RNG.standard_normal((3,))])
    _check(LA.inv, torch.linalg.inv, [_arr((2, 4, 4), "wellcond")], dtype=np.float32, atol=1e-5, rtol=1e-4)
    for f, t in [(LA.inv, torch.linalg.inv), (LA.det, torch.linalg.det)]:
        _check(f, t, [np.zeros((0, 3, 3))], grad=False)
        _check(f, t, [np.zeros((2, 0, 0))], grad=False)
    x = _arr((3, 3), "wellcond")
    assert_close(LA.inv(noncontiguous(x)), np.linalg.inv(x))


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(upper, left, unit):
    a = _arr((2, 3, 3), "wellcond")
    b = RNG.standard_normal((2, 3, 2) if left else (2, 2, 3))
    kw = dict(upper=upper, left=left, unitriangular=unit)
    _check(lambda x, y: LA.solve_triangular(x, y, **kw), lambda x, y: torch.linalg.solve_triangular(x, y, **kw), [a, b])
    if not unit:
        gradcheck_op(lambda x, y: LA.solve_triangular(x, y, **kw), a[0], b[0])


def test_inv_solve_det_gradcheck():
    a = _arr((2, 3, 3), "wellcond")
    gradcheck_op(LA.inv, a)
    gradcheck_op(LA.solve, a, (2, 3, 2))
    gradcheck_op(LA.solve, a[0], (3,))
    gradcheck_op(lambda x, y: LA.solve(x, y, left=False), a, (2, 2, 3))
    gradcheck_op(LA.det, a)
    gradcheck_op(lambda x: LA.slogdet(x).logabsdet, a)
    gradcheck_op(LA.det, np.array([[1.0, 2.0], [2.0, 4.0]]))  # singular: the cofactor is still the derivative
    gradcheck_op(fastnn.logdet, _arr((3, 3), "spd"))


def test_singular_and_shape_errors_match_torch():
    assert issubclass(LA.LinAlgError, RuntimeError)
    cases = [(LA.inv, torch.linalg.inv, (np.zeros((3, 3)),)),
             (LA.inv, torch.linalg.inv, (np.array([[1.0, 2.0], [2.0, 4.0]]),)),
             (LA.inv, torch.linalg.inv, (np.zeros((2, 3, 3)),)),
             (LA.solve, torch.linalg.solve, (np.zeros((3, 3)), np.ones(3))),
             (LA.solve, torch.linalg.solve, (np.zeros((2, 3, 3)), np.ones(3))),
             (LA.cholesky, torch.linalg.cholesky, (-np.eye(3),)),
             (LA.cholesky, torch.linalg.cholesky, (np.diag([1.0, 1.0, -1.0]),))]
    for f, t, args in cases:
        with pytest.raises(torch.linalg.LinAlgError) as te:
            t(*[torch.tensor(a) for a in args])
        with pytest.raises(LA.LinAlgError) as fe:
            f(*[fastnn.tensor(a) for a in args])
        assert str(fe.value) == str(te.value)
    for f, name in [(LA.inv, "inv"), (LA.det, "det"), (LA.cholesky, "cholesky"), (LA.eigh, "eigh"),
                    (LA.slogdet, "slogdet")]:
        with pytest.raises(RuntimeError, match=f"linalg.{name}: A must be batches of square matrices, but they "
                                               "are 2 by 3 matrices"):
            f(fastnn.zeros(2, 3))
    with pytest.raises(RuntimeError, match="linalg.svd: The input tensor A must have at least 2 dimensions."):
        LA.svd(fastnn.zeros(3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        LA.inv(fastnn.zeros(3, 3, dtype=fastnn.int64))
    inv, info = LA.inv_ex(fastnn.zeros(2, 3, 3))
    assert info.tolist() == [1, 1] and np.isnan(np.asarray(inv)).all()
    assert info.dtype is fastnn.int32 and LA.inv_ex(fastnn.eye(2))[1].dtype is fastnn.int32  # torch's


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("n", SIZES)
def test_cholesky_eigh(batch, n):
    a = _arr(batch + (n, n), "spd")
    _check(LA.cholesky, torch.linalg.cholesky, [a])
    _check(lambda x: LA.cholesky(x, upper=True), lambda x: torch.linalg.cholesky(x, upper=True), [a])
    _check(LA.eigh, torch.linalg.eigh, [a], post=lambda r: (r[0], r[1] * r[1]))
    _check(LA.eigvalsh, torch.linalg.eigvalsh, [a])
    _check(lambda x: LA.eigh(x, UPLO="U"), lambda x: torch.linalg.eigh(x, UPLO="U"), [a],
           post=lambda r: (r[0], r[1] * r[1]))


def test_cholesky_eigh_gradcheck_and_ex():
    def sym(x):
        return fastnn.matmul(x, x.mT) + fastnn.eye(3, dtype=fastnn.float64) * 3
    gradcheck_op(lambda x: LA.cholesky(sym(x)), (2, 3, 3))
    gradcheck_op(lambda x: LA.cholesky(sym(x), upper=True), (3, 3))
    gradcheck_op(lambda x: [(lambda r: (r[0], r[1] * r[1]))(LA.eigh(sym(x)))][0], (3, 3))
    gradcheck_op(lambda x: LA.eigvalsh(sym(x)), (2, 3, 3))
    low, info = LA.cholesky_ex(fastnn.tensor(np.diag([1.0, -1.0])))
    assert info.tolist() == 2 and np.isnan(np.asarray(low)).all()
    assert info.dtype is fastnn.int32 and LA.cholesky_ex(fastnn.eye(2))[1].dtype is fastnn.int32  # torch's


QR_SHAPES = [(4, 3), (3, 3), (3, 5), (2, 5, 2), (1, 1)]


@pytest.mark.parametrize("shape", QR_SHAPES, ids=str)
def test_qr_matches_torch(shape):
    a = RNG.standard_normal(shape)
    _check(LA.qr, torch.linalg.qr, [a])
    _check(lambda x: LA.qr(x, mode="r").R, lambda x: torch.linalg.qr(x, mode="r").R, [a], grad=False)
    if shape[-2] <= shape[-1]:
        _check(lambda x: LA.qr(x, mode="complete"), lambda x: torch.linalg.qr(x, mode="complete"), [a])
    else:
        q, r = LA.qr(fastnn.tensor(a), mode="complete")
        m, n = shape[-2:]
        assert q.shape == shape[:-2] + (m, m) and r.shape == shape[:-2] + (m, n)
        assert_close(fastnn.matmul(q, r), a)


def test_qr_gradcheck_and_errors():
    gradcheck_op(LA.qr, (4, 3))
    gradcheck_op(LA.qr, (2, 3, 5))
    gradcheck_op(lambda x: LA.qr(x).R, (3, 3))
    x = fastnn.tensor(RNG.standard_normal((3, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="not computed when mode='r'"):
        LA.qr(x, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'x'"):
        LA.qr(x, mode="x")


SVD_SHAPES = [(4, 3), (3, 5), (2, 3, 3), (1, 1), (2, 4, 2)]


def _gauge_free(r):
    u, s, vh = r
    k = s.shape[-1]
    return s, u[..., :, :k] @ vh[..., :k, :], u[..., :, :k] ** 2


@pytest.mark.parametrize("shape", SVD_SHAPES, ids=str)
@pytest.mark.parametrize("full", [False, True])
def test_svd_svdvals_pinv(shape, full):
    a = RNG.standard_normal(shape)
    _check(lambda x: LA.svd(x, full_matrices=full), lambda x: torch.linalg.svd(x, full_matrices=full), [a],
           post=_gauge_free)
    u, s, vh = LA.svd(fastnn.tensor(a), full_matrices=full)
    m, n = shape[-2:]
    assert u.shape[-1] == (m if full else min(m, n)) and vh.shape[-2] == (n if full else min(m, n))
    _check(LA.svdvals, torch.linalg.svdvals, [a])
    _check(LA.pinv, torch.linalg.pinv, [a])


def test_svd_pinv_gradcheck_zero_size_and_rank_deficient():
    gradcheck_op(lambda x: _gauge_free(LA.svd(x, full_matrices=False)), (4, 3))
    gradcheck_op(lambda x: _gauge_free(LA.svd(x, full_matrices=False)), (2, 2, 3))
    gradcheck_op(LA.svdvals, (3, 4))
    gradcheck_op(LA.pinv, (4, 3))
    gradcheck_op(LA.pinv, (2, 3, 5))
    low_rank = RNG.standard_normal((4, 2)) @ RNG.standard_normal((2, 3))
    _check(LA.pinv, torch.linalg.pinv, [low_rank], atol=1e-7, rtol=1e-6)
    _check(LA.svdvals, torch.linalg.svdvals, [np.zeros((0, 3))], grad=False)
    _check(LA.pinv, torch.linalg.pinv, [np.zeros((3, 0))], grad=False)
    assert LA.svd(fastnn.zeros(0, 3)).U.shape == (0, 0)


def test_lstsq_matrix_rank_matrix_power():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    _check(lambda x, y: LA.lstsq(x, y).solution, lambda x, y: torch.linalg.lstsq(x, y).solution, [a, b])
    _check(lambda x, y: LA.lstsq(x, y).solution, lambda x, y: torch.linalg.lstsq(x, y).solution,
           [RNG.standard_normal((2, 3, 3)), RNG.standard_normal((2, 3, 4))])
    res = LA.lstsq(fastnn.tensor(a), fastnn.tensor(b))
    ref = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b))
    assert res._fields == ("solution", "residuals", "rank", "singular_values")
    assert [ref.solution.shape, ref.residuals.shape, ref.rank.shape] == [r.shape for r in res[:3]]
    assert res.rank.item() == ref.rank.item() and res.residuals.shape == ref.residuals.shape
    gradcheck_op(lambda x, y: LA.lstsq(x, y).solution, (5, 3), (5, 2))
    for driver in ("gels", "gelsy", "gelsd", "gelss"):
        for sa, sb in [((5, 3), (5, 2)), ((2, 3, 3), (2, 3, 2)), ((5, 3), (5,))]:
            a_, b_ = RNG.standard_normal(sa), RNG.standard_normal(sb)
            res = LA.lstsq(fastnn.tensor(a_), fastnn.tensor(b_), driver=driver)
            ref = torch.linalg.lstsq(torch.tensor(a_), torch.tensor(b_), driver=driver)
            for got, want in zip(res, ref):
                _check(lambda: got, lambda: want, [], grad=False)
    for m in [np.ones((3, 3)), RNG.standard_normal((2, 4, 3)), np.zeros((3, 2)), np.diag([1.0, 1e-20, 1.0])]:
        assert LA.matrix_rank(fastnn.tensor(m)).tolist() == torch.linalg.matrix_rank(torch.tensor(m)).tolist()
    assert LA.matrix_rank(fastnn.tensor(np.eye(3)), hermitian=True).item() == 3
    sq = _arr((2, 3, 3), "wellcond") / 3
    for p in (0, 1, 2, 5, -1, -3):
        _check(lambda x: LA.matrix_power(x, p), lambda x: torch.linalg.matrix_power(x, p), [sq])
    gradcheck_op(lambda x: LA.matrix_power(x, 3), (3, 3))
    with pytest.raises(RuntimeError, match="linalg.matrix_power: A must be batches of square matrices"):
        LA.matrix_power(fastnn.zeros(2, 3), 2)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), -float("inf")], ids=str)
def test_matrix_norm(ord):
    a = RNG.standard_normal((2, 4, 3))
    _check(lambda x: LA.matrix_norm(x, ord), lambda x: torch.linalg.matrix_norm(x, ord), [a])
    _check(lambda x: LA.matrix_norm(x, ord, dim=(0, 2), keepdim=True),
           lambda x: torch.linalg.matrix_norm(x, ord, dim=(0, 2), keepdim=True), [a])
    _check(lambda x: LA.norm(x, ord), lambda x: torch.linalg.norm(x, ord), [a[0]])
    gradcheck_op(lambda x: LA.matrix_norm(x, ord), (3, 2))


def test_norm_vector_cases_vecdot_diagonal():
    a = RNG.standard_normal((2, 4, 3))
    _check(LA.norm, torch.linalg.norm, [a])
    _check(lambda x: LA.norm(x, keepdim=True), lambda x: torch.linalg.norm(x, keepdim=True), [a])
    for ord in (1, 2, 3.5, float("inf"), -float("inf")):
        _check(lambda x: LA.norm(x, ord, dim=1), lambda x: torch.linalg.norm(x, ord, dim=1), [a])
    _check(lambda x: LA.norm(x, 1), lambda x: torch.linalg.norm(x, 1), [a[0, 0]])
    for ord in (None, 0, 1, 2, 0.5, float("inf")):  # subgradients at zero: 0, as torch (no NaN)
        _check(lambda x: LA.norm(x, ord), lambda x: torch.linalg.norm(x, ord), [np.zeros(4)])
    _check(lambda x: LA.matrix_norm(x), lambda x: torch.linalg.matrix_norm(x), [np.zeros((2, 3))])
    with pytest.raises(RuntimeError, match="If dim is not specified but ord is, the input must be 1D or 2D"):
        LA.norm(fastnn.tensor(a), 2)
    _check(LA.vecdot, torch.linalg.vecdot, [RNG.standard_normal((2, 3)), RNG.standard_normal((3,))])
    _check(lambda x, y: LA.vecdot(x, y, dim=0), lambda x, y: torch.linalg.vecdot(x, y, dim=0),
           [RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))])
    for kw in [{}, {"offset": 1}, {"offset": -2, "dim1": 0, "dim2": 2}, {"offset": 5}]:
        _check(lambda x: LA.diagonal(x, **kw), lambda x: torch.linalg.diagonal(x, **kw), [a])
    gradcheck_op(lambda x: LA.diagonal(x, offset=-1), (2, 3, 3))


def test_tensor_methods_and_top_level_names():
    a = _arr((3, 3), "spd")
    t, tt = fastnn.tensor(a), torch.tensor(a)
    assert_close(t.inverse(), tt.inverse().numpy())
    assert_close(t.det(), tt.det().numpy())
    assert_close(t.logdet(), tt.logdet().numpy())
    assert_close(t.slogdet()[1], tt.slogdet()[1].numpy())
    assert_close(t.matrix_power(2), tt.matrix_power(2).numpy())
    assert_close(t.pinverse(), tt.pinverse().numpy())
    assert_close(t.cholesky(), tt.cholesky().numpy())
    assert_close(fastnn.inverse(t), torch.inverse(tt).numpy())
    assert_close(fastnn.det(t), torch.det(tt).numpy())
    q, r = t.qr()
    assert_close(q @ r, a)
    wide, twide = fastnn.tensor(a[:2]), tt[:2]
    for kw in [{}, {"some": False}, {"compute_uv": False}]:
        u, s, v = fastnn.svd(wide, **kw)
        tu, ts, tv = torch.svd(twide, **kw)
        assert u.shape == tu.shape and v.shape == tv.shape
        assert_close(s, ts.numpy())
        if kw.get("compute_uv", True):
            k = s.shape[-1]
            assert_close((u[:, :k] * s) @ v[:, :k].T, a[:2])
