"""Batch norm kernels (the "batchnorm" family) against a float64 NumPy reference at every ISA level, in
both layouts of the native kernel (rows for L >= 32, columns below), training and eval, forward and
backward; bitwise the same at 1 and 2 threads; bad input raising errors that name the kernel; the composite
reference agreeing with the CPU backend; the op's gradcheck through both."""
import numpy as np
import pytest

import fastnn
import op_helpers
from fastnn import _C
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend

ISAS = list(_C.isa_levels())
DTYPES = [np.float32, np.float64]
TOL = {np.float32: (2e-6, 2e-5), np.float64: (1e-12, 1e-10)}
# (N, C, L): odd sizes on both sides of the row/column switch (L = 32), a block boundary (L = 2048),
# C = 1, L = 1 ((N, C) input) and N = 1.
SHAPES = [(4, 3, 1), (17, 5, 1), (3, 1, 7), (5, 4, 31), (2, 3, 32), (6, 2, 33), (3, 5, 100), (1, 3, 50),
          (2, 2, 2049), (70, 3, 5), (1, 1, 4100)]


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def reference(x, w, b, rm, rv, training, eps, g):
    """(y, mean, invstd, var, dx, dw, db) in float64 from the same (possibly float32) inputs."""
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    n, c, l = x.shape
    count = n * l
    if training:
        mean, var = x64.mean(axis=(0, 2)), x64.var(axis=(0, 2))
    else:
        mean, var = rm.astype(np.float64), rv.astype(np.float64)
    invstd = 1 / np.sqrt(var + eps)
    xhat = (x64 - mean[:, None]) * invstd[:, None]
    w64 = np.ones(c) if w is None else w.astype(np.float64)
    y = xhat * w64[:, None] + (0 if b is None else b.astype(np.float64)[:, None])
    gsum, gdot = g64.sum(axis=(0, 2)), (g64 * xhat).sum(axis=(0, 2))
    k = (w64 * invstd)[:, None]
    dx = k * (g64 - gsum[:, None] / count - xhat * gdot[:, None] / count) if training else k * g64
    return y, mean, invstd, var, dx, gdot, gsum


def assert_close(actual, expected, dtype, scale=1.0):
    atol, rtol = TOL[dtype]
    assert np.isfinite(actual).all() and np.isfinite(expected).all(), "non-finite values"
    op_helpers.assert_close(actual, expected, atol * scale, rtol * scale)


def make(shape, dtype, seed, offset=3.0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
    w = rng.uniform(0.5, 1.5, c).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    rm = rng.standard_normal(c).astype(dtype)
    rv = rng.uniform(0.5, 2.0, c).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    return x, w, b, rm, rv, g


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_binding_matches_reference(isa, shape, dtype, training):
    x, w, b, rm, rv, g = make(shape, dtype, sum(shape))
    eps = 1e-5
    ry, rmean, rinv, rvar, rdx, rdw, rdb = reference(x, w, b, rm, rv, training, eps, g)
    y, mean, invstd, var = _C.batch_norm_forward(x, w, b, rm, rv, training, eps, isa=isa)
    assert y.dtype == dtype and y.shape == x.shape and mean.dtype == invstd.dtype == np.float64
    assert_close(y, ry, dtype)
    assert_close(mean, rmean, dtype)
    assert_close(invstd, rinv, dtype)
    if training:
        assert_close(var, rvar, dtype)
    else:
        assert var is None
    dx, dw, db = _C.batch_norm_backward(g, x, mean, invstd, w, training, need_input=True, need_weight=True,
                                        need_bias=True, isa=isa)
    assert dx.dtype == dw.dtype == db.dtype == dtype
    count = shape[0] * shape[2]
    assert_close(dx, rdx, dtype, scale=10)
    assert_close(dw, rdw, dtype, scale=max(1, np.sqrt(count)))
    assert_close(db, rdb, dtype, scale=max(1, np.sqrt(count)))
    only_dx = _C.batch_norm_backward(g, x, mean, invstd, w, training, isa=isa)
    assert only_dx[1] is None and only_dx[2] is None and np.array_equal(only_dx[0], dx)
    only_dw = _C.batch_norm_backward(g, x, mean, invstd, w, training, need_input=False, need_weight=True, isa=isa)
    assert only_dw[0] is None and only_dw[2] is None and np.array_equal(only_dw[1], dw)


@pytest.mark.parametrize("shape", [(6, 3, 1), (4, 2, 40)], ids=str)
def test_without_affine_parameters(isa, shape):
    x, _, _, rm, rv, g = make(shape, np.float64, 7)
    for training in (True, False):
        ry, _, _, _, rdx, rdw, rdb = reference(x, None, None, rm, rv, training, 1e-3, g)
        y, mean, invstd, _ = _C.batch_norm_forward(x, None, None, rm, rv, training, 1e-3, isa=isa)
        assert_close(y, ry, np.float64)
        dx, dw, db = _C.batch_norm_backward(g, x, mean, invstd, None, training, need_weight=True, need_bias=True,
                                            isa=isa)
        assert_close(dx, rdx, np.float64, scale=10)
        assert_close(dw, rdw, np.float64, scale=10)
        assert_close(db, rdb, np.float64, scale=10)


@pytest.mark.parametrize("shape", [(64, 3, 32), (256, 4, 1), (16, 3, 3000)], ids=str)
def test_float32_large_mean_stays_accurate(isa, shape):
    """|mean| = 1000 >> std = 2: the statistics must not lose the variance (one-pass E[x²] - E[x]²) nor
    shift the outputs by the mean's float32 rounding (3e-5 of std)."""
    x, w, b, rm, rv, g = make(shape, np.float32, 4, offset=1000.0)
    ry, rmean, rinv, rvar, rdx, rdw, _ = reference(x, w, b, rm, rv, True, 1e-5, g)
    y, mean, invstd, var = _C.batch_norm_forward(x, w, b, None, None, True, 1e-5, isa=isa)
    op_helpers.assert_close(y, ry, 5e-6, 1e-6)
    op_helpers.assert_close(mean, rmean, 1e-6, 0)
    op_helpers.assert_close(var, rvar, 0, 1e-5)
    dx, dw, _ = _C.batch_norm_backward(g, x, mean, invstd, w, True, need_weight=True, isa=isa)
    op_helpers.assert_close(dx, rdx, 2e-5, 1e-4)
    op_helpers.assert_close(dw, rdw, 1e-4 * np.sqrt(x.size / shape[1]), 1e-4)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(64, 8, 1), (300, 5, 3), (32, 4, 200), (3, 2, 5000)], ids=str)
def test_bitwise_same_at_one_and_two_threads(isa, threads, shape, training):
    x, w, b, rm, rv, g = make(shape, np.float32, 11)
    out = []
    for nt in (1, 2):
        threads(nt)
        y, mean, invstd, var = _C.batch_norm_forward(x, w, b, rm, rv, training, 1e-5, isa=isa)
        grads = _C.batch_norm_backward(g, x, mean, invstd, w, training, need_weight=True, need_bias=True, isa=isa)
        out.append((y, mean, invstd) + tuple(grads) + ((var,) if training else ()))
    for one, two in zip(*out):
        assert np.array_equal(one, two)


def test_isa_levels_agree_closely():
    x, w, b, rm, rv, g = make((8, 3, 45), np.float64, 3)
    base = _C.batch_norm_forward(x, w, b, rm, rv, True, 1e-5, isa="generic")
    for level in ISAS:
        y, mean, invstd, var = _C.batch_norm_forward(x, w, b, rm, rv, True, 1e-5, isa=level)
        np.testing.assert_allclose(y, base[0], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(var, base[3], rtol=1e-13)


def test_empty_shapes():
    x = np.zeros((0, 3, 4), np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    y, mean, invstd, var = _C.batch_norm_forward(x, None, None, rm, rv, False)
    assert y.shape == (0, 3, 4) and var is None and np.array_equal(mean, rm)
    dx, dw, db = _C.batch_norm_backward(x, x, mean, invstd, None, True, need_weight=True, need_bias=True)
    assert dx.shape == x.shape and np.array_equal(dw, np.zeros(3)) and np.array_equal(db, np.zeros(3))
    y, mean, _, var = _C.batch_norm_forward(np.zeros((2, 0, 5)), training=True)
    assert y.shape == (2, 0, 5) and mean.shape == var.shape == (0,)


def test_bad_inputs_raise_naming_the_kernel():
    x = np.ones((2, 3, 4), np.float32)
    v = np.ones(3, np.float32)
    fwd, bwd = "batch_norm_forward", "batch_norm_backward"
    with pytest.raises(TypeError, match=f"{fwd}: expected x to be float32 or float64, got int64"):
        _C.batch_norm_forward(np.ones((2, 3, 4), np.int64))
    with pytest.raises(ValueError, match=f"{fwd}: expected x to be 3-D"):
        _C.batch_norm_forward(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=f"{fwd}: expected x .* to be C-contiguous"):
        _C.batch_norm_forward(np.ones((2, 4, 3), np.float32).transpose(0, 2, 1))
    with pytest.raises(TypeError, match=f"{fwd}: expected weight to have dtype float32, got float64"):
        _C.batch_norm_forward(x, np.ones(3))
    with pytest.raises(ValueError, match=rf"{fwd}: expected bias of shape \(3,\), got \(4,\)"):
        _C.batch_norm_forward(x, v, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=f"{fwd}: eval mode needs running_mean and running_var"):
        _C.batch_norm_forward(x, v, v, v, None, False)
    with pytest.raises(ValueError, match=f"{fwd}: eps must be non-negative"):
        _C.batch_norm_forward(x, eps=-1.0)
    with pytest.raises(ValueError, match=f"{fwd}: training needs at least one value per channel"):
        _C.batch_norm_forward(np.ones((0, 3, 4), np.float32), training=True)
    mean, invstd = np.zeros(3), np.ones(3)
    with pytest.raises(TypeError, match=f"{bwd}: expected grad_output to have dtype float32"):
        _C.batch_norm_backward(x.astype(np.float64), x, mean, invstd)
    with pytest.raises(ValueError, match=f"{bwd}: grad_output has shape"):
        _C.batch_norm_backward(np.ones((2, 3, 5), np.float32), x, mean, invstd)
    with pytest.raises(TypeError, match=f"{bwd}: expected mean to have dtype float64, got float32"):
        _C.batch_norm_backward(x, x, mean.astype(np.float32), invstd)
    with pytest.raises(ValueError, match=rf"{bwd}: expected invstd of shape \(3,\)"):
        _C.batch_norm_backward(x, x, mean, np.ones(2))
    with pytest.raises(ValueError, match="no ISA level|unknown|avx9"):
        _C.batch_norm_forward(x, isa="avx9")


# ---- the composite reference against the CPU backend -------------------------------------------------------

CPU = fastnn.device("cpu")


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(9, 4, 1), (5, 3, 20), (4, 2, 77), (2, 3, 2100)], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_composite_matches_cpu_backend(shape, dtype, training, affine):
    comp, cpu = CompositeBackend(CPU), CpuBackend(CPU)
    x, w, b, rm, rv, g = make(shape, dtype, 5)
    if not affine:
        w = b = None
    outs = []
    for be in (comp, cpu):
        y, mean, invstd, var = be.batch_norm_forward(x, w, b, rm, rv, training, 1e-5)
        grads = be.batch_norm_backward(g, x, mean, invstd, w, training, True, affine, affine)
        outs.append((y, mean, invstd, var) + tuple(grads))
    for name, a, c in zip(("y", "mean", "invstd", "var", "dx", "dw", "db"), *outs):
        if a is None or c is None:
            assert a is None and c is None, name
            continue
        assert a.dtype == c.dtype and a.shape == c.shape, name
        atol, rtol = (1e-5, 1e-5) if dtype == np.float32 else (1e-12, 1e-12)
        scale = 10 if name in ("dx", "dw", "db") else 1
        np.testing.assert_allclose(a, c, atol=atol * scale * max(1, np.sqrt(shape[0] * shape[2]) / 10), rtol=rtol,
                                   err_msg=name)


@pytest.mark.parametrize("cls", [CompositeBackend, CpuBackend])
def test_both_backends_refuse_the_same_bad_arguments(cls):
    be = cls(CPU)
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError):
        be.batch_norm_forward(x, None, None, None, None, False, 1e-5)
    with pytest.raises(ValueError):
        be.batch_norm_forward(x, None, None, None, None, True, -1.0)
    with pytest.raises(ValueError):
        be.batch_norm_forward(np.ones((0, 3, 4)), None, None, None, None, True, 1e-5)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (3, 2, 40)], ids=str)
def test_op_gradcheck_in_both_layouts(shape, training):
    """F.batch_norm's float64 gradients, through the column (L < 32) and row (L >= 32) kernels."""
    rng = np.random.default_rng(6)
    c = shape[1]
    rm, rv = fastnn.tensor(rng.standard_normal(c)), fastnn.tensor(rng.uniform(0.5, 2, c))

    def fn(x, w, b):
        return fastnn.nn.functional.batch_norm(x, rm, rv, w, b, training, 0.0, 1e-3)

    op_helpers.gradcheck_op(fn, shape, rng.uniform(0.5, 1.5, c), (c,))
