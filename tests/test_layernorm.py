"""LayerNorm kernels against a float64 NumPy reference at every ISA level and 1/2 threads; bitwise
determinism of dweight/dbias; the layer_norm op against gradcheck and PyTorch."""
import numpy as np
import pytest

import fastnn
import op_helpers
from fastnn import _C

ISAS = list(_C.isa_levels())
DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-5, 1e-4), np.float64: (1e-12, 1e-10)}


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def assert_close(actual, expected, dtype, scale=1.0):
    atol, rtol = TOL[dtype]
    # layer norm of finite input is finite: no NaN or inf may pass, not even where the reference has one
    assert np.isfinite(actual).all() and np.isfinite(expected).all(), "non-finite values"
    op_helpers.assert_close(actual, expected, atol * scale, rtol)


def reference(x, w, b, g, eps=1e-5):
    """(y, mean, rstd, dx, dw, db) in float64."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    d = x.shape[1]
    mean = x.mean(axis=1)
    rstd = 1 / np.sqrt(((x - mean[:, None]) ** 2).mean(axis=1) + eps)
    xhat = (x - mean[:, None]) * rstd[:, None]
    w64 = np.ones(d) if w is None else w.astype(np.float64)
    y = xhat * w64 + (0 if b is None else b.astype(np.float64))
    gw = g * w64
    dx = rstd[:, None] * (gw - gw.mean(axis=1, keepdims=True) - xhat * (gw * xhat).mean(axis=1, keepdims=True))
    return y, mean, rstd, dx, (g * xhat).sum(axis=0), g.sum(axis=0)


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,cols", [(1, 1), (7, 17), (17, 63), (5, 129), (129, 7), (63, 1024), (0, 5)])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_kernels_match_reference(isa, threads, nthreads, dtype, rows, cols, affine):
    threads(nthreads)
    rng = np.random.default_rng(rows * 100 + cols)
    x = (rng.standard_normal((rows, cols)) * 2 + 3).astype(dtype)
    w = rng.standard_normal(cols).astype(dtype) if affine != "none" else None
    b = rng.standard_normal(cols).astype(dtype) if affine == "both" else None
    g = rng.standard_normal((rows, cols)).astype(dtype)
    ry, rmean, rrstd, rdx, rdw, rdb = reference(x, w, b, g)
    y, mean, rstd = _C.layer_norm_forward(x, w, b, 1e-5, isa=isa)
    assert y.dtype == mean.dtype == rstd.dtype == dtype
    assert_close(y, ry, dtype)
    assert_close(mean, rmean, dtype)
    assert_close(rstd, rrstd, dtype)
    dx, dw, db = _C.layer_norm_backward(x, g, mean, rstd, w, need_input=True, need_weight=True, need_bias=True,
                                        isa=isa)
    assert_close(dx, rdx, dtype, scale=10)
    assert_close(dw, rdw, dtype, scale=max(1, np.sqrt(rows)))
    assert_close(db, rdb, dtype, scale=max(1, np.sqrt(rows)))
    only_dx = _C.layer_norm_backward(x, g, mean, rstd, w, isa=isa)
    assert only_dx[1] is None and only_dx[2] is None and np.array_equal(only_dx[0], dx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_rows_and_large_mean(isa, dtype):
    rng = np.random.default_rng(2)
    big = rng.standard_normal((30, 80)).astype(dtype)
    x = big[::3, 5:70]  # row stride 240 elements
    x_far = x + dtype(1000)  # |mean| >> std: the two-pass variance keeps its precision
    for arr in (x, x_far):
        g = rng.standard_normal(arr.shape).astype(dtype)
        ry, _, _, rdx, rdw, rdb = reference(arr, None, None, g)
        y, mean, rstd = _C.layer_norm_forward(arr, None, None, 1e-5, isa=isa)
        assert_close(y, ry, dtype, scale=20)
        dx, dw, db = _C.layer_norm_backward(arr, g, mean, rstd, None, need_weight=True, need_bias=True, isa=isa)
        assert_close(dx, rdx, dtype, scale=20)


def test_bitwise_deterministic_across_threads(isa, threads):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1000, 777)).astype(np.float32)  # 63 blocks of 16 rows; 2 threads used
    w, b = rng.standard_normal(777).astype(np.float32), rng.standard_normal(777).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    out = {}
    for n in (1, 2):
        threads(n)
        y, mean, rstd = _C.layer_norm_forward(x, w, b, 1e-5, isa=isa)
        out[n] = (y, mean, rstd) + _C.layer_norm_backward(x, g, mean, rstd, w, need_weight=True, need_bias=True,
                                                          isa=isa)
    assert all(np.array_equal(a, c) for a, c in zip(out[1], out[2]))


def test_kernel_bad_input():
    x = np.zeros((4, 5), np.float32)
    w = np.ones(5, np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.layer_norm_forward(x.astype(np.int64))
    with pytest.raises(TypeError, match="weight"):
        _C.layer_norm_forward(x, w.astype(np.float64))
    with pytest.raises(ValueError, match=r"weight of shape \(5,\)"):
        _C.layer_norm_forward(x, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="2-D"):
        _C.layer_norm_forward(x[None])
    with pytest.raises(ValueError, match="contiguous rows"):
        _C.layer_norm_forward(np.zeros((5, 4), np.float32).T)
    y, mean, rstd = _C.layer_norm_forward(x, w)
    with pytest.raises(ValueError, match="grad_output"):
        _C.layer_norm_backward(x, x[:3], mean, rstd, w)
    with pytest.raises(ValueError, match="rstd"):
        _C.layer_norm_backward(x, x, mean, rstd[:2], w)
    with pytest.raises(ValueError, match="eps"):
        _C.layer_norm_forward(x, w, None, -1.0)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradcheck(affine):
    rng = np.random.default_rng(4)
    x = fastnn.tensor(rng.standard_normal((3, 2, 5)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    if affine:
        assert fastnn.autograd.gradcheck(lambda a, c, d: fastnn.layer_norm(a, (2, 5), c, d), (x, w, b))
    else:
        assert fastnn.autograd.gradcheck(lambda a: fastnn.layer_norm(a, [5], eps=1e-3), (x,))


@pytest.mark.torch
@pytest.mark.parametrize("shape,normalized", [((4, 7, 33), (33,)), ((5, 3, 8), (3, 8)), ((2, 1024), (1024,))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(shape, normalized, affine):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(normalized).astype(np.float32) if affine != "none" else None
    b = rng.standard_normal(normalized).astype(np.float32) if affine == "both" else None
    ours = [fastnn.tensor(v, requires_grad=True) if v is not None else None for v in (x, w, b)]
    theirs = [torch.tensor(v, requires_grad=True) if v is not None else None for v in (x, w, b)]
    out = fastnn.layer_norm(ours[0], normalized, ours[1], ours[2], eps=1e-4)
    tout = torch.nn.functional.layer_norm(theirs[0], normalized, theirs[1], theirs[2], eps=1e-4)
    assert_close(out.detach().numpy(), tout.detach().numpy(), np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    out.backward(fastnn.tensor(g))
    tout.backward(torch.tensor(g))
    for o, t in zip(ours, theirs):
        if o is not None:
            assert_close(o.grad.numpy(), t.grad.numpy(), np.float32, scale=10)


def test_layer_norm_op_errors_and_edges():
    x = fastnn.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[5\], expected input with shape \[\*, 5\]"):
        fastnn.layer_norm(x, 5)
    with pytest.raises(RuntimeError, match=r"Expected weight to be of same shape as normalized_shape"):
        fastnn.layer_norm(x, (4,), fastnn.ones(3))
    with pytest.raises(TypeError, match="float32 or float64"):
        fastnn.layer_norm(fastnn.tensor([[1, 2]]), 2)
    with pytest.raises(TypeError, match="bias of dtype fastnn.float32"):
        fastnn.layer_norm(x, 4, None, fastnn.zeros(4, dtype=fastnn.float64))
    e = fastnn.zeros(0, 4, requires_grad=True)
    out = fastnn.layer_norm(e, 4)
    out.sum().backward()
    assert out.shape == (0, 4) and e.grad.shape == (0, 4)
    x = fastnn.randn(6, 9)[::2]  # a strided view runs without a copy of its rows
    ref = reference(x.numpy(), None, None, np.zeros(x.shape))[0]
    assert_close(fastnn.layer_norm(x, 9).numpy(), ref, np.float32)
