"""The bf16 GEMM (fp32 accumulation) against a float64 reference on bf16-rounded inputs, at every bf16 level this
CPU runs (amx skips where CPUID or the OS refuse it), against torch's bf16 matmul, and its argument checks."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _C
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend

LEVELS = ("generic", "avx512_bf16", "amx")
SUPPORTED = list(_C.bf16_isa_levels())

# Odd and edge sizes, and sizes that cross the blocks (KC 256 pairs = 512 k, MC ~250 rows, NC ~512 columns).
SHAPES = [(1, 1, 1), (0, 5, 3), (4, 0, 6), (5, 3, 0), (2, 3, 1), (7, 17, 63), (17, 1, 129), (13, 33, 31),
          (63, 129, 7), (33, 64, 65), (129, 257, 31), (300, 1031, 530)]


@pytest.fixture(params=LEVELS)
def isa(request):
    if request.param not in SUPPORTED:
        pytest.skip(f"bf16 level {request.param!r} is not offered here (CPUID or the OS's permission lacks it; "
                    f"levels run: {SUPPORTED})")
    return request.param


def to_bf16(x):
    """float32 -> bf16 bits (uint16), round to nearest even, NaN kept (quiet): torch's conversion."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    r = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    nan = (u & np.uint32(0x7FFFFFFF)) > np.uint32(0x7F800000)
    return np.where(nan, ((u >> 16) | np.uint32(0x40)).astype(np.uint16), r)


def from_bf16(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def bound(a64, b64, k):
    """A rigorous bound on an fp32 sum of k exact products: (k + 2) units of fp32 rounding of sum |a||b|."""
    return (k + 2) * 2.0 ** -24 * (np.abs(a64) @ np.abs(b64)) + 1e-37


def assert_bf16_close(out, a_bits, b_bits, bias=None):
    a64, b64 = from_bf16(a_bits).astype(np.float64), from_bf16(b_bits).astype(np.float64)
    ref = a64 @ b64
    if bias is not None:
        ref = ref + bias
    err = np.abs(out.astype(np.float64) - ref)
    tol = bound(a64, b64, a64.shape[1]) + (0 if bias is None else np.abs(ref) * 2.0 ** -23)
    bad = err > tol
    assert not bad.any(), f"{int(bad.sum())} of {bad.size} beyond the bound; max err {err.max():.3g}"


def operands(m, k, n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)


@pytest.mark.parametrize("m,k,n", SHAPES)
def test_matches_float64_reference(isa, threads, m, k, n):
    threads(1)
    a, b = operands(m, k, n, m * 7919 + k * 31 + n)
    out = _C.matmul_bf16(to_bf16(a), to_bf16(b), isa=isa)
    assert out.shape == (m, n) and out.dtype == np.float32
    assert_bf16_close(out, to_bf16(a), to_bf16(b))


@pytest.mark.parametrize("m,k,n", [(7, 17, 63), (129, 257, 31), (64, 784, 256)])
def test_float32_inputs_are_rounded_to_nearest_even(isa, m, k, n):
    a, b = operands(m, k, n, 3)
    # Ties and near-ties of the rounding: values whose low 16 bits are exactly 0x8000 (or one off).
    a.view(np.uint32)[::3] = (a.view(np.uint32)[::3] & 0xFFFF0000) | 0x8000
    b.view(np.uint32)[1::4] = (b.view(np.uint32)[1::4] & 0xFFFF0000) | 0x7FFF
    mixed = [(a, b), (to_bf16(a), b), (a, to_bf16(b))]
    want = _C.matmul_bf16(to_bf16(a), to_bf16(b), isa=isa)
    for x, y in mixed:
        np.testing.assert_array_equal(_C.matmul_bf16(x, y, isa=isa), want)


@pytest.mark.parametrize("layout", ["a_t", "b_t", "both_t", "step", "neg", "bcast"])
def test_strided_operands(isa, layout):
    m, k, n = 37, 75, 45
    a, b = operands(m, k, n, 11)
    a_bits, b_bits = to_bf16(a), to_bf16(b)
    if layout == "a_t":
        x, y = np.ascontiguousarray(a_bits.T).T, b_bits
    elif layout == "b_t":
        x, y = a_bits, np.ascontiguousarray(b.T).T  # float32, transposed: a Linear's weight.T
    elif layout == "both_t":
        x, y = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b_bits.T).T
    elif layout == "step":
        x, y = np.repeat(a_bits, 2, axis=1)[:, ::2], np.repeat(b, 3, axis=0)[::3]
    elif layout == "neg":
        x, y = np.flip(np.flip(a_bits, 1).copy(), 1), np.flip(np.flip(b, 0).copy(), 0)  # negative strides
    else:
        a_bits = np.broadcast_to(a_bits[:1], (m, k))
        x, y = a_bits, b_bits
    assert not (x.flags.c_contiguous and y.flags.c_contiguous) or layout == "bcast"
    out = _C.matmul_bf16(x, y, isa=isa)
    assert_bf16_close(out, np.ascontiguousarray(a_bits), b_bits)


def test_levels_and_thread_counts_agree(threads):
    a, b = operands(300, 1031, 530, 5)
    a_bits, b_bits = to_bf16(a), to_bf16(b)
    results = {}
    for level in SUPPORTED:
        for nt in (1, 2):
            threads(nt)
            results[level, nt] = _C.matmul_bf16(a_bits, b_bits, isa=level)
    for level in SUPPORTED:  # determinism: the thread count never changes a result
        np.testing.assert_array_equal(results[level, 1], results[level, 2])
    tol = 2 * bound(from_bf16(a_bits).astype(np.float64), from_bf16(b_bits).astype(np.float64), 1031)
    for level in SUPPORTED:
        assert (np.abs(results[level, 1] - results["generic", 1]) <= tol).all(), level


def test_packed_b_is_reused_bitwise(isa):
    a, b = operands(70, 300, 90, 8)
    packed = _C.pack_bf16(b)
    assert packed.shape == (300, 90) and packed.nbytes >= 300 * 90 * 2
    want = _C.matmul_bf16(a, b, isa=isa)
    for rows in (70, 1, 13):  # one packed weight, several batches
        np.testing.assert_array_equal(_C.matmul_bf16(a[:rows], packed, isa=isa), want[:rows])
    np.testing.assert_array_equal(_C.matmul_bf16(a, _C.pack_bf16(to_bf16(b)), isa=isa), want)


def test_bias_and_gemm_alpha_beta(isa):
    a, b = operands(29, 70, 41, 9)
    bias = np.random.default_rng(1).standard_normal(41).astype(np.float32)
    plain = _C.matmul_bf16(a, b, isa=isa)
    np.testing.assert_array_equal(_C.matmul_bf16(a, b, bias, isa=isa), plain + bias)
    c0 = np.random.default_rng(2).standard_normal((41, 29)).astype(np.float32)
    c = c0.copy().T  # a strided out
    _C.gemm_bf16(a, b, c, 0.5, 2.0, isa=isa)
    np.testing.assert_allclose(c, 0.5 * plain + 2.0 * c0.T, rtol=1e-6, atol=1e-5)
    c[...] = np.nan  # beta 0 ignores C's old contents, NaN included
    _C.gemm_bf16(a, b, c, isa=isa)
    np.testing.assert_array_equal(c, plain)
    _C.gemm_bf16(a[:, :0], b[:0], c, 1.0, 0.0, isa=isa)  # k == 0: C = beta * C
    assert (c == 0).all()


def test_special_values_propagate(isa):
    a, b = operands(20, 40, 33, 4)
    a[3, 5], b[7, 2] = np.nan, np.inf
    out = _C.matmul_bf16(a, b, isa=isa)
    assert np.isnan(out[3]).all()
    assert np.isinf(out[:, 2]).sum() + np.isnan(out[:, 2]).sum() >= 19
    finite = np.ones((20, 33), bool)
    finite[3] = False
    finite[:, 2] = False
    assert np.isfinite(out[finite]).all()


@pytest.mark.parametrize("m,k,n", [(64, 784, 256), (100, 257, 130), (5, 3, 7)])
def test_matches_torch_bf16_matmul(isa, m, k, n):
    torch = pytest.importorskip("torch")
    a, b = operands(m, k, n, 21)
    ours = _C.matmul_bf16(a, b, isa=isa).astype(np.float64)
    theirs = torch.matmul(torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()).float().numpy()
    a64, b64 = from_bf16(to_bf16(a)).astype(np.float64), from_bf16(to_bf16(b)).astype(np.float64)
    exact = a64 @ b64
    # torch rounds its fp32 sums to bf16 (half an ulp: 2^-9 relative), and both sum in fp32.
    tol = 2.0 ** -8 * np.abs(exact) + 2 * bound(a64, b64, k)
    assert (np.abs(ours - theirs) <= tol).all()


def test_cpu_backend_matches_the_composite_reference():
    cpu, comp = CpuBackend(fastnn.device("cpu")), CompositeBackend(fastnn.device("cpu"))
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((3, 5, 20)).astype(np.float32), rng.standard_normal((20, 7)).astype(np.float32)),
             (to_bf16(rng.standard_normal((2, 1, 4, 9))), to_bf16(rng.standard_normal((3, 9, 6)))),
             (rng.standard_normal((6, 0)).astype(np.float32), rng.standard_normal((0, 4)).astype(np.float32))]
    for a, b in cases:
        want = comp.matmul_bf16(a, b)
        got = cpu.matmul_bf16(a, b)
        assert got.shape == want.shape and got.dtype == np.float32 == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    a, b = cases[0]
    bias = rng.standard_normal(7).astype(np.float32)
    np.testing.assert_allclose(cpu.matmul_bf16(a, cpu.pack_bf16(b), bias), comp.matmul_bf16(a, comp.pack_bf16(b), bias),
                               rtol=1e-5, atol=1e-5)
    for be in (cpu, comp):
        with pytest.raises(ValueError, match="matmul_bf16"):
            be.matmul_bf16(a, b.T)
        with pytest.raises(TypeError, match="matmul_bf16"):
            be.matmul_bf16(a.astype(np.float64), b)


def test_argument_errors_name_the_op():
    a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.uint16)
    with pytest.raises(TypeError, match="matmul_bf16: expected a to be uint16"):
        _C.matmul_bf16(a.astype(np.float64), b)
    with pytest.raises(ValueError, match="matmul_bf16: shapes"):
        _C.matmul_bf16(a, b[:3])
    with pytest.raises(ValueError, match="matmul_bf16: expected b to be 2-D"):
        _C.matmul_bf16(a, b[None])
    with pytest.raises(ValueError, match="matmul_bf16: shapes .* packed"):
        _C.matmul_bf16(a, _C.pack_bf16(b[:3]))
    with pytest.raises(ValueError, match="matmul_bf16: bias must be a 1-D array of length 5"):
        _C.matmul_bf16(a, b, np.ones(4, np.float32))
    with pytest.raises(TypeError, match="matmul_bf16: expected bias to be float32"):
        _C.matmul_bf16(a, b, np.ones(5))
    with pytest.raises(ValueError, match="matmul_bf16: unknown bf16 ISA level 'avx2'"):
        _C.matmul_bf16(a, b, isa="avx2")
    for level in set(LEVELS) - set(SUPPORTED):
        with pytest.raises(ValueError, match=f"matmul_bf16: bf16 ISA level '{level}' is not supported"):
            _C.matmul_bf16(a, b, isa=level)
    out = np.zeros((3, 5), np.float32)
    with pytest.raises(ValueError, match="gemm_bf16: out overlaps an input"):
        big = np.zeros((3, 9), np.float32)
        _C.gemm_bf16(big[:, :4], b, big[:, 4:])
    with pytest.raises(ValueError, match="gemm_bf16: out is read-only"):
        ro = out.copy()
        ro.flags.writeable = False
        _C.gemm_bf16(a, b, ro)
    with pytest.raises(ValueError, match="gemm_bf16: out has shape"):
        _C.gemm_bf16(a, b, out.T)
    with pytest.raises(TypeError, match="pack_bf16: expected b to be uint16"):
        _C.pack_bf16(np.ones((2, 2), np.int32))


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("FASTNN_ISA", "FASTNN_BF16_ISA")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_fastnn_bf16_isa_selects_the_level():
    code = "from fastnn import _C; print(_C.bf16_isa_active())"
    for level in SUPPORTED:
        r = _run(code, FASTNN_BF16_ISA=level)
        assert r.returncode == 0 and r.stdout.strip() == level, r.stderr
    r = _run(code)
    assert r.stdout.strip() == SUPPORTED[-1], r.stderr
    r = _run(code, FASTNN_ISA="avx2")  # no AVX-512 instructions promised: the bf16 default follows
    assert r.stdout.strip() == "generic", r.stderr
    r = _run("import numpy as np; from fastnn import _C; _C.matmul_bf16(np.ones((2, 2), np.float32), "
             "np.ones((2, 2), np.float32))", FASTNN_BF16_ISA="avx9")
    assert r.returncode != 0 and "FASTNN_BF16_ISA: unknown bf16 ISA level 'avx9'" in r.stderr
