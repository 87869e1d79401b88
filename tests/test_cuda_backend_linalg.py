"""The CUDA backend's linalg kernels (backend/cuda/linalg.py on csrc/cuda/gemm.cu) against the composite ones
on the same device arrays (CI: the emulated device), and through the public API against the CPU."""
import math

import numpy as np
import pytest

import fastnn
from cuda_backend_helpers import composite as _composite, cuda_backend_with

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture
def be():
    return cuda_backend_with("matmul")


class _Spy:
    """The kernel module, counting the GEMM bindings' calls and keeping their keyword arguments."""

    def __init__(self, native):
        self.native = native
        self.calls = []

    def __getattr__(self, name):
        fn = getattr(self.native, name)
        if name not in ("gemm_f32", "gemm_bf16", "linear_f32", "linear_bf16"):
            return fn

        def spy(*args, **kwargs):
            self.calls.append((name, kwargs))
            return fn(*args, **kwargs)
        return spy


@pytest.fixture
def spy(be, monkeypatch):
    s = _Spy(be.native)
    monkeypatch.setattr(be, "native", s)
    return s


def _rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _close(be, got, want, k):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(be.to_host(got), be.to_host(want), rtol=1e-5, atol=4e-5 * max(1.0, math.sqrt(k)))


@pytest.mark.parametrize("a_shape, b_shape", [((5, 7), (7, 4)), ((2, 3, 5, 7), (7, 4)), ((2, 1, 5, 7), (3, 7, 4)),
                                              ((4, 6, 9), (4, 9, 3)), ((1, 33), (33, 65)), ((0, 3), (3, 4)),
                                              ((3, 0), (0, 4)), ((2, 3, 4), (1, 4, 5))])
def test_matmul_matches_the_composite(be, spy, a_shape, b_shape):
    rng = np.random.default_rng(len(a_shape) * 10 + sum(a_shape))
    a, b = be.asarray(_rand(rng, *a_shape)), be.asarray(_rand(rng, *b_shape))
    _close(be, be.matmul(a, b), _composite(be, "matmul", a, b), a_shape[-1])
    assert [c[0] for c in spy.calls] == ["gemm_f32"]


def test_matmul_reads_transposed_and_broadcast_views_in_place(be, spy):
    rng = np.random.default_rng(1)
    a, b = be.asarray(_rand(rng, 9, 6)), be.asarray(_rand(rng, 5, 9))
    for x, y in [(a.T, b.T), (a.T, be.asarray(_rand(rng, 9, 4))), (be.asarray(_rand(rng, 3, 9)), b.T)]:
        _close(be, be.matmul(x, y), _composite(be, "matmul", x, y), x.shape[-1])
    s = be.asarray(_rand(rng, 8, 12))[::2, ::3]  # unit stride along neither dim: copied first
    w = be.asarray(_rand(rng, 4, 2))
    _close(be, be.matmul(s, w), _composite(be, "matmul", s, w), 4)
    assert len(spy.calls) == 4


def test_matmul_other_dtypes_and_errors_stay_composite(be, spy):
    rng = np.random.default_rng(2)
    a64, b64 = be.asarray(_rand(rng, 3, 4, dtype=np.float64)), be.asarray(_rand(rng, 4, 2, dtype=np.float64))
    assert be.matmul(a64, b64).dtype == np.float64
    ai = be.asarray(np.arange(12, dtype=np.int64).reshape(3, 4))
    host = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(be.to_host(be.matmul(ai, ai.T)), host @ host.T)
    m, v = be.asarray(_rand(rng, 3, 4)), be.asarray(_rand(rng, 4))  # a 1-D operand
    _close(be, be.matmul(m, v), _composite(be, "matmul", m, v), 4)
    with pytest.raises(ValueError) as ours:
        be.matmul(be.asarray(_rand(rng, 3, 4)), be.asarray(_rand(rng, 5, 2)))
    with pytest.raises(ValueError) as theirs:
        _composite(be, "matmul", be.asarray(_rand(rng, 3, 4)), be.asarray(_rand(rng, 5, 2)))
    assert str(ours.value) == str(theirs.value)
    assert spy.calls == []


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)])
def test_gemm_into_matches_the_composite(be, spy, alpha, beta):
    rng = np.random.default_rng(3)
    a, b, c0 = _rand(rng, 33, 17), _rand(rng, 17, 20), _rand(rng, 33, 20)
    got, want = be.asarray(c0), be.asarray(c0)
    be.gemm_into(be.asarray(a), be.asarray(b), got, alpha, beta)
    _composite(be, "gemm_into", be.asarray(a), be.asarray(b), want, alpha, beta)
    _close(be, got, want, 17)
    # g.T @ x, as a weight gradient does: g read transposed in place
    g, x = be.asarray(_rand(rng, 12, 5)), be.asarray(_rand(rng, 12, 7))
    got, want = be.asarray(np.zeros((5, 7), np.float32)), be.asarray(np.zeros((5, 7), np.float32))
    be.gemm_into(g.T, x, got, alpha, beta)
    _composite(be, "gemm_into", g.T, x, want, alpha, beta)
    _close(be, got, want, 12)
    assert len(spy.calls) == 2


def test_gemm_into_an_aliased_or_strided_out_stays_composite(be, spy):
    rng = np.random.default_rng(4)
    a = _rand(rng, 6, 6)
    got, want = be.asarray(a), be.asarray(a)
    be.gemm_into(got, be.asarray(np.eye(6, dtype=np.float32) * 2), got, 1.0, 1.0)  # out is a: read while written
    _composite(be, "gemm_into", want, be.asarray(np.eye(6, dtype=np.float32) * 2), want, 1.0, 1.0)
    _close(be, got, want, 6)
    big = be.asarray(np.zeros((8, 9), np.float32))
    out = big[::2, ::3]  # (4, 3), unit stride along neither dim
    be.gemm_into(be.asarray(a[:4, :5]), be.asarray(a[:5, :3]), out, 1.0, 0.0)
    np.testing.assert_allclose(be.to_host(out), a[:4, :5].astype(np.float64) @ a[:5, :3], rtol=1e-5, atol=1e-5)
    assert spy.calls == []


@pytest.mark.parametrize("epilogue", ["none", "relu", "gelu"])
@pytest.mark.parametrize("x_shape, with_bias", [((5, 7), True), ((2, 3, 7), False), ((4, 7), False), ((0, 7), True)])
def test_linear_matches_the_composite(be, spy, epilogue, x_shape, with_bias):
    rng = np.random.default_rng(5)
    x, w = be.asarray(_rand(rng, *x_shape)), be.asarray(_rand(rng, 6, 7))
    b = be.asarray(_rand(rng, 6)) if with_bias else None
    _close(be, be.linear(x, w, b, epilogue), _composite(be, "linear", x, w, b, epilogue), 7)
    assert [c[0] for c in spy.calls] == ["linear_f32"]


def test_linear_nan_relu_no_in_features_and_errors(be, spy):
    x = be.asarray(np.array([[np.nan, 1.0], [2.0, -5.0]], np.float32))
    w = be.asarray(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    got = be.to_host(be.linear(x, w, be.asarray(np.array([0.0, np.nan], np.float32)), "relu"))
    want = be.to_host(_composite(be, "linear", x, w, be.asarray(np.array([0.0, np.nan], np.float32)), "relu"))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).sum() == 3
    # k == 0: bias alone
    z = be.linear(be.asarray(np.ones((3, 0), np.float32)), be.asarray(np.ones((2, 0), np.float32)),
                  be.asarray(np.array([1.0, -1.0], np.float32)), "relu")
    np.testing.assert_array_equal(be.to_host(z), [[1.0, 0.0]] * 3)
    with pytest.raises(ValueError, match=r"linear\(\): unknown epilogue 'tanh'"):
        be.linear(x, w, None, "tanh")
    assert len(spy.calls) == 2


def test_allow_tf32_is_read_per_call(be, spy):
    rng = np.random.default_rng(6)
    a, b = be.asarray(_rand(rng, 16, 16)), be.asarray(_rand(rng, 16, 16))
    try:
        fastnn.backends.cuda.matmul.allow_tf32 = True
        be.matmul(a, b)
        be.linear(a, b, None, "none")
        fastnn.backends.cuda.matmul.allow_tf32 = False
        be.matmul(a, b)
        fastnn.set_float32_matmul_precision("high")  # torch's other face of the same switch
        assert fastnn.backends.cuda.matmul.allow_tf32
        be.matmul(a, b)
    finally:
        fastnn.backends.cuda.matmul.allow_tf32 = False
    assert fastnn.get_float32_matmul_precision() == "highest"
    assert [c[1]["allow_tf32"] for c in spy.calls] == [True, True, False, True]


def test_a_small_output_over_a_long_k_splits_k(be, spy):
    # A weight gradient's shape: the launcher splits k over blocks, the backend hands it the workspace.
    rng = np.random.default_rng(8)
    g, x = be.asarray(_rand(rng, 2048, 12)), be.asarray(_rand(rng, 2048, 10))
    _close(be, be.matmul(g.T, x), _composite(be, "matmul", g.T, x), 2048)
    got, want = be.asarray(np.ones((12, 10), np.float32)), be.asarray(np.ones((12, 10), np.float32))
    be.gemm_into(g.T, x, got, 0.5, 1.0)
    _composite(be, "gemm_into", g.T, x, want, 0.5, 1.0)
    _close(be, got, want, 2048)
    w = be.asarray(_rand(rng, 9, 2048))
    _close(be, be.linear(x.T, w, None, "relu"), _composite(be, "linear", x.T, w, None, "relu"), 2048)
    sizes = [c[1]["workspace"].size for c in spy.calls]
    assert sizes == [be.native.gemm_workspace_size(12, 10, 2048)] * 2 + [be.native.gemm_workspace_size(10, 9, 2048)]
    assert min(sizes) > 0


def test_public_api_linear_and_matmul_on_cuda_match_the_cpu():
    rng = np.random.default_rng(7)
    xh, wh, bh = _rand(rng, 4, 5, 9), _rand(rng, 6, 9), _rand(rng, 6)
    x = fastnn.tensor(xh, device="cuda", requires_grad=True)
    w = fastnn.tensor(wh, device="cuda", requires_grad=True)
    b = fastnn.tensor(bh, device="cuda", requires_grad=True)
    xc, wc, bc = (fastnn.tensor(v, requires_grad=True) for v in (xh, wh, bh))
    y = fastnn.nn.functional.linear(x, w, b)
    yc = fastnn.nn.functional.linear(xc, wc, bc)
    (y.relu() @ w).sum().backward()
    (yc.relu() @ wc).sum().backward()
    np.testing.assert_allclose(y.detach().cpu().numpy(), yc.detach().numpy(), rtol=1e-5, atol=1e-5)
    for g, gc in [(x.grad, xc.grad), (w.grad, wc.grad), (b.grad, bc.grad)]:
        np.testing.assert_allclose(g.cpu().numpy(), gc.numpy(), rtol=1e-4, atol=1e-4)
