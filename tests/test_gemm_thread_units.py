"""The GEMM's many-rows path cuts C into work units that threads take from a shared counter (each unit
packs its own panels, all its KC blocks in order): whichever thread computes a unit, and however many
units the grid has, every element is summed in the same order. So 1, 2 and 3 threads give the same bits,
through alpha/beta into a strided output, a Linear layer's bias and epilogue, transposed operands and
float64, and the result still matches a float64 reference."""
import numpy as np
import pytest

from fastnn import _C

ISAS = list(_C.isa_levels())

# Odd sizes past one MC block (the many-rows path), so grids with several row chunks and column strips,
# ragged last panels and several KC blocks all occur: 3 threads split them unevenly.
SHAPES = [(131, 389, 67), (389, 131, 701), (257, 800, 257), (1000, 97, 45), (145, 1031, 401)]


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def _operands(m, k, n, layout, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout in ("TN", "TT"):
        a = np.ascontiguousarray(a.T).T
    if layout in ("NT", "TT"):
        b = np.ascontiguousarray(b.T).T
    return a, b


def _each_thread_count(threads, fn):
    outs = []
    for nthreads in (1, 2, 3):
        threads(nthreads)
        outs.append(fn())
    return outs


def _assert_same_bits(outs):
    for other in outs[1:]:
        assert other.dtype == outs[0].dtype and np.array_equal(other.view(np.uint8), outs[0].view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NN", "NT", "TN", "TT"])
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_matmul_bits_do_not_depend_on_thread_count(isa, threads, dtype, layout, m, k, n):
    a, b = _operands(m, k, n, layout, dtype, m * 31 + k * 7 + n)
    outs = _each_thread_count(threads, lambda: _C.matmul(a, b, isa=isa))
    _assert_same_bits(outs)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    scale = np.sqrt(k) * max(1.0, float(np.abs(expected).max()))
    assert np.abs(outs[0] - expected).max() <= tol * scale


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-0.5, 0.75)])
def test_alpha_beta_into_strided_out_bits(isa, threads, alpha, beta):
    m, k, n = 389, 801, 131
    a, b = _operands(m, k, n, "NN", np.float32, 2)
    big = np.random.default_rng(3).standard_normal((2 * m, n + 5)).astype(np.float32)

    def run():
        c = big.copy()
        _C.gemm(a, b, c[::2, 2:n + 2], alpha, beta, isa=isa)
        return c

    outs = _each_thread_count(threads, run)
    _assert_same_bits(outs)
    view = big[::2, 2:n + 2].astype(np.float64)
    expected = alpha * (a.astype(np.float64) @ b) + beta * view
    assert np.abs(outs[0][::2, 2:n + 2] - expected).max() <= 1e-4 * np.sqrt(k) * np.abs(expected).max()
    untouched = big.copy()
    got = outs[0].copy()
    untouched[::2, 2:n + 2] = 0
    got[::2, 2:n + 2] = 0
    assert np.array_equal(got, untouched)  # nothing outside the view was written


@pytest.mark.parametrize("epilogue", ["none", "relu", "gelu"])
def test_linear_bias_epilogue_bits(isa, threads, epilogue):
    m, k, n = 333, 517, 259
    rng = np.random.default_rng(4)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((n, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    outs = _each_thread_count(threads, lambda: _C.linear(x, w, bias, epilogue, isa=isa))
    _assert_same_bits(outs)
    pre = x.astype(np.float64) @ w.T.astype(np.float64) + bias
    if epilogue == "relu":
        pre = np.maximum(pre, 0.0)
    elif epilogue == "gelu":
        from math import erf

        pre = 0.5 * pre * (1.0 + np.vectorize(erf)(pre / np.sqrt(2.0)))
    assert np.abs(outs[0] - pre).max() <= 1e-4 * np.sqrt(k) * np.abs(pre).max()
