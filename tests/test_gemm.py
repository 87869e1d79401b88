"""The native GEMM against a float64 NumPy reference, at every ISA level this CPU runs and 1/2 threads."""
import numpy as np
import pytest

import fastnn
from fastnn import _C

ISAS = list(_C.isa_levels())
DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-5, 1e-4), np.float64: (1e-12, 1e-10)}

# Odd and edge sizes, and sizes that cross every cache block (KC 256-384, MC ~336, NC ~672 here).
SHAPES = [(1, 1, 1), (0, 5, 3), (4, 0, 6), (5, 3, 0), (7, 17, 63), (17, 1, 129), (63, 129, 7), (33, 64, 65),
          (129, 257, 31), (700, 801, 1390)]


def reference(a, b, alpha=1.0, beta=0.0, c=None):
    r = alpha * (a.astype(np.float64) @ b.astype(np.float64))
    if beta != 0.0:
        r = r + beta * c.astype(np.float64)
    return r


def assert_gemm_close(actual, expected, dtype, k):
    atol, rtol = TOL[dtype]
    # Rounding grows with the length of each dot product.
    atol = atol * max(1.0, np.sqrt(k)) * max(1.0, float(np.abs(expected).max(initial=0.0)))
    err = np.abs(actual.astype(np.float64) - expected)
    bad = err > atol + rtol * np.abs(expected)
    assert not bad.any(), (f"{int(bad.sum())} of {bad.size} mismatched; max abs err {err.max():.3g}, "
                           f"max rel err {(err / np.maximum(np.abs(expected), 1e-30)).max():.3g}")


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_matmul_matches_reference(isa, threads, nthreads, dtype, m, k, n):
    threads(nthreads)
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = _C.matmul(a, b, isa=isa)
    assert out.shape == (m, n) and out.dtype == dtype
    assert_gemm_close(out, reference(a, b), dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["a_T", "b_T", "both_T", "steps", "negative", "broadcast_b", "fortran_out"])
def test_strided_operands(isa, dtype, layout):
    rng = np.random.default_rng(3)
    m, k, n = 37, 29, 41
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout == "a_T":
        a = np.ascontiguousarray(a.T).T
    elif layout == "b_T":
        b = np.ascontiguousarray(b.T).T
    elif layout == "both_T":
        a, b = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    elif layout == "steps":
        a = rng.standard_normal((2 * m, 3 * k)).astype(dtype)[::2, ::3]
        b = rng.standard_normal((k, 2 * n)).astype(dtype)[:, 1::2]
    elif layout == "negative":
        a = a[::-1, ::-1]
        b = b[::-1]
    elif layout == "broadcast_b":
        b = np.broadcast_to(rng.standard_normal((1, n)).astype(dtype), (k, n))
    if layout == "fortran_out":
        out = np.asfortranarray(np.zeros((m, n), dtype))
        _C.gemm(a, b, out, isa=isa)
    else:
        out = _C.matmul(a, b, isa=isa)
    assert_gemm_close(out, reference(a, b), dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 0.75), (0.0, 2.0)])
def test_gemm_alpha_beta_into_strided_out(isa, dtype, alpha, beta):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((20, 401)).astype(dtype)  # k > KC: later k-blocks accumulate onto the first
    b = rng.standard_normal((401, 23)).astype(dtype)
    big = rng.standard_normal((40, 50)).astype(dtype)
    c = big[::2, 1:47:2]
    c0 = c.copy()
    _C.gemm(a, b, c, alpha, beta, isa=isa)
    assert_gemm_close(c, reference(a, b, alpha, beta, c0), dtype, 401)
    untouched = big.copy()
    untouched[::2, 1:47:2] = 0
    big[::2, 1:47:2] = 0
    assert np.array_equal(big, untouched)  # nothing outside the view was written


def test_beta_zero_ignores_nan_in_out(isa):
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    c = np.full((3, 5), np.nan, np.float32)
    _C.gemm(a, b, c, 1.0, 0.0, isa=isa)
    assert np.array_equal(c, np.full((3, 5), 4, np.float32))
    c[:] = np.nan
    _C.gemm(np.ones((3, 0), np.float32), np.ones((0, 5), np.float32), c, 1.0, 0.0, isa=isa)
    assert np.array_equal(c, np.zeros((3, 5), np.float32))


def test_nan_and_inf_propagate(isa):
    a = np.ones((13, 8), np.float32)
    a[2, 3] = np.nan
    a[5, 0] = np.inf
    out = _C.matmul(a, np.ones((8, 40), np.float32), isa=isa)
    assert np.isnan(out[2]).all() and np.isposinf(out[5]).all()
    assert np.isfinite(np.delete(out, [2, 5], axis=0)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch,m,k,n", [(0, 3, 4, 5), (1, 7, 17, 63), (5, 33, 9, 17), (12, 64, 64, 64)])
def test_batched(isa, threads, dtype, batch, m, k, n):
    rng = np.random.default_rng(batch)
    a = rng.standard_normal((batch, m, k)).astype(dtype)
    b = rng.standard_normal((batch, k, n)).astype(dtype)
    b_shared = np.broadcast_to(rng.standard_normal((1, k, n)).astype(dtype), (batch, k, n))  # batch stride 0
    for nthreads in (1, 2):
        threads(nthreads)
        assert_gemm_close(_C.matmul(a, b, isa=isa), np.einsum("bmk,bkn->bmn", a.astype(np.float64), b), dtype, k)
        assert_gemm_close(_C.matmul(a, b_shared, isa=isa),
                          np.einsum("bmk,bkn->bmn", a.astype(np.float64), b_shared), dtype, k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,k,n", [(129, 1000, 65), (700, 801, 1390), (4, 2000, 3)])
def test_bitwise_identical_across_thread_counts_and_runs(isa, threads, dtype, m, k, n):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    threads(1)
    one = _C.matmul(a, b, isa=isa)
    threads(2)
    two = _C.matmul(a, b, isa=isa)
    again = _C.matmul(a, b, isa=isa)
    assert np.array_equal(one, two) and np.array_equal(two, again)


@pytest.mark.parametrize("layout", ["NN", "NT", "TN"])
@pytest.mark.parametrize("m,k,n", [(64, 784, 256), (61, 900, 1500), (8, 1100, 70), (128, 333, 1027)])
def test_few_rows_path_bitwise_and_correct(isa, threads, layout, m, k, n):
    """A GEMM of at most 128 rows splits B's panels between threads (each packs its own share): over
    several KC and NC blocks, in-place and packed B, the result matches the reference and does not move
    by a bit between 1 and 2 threads."""
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    if layout == "NT":
        b = np.ascontiguousarray(b.T).T
    elif layout == "TN":
        a = np.ascontiguousarray(a.T).T
    threads(1)
    one = _C.matmul(a, b, isa=isa)
    assert_gemm_close(one, a.astype(np.float64) @ b, np.float32, k)
    threads(2)
    assert np.array_equal(one, _C.matmul(a, b, isa=isa))


class TestBadInput:
    def test_dtype_mismatch(self):
        with pytest.raises(TypeError, match="share a dtype"):
            _C.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float64))

    def test_integer_dtype(self):
        with pytest.raises(TypeError, match="float32 or float64.*int64"):
            _C.matmul(np.ones((2, 2), np.int64), np.ones((2, 2), np.int64))

    def test_shape_mismatch_names_shapes(self):
        with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
            _C.matmul(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))

    def test_batch_mismatch(self):
        with pytest.raises(ValueError, match="cannot be multiplied"):
            _C.matmul(np.ones((2, 2, 3), np.float32), np.ones((3, 3, 2), np.float32))

    def test_wrong_ndim(self):
        with pytest.raises(ValueError, match="2-D or two 3-D"):
            _C.matmul(np.ones(3, np.float32), np.ones((3, 2), np.float32))

    def test_not_an_array(self):
        with pytest.raises(TypeError):
            _C.matmul("a", np.ones((2, 2), np.float32))

    def test_out_wrong_shape(self):
        with pytest.raises(ValueError, match="out has shape"):
            _C.gemm(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.zeros((2, 5), np.float32))

    def test_out_read_only(self):
        out = np.zeros((2, 4), np.float32)
        out.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            _C.gemm(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), out)

    def test_out_overlaps_input(self):
        buf = np.ones((4, 4), np.float32)
        with pytest.raises(ValueError, match="overlaps"):
            _C.gemm(buf, np.ones((4, 4), np.float32), buf)

    def test_out_zero_stride(self):
        out = np.broadcast_to(np.zeros((1, 4), np.float32), (2, 4))
        with pytest.raises(ValueError):
            _C.gemm(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), out)

    def test_unknown_isa(self):
        with pytest.raises(ValueError, match="unknown ISA level 'sse9'"):
            _C.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), isa="sse9")

    @pytest.mark.skipif(_C.isa_supported() == "avx512", reason="this CPU runs every level")
    def test_isa_above_cpu(self):
        with pytest.raises(ValueError, match="not supported by this CPU"):
            _C.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), isa="avx512")


def test_tensor_matmul_uses_the_active_backends_kernel_for_floats():
    # Bitwise: the op adds nothing around the backend's GEMM (native on the CPU backend, NumPy's matmul on
    # FASTNN_BACKEND=composite).
    from fastnn.backend import active_cpu

    a = fastnn.randn(65, 33, dtype=fastnn.float64)
    b = fastnn.randn(33, 17, dtype=fastnn.float64)
    native = _C.matmul if active_cpu().name == "cpu" else np.matmul
    assert np.array_equal((a @ b).numpy(), native(a.numpy(), b.numpy()))
