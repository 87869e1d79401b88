"""The CUDA GEMM kernels (csrc/cuda/gemm.cu) through their bindings against float64 NumPy, on the emulator
under every schedule (and on a GPU where there is one): both SIMT tiles, transposed / batched / broadcast
operands read in place, odd and zero sizes, alpha / beta, linear's fused bias + activation epilogues, the
bfloat16 inputs (the SIMT fallback here), argument checks, and a planted missing barrier."""
import math

import numpy as np
import pytest
from cuda_kernel_helpers import HostDeviceArray, planted_barrier

KERNELS = ("simt_64x64", "simt_128x128")


def _view(target, d, f):
    """f applied to a device array's storage, as a device array (a view: no copy)."""
    if target.name == "cuda":
        return f(d, target.cupy)
    return HostDeviceArray(f(d.a, np))


def _rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _tol(k):
    # float32 FMA sums of k products of N(0, 1) values: error grows like sqrt(k) * eps * |terms|
    return dict(rtol=1e-5, atol=1e-5 * max(1.0, math.sqrt(k)) * 4)


def _tf32_tol(k):
    return dict(rtol=2e-3, atol=2e-3 * max(1.0, math.sqrt(k)) * 4)


def _bf16_bits(x):
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def _bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _tf32_value(x):
    """cvt.rna.tf32.f32: the mantissa rounded to 10 bits, ties away from zero."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32)


def _gelu64(y):
    return y * 0.5 * (1.0 + np.vectorize(math.erf)(y / math.sqrt(2.0)))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (7, 5, 3), (33, 65, 17), (65, 33, 64), (129, 7, 9), (3, 129, 33),
                                     (128, 128, 8)])
def test_gemm_f32_sizes(target, kernel, m, n, k):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a, b = _rand(rng, m, k), _rand(rng, k, n)
    c = target.empty((m, n), np.float32)
    target.native.gemm_f32(target.to_device(a), target.to_device(b), c, kernel=kernel, device=0, stream=target.stream)
    np.testing.assert_allclose(target.to_host(c), a.astype(np.float64) @ b, **_tol(k))


@pytest.mark.parametrize("trans_a, trans_b", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m, n, k", [(33, 17, 24), (65, 66, 13)])
def test_gemm_f32_transposed_operands_are_read_in_place(target, trans_a, trans_b, m, n, k):
    rng = np.random.default_rng(7)
    a_store = _rand(rng, *((k, m) if trans_a else (m, k)))
    b_store = _rand(rng, *((n, k) if trans_b else (k, n)))
    da = _view(target, target.to_device(a_store), lambda x, xp: x.T) if trans_a else target.to_device(a_store)
    db = _view(target, target.to_device(b_store), lambda x, xp: x.T) if trans_b else target.to_device(b_store)
    a = a_store.T if trans_a else a_store
    b = b_store.T if trans_b else b_store
    for kernel in KERNELS:
        c = target.empty((m, n), np.float32)
        target.native.gemm_f32(da, db, c, kernel=kernel, stream=target.stream)
        np.testing.assert_allclose(target.to_host(c), a.astype(np.float64) @ b, **_tol(k))


def test_gemm_f32_unaligned_and_strided_views_take_the_scalar_path(target):
    # Offset by one element (not 16-byte aligned) and a row stride that is not a multiple of 4.
    rng = np.random.default_rng(8)
    big_a, big_b = _rand(rng, 40, 37), _rand(rng, 30, 45)
    da = _view(target, target.to_device(big_a), lambda x, xp: x[1:34, 1:30])  # (33, 29)
    db = _view(target, target.to_device(big_b), lambda x, xp: x[1:, 3:44])    # (29, 41)
    out = target.empty((35, 50), np.float32)
    c = _view(target, out, lambda x, xp: x[1:34, 2:43])                       # (33, 41) inside a bigger array
    target.native.gemm_f32(da, db, c, kernel="simt_64x64", stream=target.stream)
    got = target.to_host(out)
    np.testing.assert_allclose(got[1:34, 2:43], big_a[1:34, 1:30].astype(np.float64) @ big_b[1:, 3:44], **_tol(29))
    rest = got.copy()
    rest[1:34, 2:43] = 0
    assert np.isnan(rest).sum() == 35 * 50 - 33 * 41  # nothing outside the view was written


def test_gemm_f32_batched_broadcast_and_transposed_output(target):
    rng = np.random.default_rng(9)
    batch, m, n, k = 3, 20, 36, 12
    a3, b2 = _rand(rng, batch, m, k), _rand(rng, k, n)
    want = a3.astype(np.float64) @ b2
    for kernel in KERNELS:
        # a batched, b 2-D (broadcast over the batch)
        c = target.empty((batch, m, n), np.float32)
        target.native.gemm_f32(target.to_device(a3), target.to_device(b2), c, kernel=kernel, stream=target.stream)
        np.testing.assert_allclose(target.to_host(c), want, **_tol(k))
        # b a stride-0 broadcast 3-D view, a 2-D view of one batch entry broadcast the other way
        db = _view(target, target.to_device(b2), lambda x, xp: xp.broadcast_to(x, (batch, k, n)))
        c = target.empty((batch, m, n), np.float32)
        target.native.gemm_f32(target.to_device(a3), db, c, kernel=kernel, stream=target.stream)
        np.testing.assert_allclose(target.to_host(c), want, **_tol(k))
        c = target.empty((batch, n, m), np.float32)  # written through its transposed view: C^T = B^T A^T
        ct = _view(target, c, lambda x, xp: x.transpose(0, 2, 1))
        target.native.gemm_f32(target.to_device(a3), target.to_device(b2), ct, kernel=kernel, stream=target.stream)
        np.testing.assert_allclose(target.to_host(c).transpose(0, 2, 1), want, **_tol(k))
    a2, b3 = _rand(rng, m, k), _rand(rng, batch, k, n)
    c = target.empty((batch, m, n), np.float32)
    target.native.gemm_f32(target.to_device(a2), target.to_device(b3), c, stream=target.stream)
    np.testing.assert_allclose(target.to_host(c), a2.astype(np.float64) @ b3, **_tol(k))


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 0.75)])
def test_gemm_f32_alpha_beta(target, alpha, beta):
    rng = np.random.default_rng(10)
    a, b, c0 = _rand(rng, 33, 20), _rand(rng, 20, 65), _rand(rng, 33, 65)
    for kernel in KERNELS:
        if beta == 0.0:
            c = target.empty((33, 65), np.float32)  # NaN-poisoned: beta == 0 must not read it
        else:
            c = target.to_device(c0)
        target.native.gemm_f32(target.to_device(a), target.to_device(b), c, alpha, beta, kernel=kernel,
                               stream=target.stream)
        want = alpha * (a.astype(np.float64) @ b) + (beta * c0 if beta else 0.0)
        np.testing.assert_allclose(target.to_host(c), want, **_tol(20))


def test_gemm_f32_zero_sizes(target):
    f = target.native.gemm_f32
    # k == 0: c = beta * c (and 0 when beta == 0, NaN or not)
    c0 = np.arange(12, dtype=np.float32).reshape(3, 4)
    c = target.to_device(c0)
    f(target.to_device(np.ones((3, 0), np.float32)), target.to_device(np.ones((0, 4), np.float32)), c, 2.0, 0.5,
      stream=target.stream)
    np.testing.assert_array_equal(target.to_host(c), 0.5 * c0)
    c = target.empty((3, 4), np.float32)
    f(target.to_device(np.ones((3, 0), np.float32)), target.to_device(np.ones((0, 4), np.float32)), c,
      stream=target.stream)
    np.testing.assert_array_equal(target.to_host(c), np.zeros((3, 4)))
    # m, n or batch == 0: nothing to launch
    for a_shape, b_shape, c_shape in [((0, 5), (5, 4), (0, 4)), ((3, 5), (5, 0), (3, 0)),
                                      ((0, 3, 5), (5, 4), (0, 3, 4))]:
        f(target.to_device(np.ones(a_shape, np.float32)), target.to_device(np.ones(b_shape, np.float32)),
          target.empty(c_shape, np.float32), stream=target.stream)
    assert target.native.gemm_kernel_for(0, 4, 5) == "none"


def test_gemm_arguments_are_checked(target):
    f = target.native.gemm_f32
    dev = target.to_device
    a, b, c = dev(np.ones((2, 3), np.float32)), dev(np.ones((3, 4), np.float32)), target.empty((2, 4), np.float32)
    with pytest.raises(TypeError, match="gemm_f32: a must be a CUDA device array"):
        f(np.ones((2, 3), np.float32), b, c)
    with pytest.raises(TypeError, match="gemm_f32: b must be float32, got float64"):
        f(a, dev(np.ones((3, 4))), c)
    with pytest.raises(ValueError, match=r"gemm_f32: a \(2, 3\) and b \(4, 4\) do not chain \(3 != 4\)"):
        f(a, dev(np.ones((4, 4), np.float32)), c)
    with pytest.raises(ValueError, match=r"gemm_f32: c must be \(2, 4\), got \(2, 5\)"):
        f(a, b, target.empty((2, 5), np.float32))
    with pytest.raises(ValueError, match="gemm_f32: a must be 2-D or 3-D, got 1-D"):
        f(dev(np.ones(3, np.float32)), b, c)
    with pytest.raises(ValueError, match="gemm_f32: a has a batch of 2, c of 3"):
        f(dev(np.ones((2, 2, 3), np.float32)), b, target.empty((3, 2, 4), np.float32))
    strided = _view(target, dev(np.ones((4, 6), np.float32)), lambda x, xp: x[::2, ::2])
    with pytest.raises(ValueError, match="gemm_f32: a must have unit stride along one of its last two dims"):
        f(strided, b, c)
    broadcast_c = _view(target, target.empty((1, 4), np.float32), lambda x, xp: xp.broadcast_to(x, (2, 4)))
    with pytest.raises(ValueError, match="gemm_f32: c (is read-only|overlaps itself)"):
        f(a, b, broadcast_c)
    with pytest.raises(ValueError, match="gemm_f32: kernel must be 'auto', 'simt_128x128', 'simt_64x64', 'mma' or "):
        f(a, b, c, kernel="simt_32x32")
    with pytest.raises(TypeError, match="gemm_bf16: a must be uint16, got float32"):
        target.native.gemm_bf16(a, b, c)
    with pytest.raises(TypeError, match="gemm_bf16: c must be float32 or uint16"):
        target.native.gemm_bf16(dev(np.ones((2, 3), np.uint16)), dev(np.ones((3, 4), np.uint16)),
                                target.empty((2, 4), np.float64))
    with pytest.raises(ValueError, match="gemm_kernel_for: dtype must be 'float32' or 'bfloat16'"):
        target.native.gemm_kernel_for(2, 2, 2, dtype="float16")


@pytest.mark.parametrize("m, n, k, batch", [(16, 16, 1024, 1), (70, 33, 700, 2), (5, 129, 2500, 1)])
def test_split_k(target, m, n, k, batch):
    # A small output over a long k: given a workspace, the launcher computes k-slices in parallel and a
    # second kernel sums them in order, then applies the epilogue (alpha, beta, bias, activation).
    f = target.native
    size = f.gemm_workspace_size(m, n, k, batch)
    assert size % (batch * m * n) == 0 and size // (batch * m * n) > 1  # the number of slices
    assert f.gemm_workspace_size(m, n, k, batch, kernel="simt_128x128") >= 0
    rng = np.random.default_rng(m + n + k)
    a, b, c0 = _rand(rng, batch, m, k), _rand(rng, k, n), _rand(rng, batch, m, n)
    c = target.to_device(c0)
    f.gemm_f32(target.to_device(a), target.to_device(b), c, 0.5, 2.0, workspace=target.empty(size, np.float32),
               stream=target.stream)
    np.testing.assert_allclose(target.to_host(c), 0.5 * (a.astype(np.float64) @ b) + 2.0 * c0, **_tol(k))
    w, bias = _rand(rng, n, k), _rand(rng, n)
    y = target.empty((m, n), np.float32)
    f.linear_f32(target.to_device(a[0]), target.to_device(w), target.to_device(bias), y, "gelu",
                 workspace=target.empty(f.gemm_workspace_size(m, n, k), np.float32), stream=target.stream)
    np.testing.assert_allclose(target.to_host(y), _gelu64(a[0].astype(np.float64) @ w.T + bias), **_tol(k))
    ab, bb = _bf16_bits(a[0]), _bf16_bits(b)
    c16 = target.to_device(np.full((m, n), 0xFFFF, np.uint16))
    f.gemm_bf16(target.to_device(ab), target.to_device(bb), c16, kernel="simt_64x64",
                workspace=target.empty(f.gemm_workspace_size(m, n, k, kernel="simt_64x64"), np.float32),
                stream=target.stream)
    want = _bf16_value(ab).astype(np.float64) @ _bf16_value(bb)
    np.testing.assert_allclose(_bf16_value(target.to_host(c16)), want, rtol=2 ** -7, atol=1e-3 * math.sqrt(k))
    message = f"gemm_f32: workspace has 10 float32 elements, this split-K GEMM needs {size} "
    with pytest.raises(ValueError, match=message):
        f.gemm_f32(target.to_device(a), target.to_device(b), c, workspace=target.empty(10, np.float32))
    assert f.gemm_workspace_size(1024, 1024, 1024) == 0 and f.gemm_workspace_size(16, 16, 64) == 0  # no split


@pytest.mark.parametrize("activation", ["none", "relu", "gelu"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_f32_epilogues(target, activation, with_bias):
    rng = np.random.default_rng(11)
    m, n, k = 37, 70, 19
    x, w, bias = _rand(rng, m, k), _rand(rng, n, k), _rand(rng, n)
    y64 = x.astype(np.float64) @ w.T.astype(np.float64) + (bias if with_bias else 0.0)
    want = {"none": y64, "relu": np.maximum(y64, 0), "gelu": _gelu64(y64)}[activation]
    for kernel in KERNELS:
        y = target.empty((m, n), np.float32)
        target.native.linear_f32(target.to_device(x), target.to_device(w),
                                 target.to_device(bias) if with_bias else None, y, activation, kernel=kernel,
                                 stream=target.stream)
        np.testing.assert_allclose(target.to_host(y), want, **_tol(k))


def test_linear_f32_relu_keeps_nan_and_checks_arguments(target):
    x = np.array([[1.0, -2.0], [-3.0, 1.0]], np.float32)
    w = np.eye(2, dtype=np.float32)
    y = target.empty((2, 2), np.float32)
    nan_bias = target.to_device(np.array([np.nan, 0.0], np.float32))
    target.native.linear_f32(target.to_device(x), target.to_device(w), nan_bias, y, "relu", stream=target.stream)
    got = target.to_host(y)
    assert np.isnan(got[:, 0]).all() and got[0, 1] == 0.0 and got[1, 1] == 1.0
    f, dev = target.native.linear_f32, target.to_device
    with pytest.raises(ValueError, match="linear_f32: unknown activation 'tanh'"):
        f(dev(x), dev(w), None, y, "tanh")
    with pytest.raises(ValueError, match=r"linear_f32: bias must have shape \(2,\), got \(3,\)"):
        f(dev(x), dev(w), dev(np.ones(3, np.float32)), y, "none")
    with pytest.raises(ValueError, match=r"linear_f32: x \(2, 2\) and weight \(3, 2\) do not chain"):
        f(dev(x), dev(np.ones((2, 3), np.float32)), None, y)
    with pytest.raises(ValueError, match="linear_f32: weight must be 2-D, got 3-D"):
        f(dev(x), dev(np.ones((1, 2, 2), np.float32)), None, y)
    with pytest.raises(ValueError, match="linear_f32: y must be row-major"):
        f(dev(x), dev(w), None, _view(target, target.empty((2, 2), np.float32), lambda a, xp: a.T))


def test_bf16_inputs_run_the_simt_fallback(target):
    rng = np.random.default_rng(12)
    m, n, k = 40, 33, 48
    a_bits, b_bits = _bf16_bits(_rand(rng, m, k)), _bf16_bits(_rand(rng, k, n))
    want = _bf16_value(a_bits).astype(np.float64) @ _bf16_value(b_bits)
    if target.name == "emu":
        assert target.native.gemm_kernel_for(m, n, k, dtype="bfloat16") == "simt_64x64"
    c = target.empty((m, n), np.float32)
    target.native.gemm_bf16(target.to_device(a_bits), target.to_device(b_bits), c, stream=target.stream)
    np.testing.assert_allclose(target.to_host(c), want, **_tol(k))
    c16 = target.to_device(np.full((m, n), 0xFFFF, np.uint16))  # poisoned: 0xffff is a bfloat16 NaN
    wt = _view(target, target.to_device(np.ascontiguousarray(b_bits.T)), lambda x, xp: x.T)  # transposed view
    target.native.gemm_bf16(target.to_device(a_bits), wt, c16, kernel="simt_128x128", stream=target.stream)
    got = _bf16_value(target.to_host(c16))
    np.testing.assert_allclose(got, want, rtol=2 ** -8, atol=1e-2)
    np.testing.assert_array_equal(target.to_host(c16), _bf16_bits(target.to_host(c)))  # round to nearest even
    # linear: x @ w.T + bias, gelu, bf16 out
    w_bits, bias = _bf16_bits(_rand(rng, n, k)), _rand(rng, n)
    y = target.empty((m, n), np.float32)
    target.native.linear_bf16(target.to_device(a_bits), target.to_device(w_bits), target.to_device(bias), y, "gelu",
                              stream=target.stream)
    want = _gelu64(_bf16_value(a_bits).astype(np.float64) @ _bf16_value(w_bits).T + bias)
    np.testing.assert_allclose(target.to_host(y), want, **_tol(k))


def test_allow_tf32(target):
    rng = np.random.default_rng(13)
    a, b = _rand(rng, 65, 64), _rand(rng, 64, 70)
    c = target.empty((65, 70), np.float32)
    target.native.gemm_f32(target.to_device(a), target.to_device(b), c, allow_tf32=True, stream=target.stream)
    want = a.astype(np.float64) @ b
    if target.name == "emu":  # no tensor cores to emulate: the fp32 SIMT kernel runs, at fp32 accuracy
        assert target.native.gemm_kernel_for(65, 70, 64, allow_tf32=True) == "simt_64x64"
        np.testing.assert_allclose(target.to_host(c), want, **_tol(64))
    else:
        np.testing.assert_allclose(target.to_host(c), want, **_tf32_tol(64))
    assert target.native.gemm_kernel_for(65, 70, 64, allow_tf32=True, kernel="simt_128x128") == "simt_128x128"


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m, n, k", [(5, 7, 3), (70, 100, 40)])
def test_tensor_core_kernel(target, trans_a, trans_b, m, n, k):
    # In the emulator kernel="mma" runs the tensor-core kernel with mma.sync / cvt.rna.tf32 emulated lane
    # by lane (the PTX fragment layouts): its tiling, shared layout, fragments and epilogue; on a GPU, the
    # tensor cores. References are computed from the rounded inputs (TF32 / bfloat16) in float64.
    rng = np.random.default_rng(m * 7 + n * 3 + k + 2 * trans_a + trans_b)
    a, b = _rand(rng, m, k), _rand(rng, k, n)

    def operand(x, trans):
        if not trans:
            return target.to_device(x)
        return _view(target, target.to_device(np.ascontiguousarray(x.T)), lambda d, xp: d.T)

    c = target.empty((m, n), np.float32)
    target.native.gemm_f32(operand(a, trans_a), operand(b, trans_b), c, allow_tf32=True, kernel="mma",
                           stream=target.stream)
    want = _tf32_value(a).astype(np.float64) @ _tf32_value(b)
    np.testing.assert_allclose(target.to_host(c), want, rtol=1e-4, atol=1e-4 * math.sqrt(k))
    ab, bb = _bf16_bits(a), _bf16_bits(b)
    bias = _rand(rng, n)
    y = target.to_device(np.full((m, n), 0xFFFF, np.uint16))
    c0 = _rand(rng, m, n)
    c = target.to_device(c0)
    target.native.gemm_bf16(operand(ab, trans_a), operand(bb, trans_b), c, 0.5, 2.0, kernel="mma",
                            stream=target.stream)
    want = _bf16_value(ab).astype(np.float64) @ _bf16_value(bb)
    np.testing.assert_allclose(target.to_host(c), 0.5 * want + 2.0 * c0, rtol=1e-4, atol=1e-4 * math.sqrt(k))
    if not trans_a and trans_b:  # linear: x @ w.T, w stored (n, k)
        target.native.linear_bf16(target.to_device(ab), target.to_device(np.ascontiguousarray(bb.T)),
                                  target.to_device(bias), y, "relu", kernel="mma", stream=target.stream)
        np.testing.assert_allclose(_bf16_value(target.to_host(y)), np.maximum(want + bias, 0), rtol=2 ** -7,
                                   atol=1e-3 * math.sqrt(k))


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m, n, k", [(5, 7, 3), (130, 70, 40)])
def test_wgmma_kernel(target, trans_a, trans_b, m, n, k):
    # The Hopper kernel (opt-in: kernel="wgmma"). In the emulator each thread computes its accumulators from
    # the shared tiles through the descriptor's description (its tiling, K-major core-matrix layout and
    # epilogue run); on a GPU the wgmma instruction itself, where the device and the build have it.
    rng = np.random.default_rng(m + n + k + 2 * trans_a + trans_b)
    ab, bb = _bf16_bits(_rand(rng, m, k)), _bf16_bits(_rand(rng, k, n))

    def operand(x, trans):
        if not trans:
            return target.to_device(x)
        return _view(target, target.to_device(np.ascontiguousarray(x.T)), lambda d, xp: d.T)

    c = target.empty((m, n), np.float32)
    try:
        target.native.gemm_bf16(operand(ab, trans_a), operand(bb, trans_b), c, kernel="wgmma", stream=target.stream)
    except RuntimeError as e:
        if target.name == "cuda" and "no wgmma" in str(e):
            pytest.skip(str(e))
        raise
    want = _bf16_value(ab).astype(np.float64) @ _bf16_value(bb)
    np.testing.assert_allclose(target.to_host(c), want, rtol=1e-4, atol=1e-4 * math.sqrt(k))
    c16 = target.to_device(np.full((m, n), 0xFFFF, np.uint16))
    target.native.gemm_bf16(operand(ab, trans_a), operand(bb, trans_b), c16, kernel="wgmma", stream=target.stream)
    np.testing.assert_allclose(_bf16_value(target.to_host(c16)), want, rtol=2 ** -7, atol=1e-3 * math.sqrt(k))


def test_the_launchers_choice(target):
    f = target.native.gemm_kernel_for
    assert f(4096, 4096, 4096) == "simt_128x128"  # the large tile once it alone fills an H100's 132 SMs
    assert f(256, 256, 256) == "simt_64x64" and f(1, 4096, 4096) == "simt_64x64" and f(128, 128, 8, batch=200) == (
        "simt_128x128")
    tensor_cores = target.name == "cuda"  # the emulator's own choice is always SIMT
    assert f(512, 512, 512, dtype="bfloat16") == ("mma_bf16" if tensor_cores else "simt_64x64")
    assert f(512, 512, 512, allow_tf32=True) == ("mma_tf32" if tensor_cores else "simt_64x64")
    assert f(512, 512, 0, allow_tf32=True) == "simt_64x64"  # k == 0: beta * C, the SIMT epilogue
    assert f(512, 512, 512, kernel="mma") == "mma_tf32" and f(8, 8, 8, dtype="bfloat16", kernel="wgmma") == "wgmma_bf16"


def test_wgmma_kernel_takes_bfloat16(target):
    a, b = target.to_device(np.ones((2, 3), np.float32)), target.to_device(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="gemm_f32: the wgmma kernel takes bfloat16 inputs"):
        target.native.gemm_f32(a, b, target.empty((2, 4), np.float32), kernel="wgmma")


def test_tensor_core_kernel_needs_allow_tf32_for_float32(target):
    a, b = target.to_device(np.ones((2, 3), np.float32)), target.to_device(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="gemm_f32: the tensor-core kernel runs float32 as TF32: it needs allow_tf32"):
        target.native.gemm_f32(a, b, target.empty((2, 4), np.float32), kernel="mma")


@pytest.mark.parametrize("file, marker, kernels", [
    ("gemm.cu", "gemm-simt-kstep", KERNELS), ("gemm.cu", "gemm-simt-first-tile", KERNELS),
    ("gemm_tensor_core.cuh", "gemm-mma-kstep", ("mma",)), ("gemm_wgmma.cuh", "gemm-wgmma-kstep", ("wgmma",))])
def test_a_missing_barrier_in_the_gemm_is_caught(file, marker, kernels):
    emu = pytest.importorskip("fastnn._emu")
    rng = np.random.default_rng(14)
    # 64 of k: 8 SIMT k-steps, 4 TF32 mma k-tiles, 2 wgmma k-tiles: each buffer is reused
    a, b = _rand(rng, 64, 64), _rand(rng, 64, 64)
    rounded = {"mma": _tf32_value}  # what the kernel's float32 inputs become
    caught = set()
    with planted_barrier(file, marker):
        try:
            for sched in emu.schedules():
                emu.set_schedule(sched, 5)
                for kernel in kernels:
                    c = HostDeviceArray(np.full((64, 64), np.nan, np.float32))
                    if kernel == "wgmma":
                        emu.gemm_bf16(HostDeviceArray(_bf16_bits(a)), HostDeviceArray(_bf16_bits(b)), c, kernel=kernel)
                    else:
                        emu.gemm_f32(HostDeviceArray(a), HostDeviceArray(b), c, allow_tf32=True, kernel=kernel)
                    r = rounded.get(kernel, lambda x: x)
                    if kernel == "wgmma":
                        want = _bf16_value(_bf16_bits(a)).astype(np.float64) @ _bf16_value(_bf16_bits(b))
                    else:
                        want = r(a).astype(np.float64) @ r(b)
                    if not np.allclose(c.a, want, rtol=1e-4, atol=1e-3):
                        caught.add(sched)
            assert emu.planted_barrier_hits() > 0
        finally:
            emu.set_schedule("forward", 0)
    # Every schedule sees it: without the barrier some thread reads a tile (NaN-poisoned or stale) before
    # the others have stored it.
    assert caught == set(emu.schedules()), caught
