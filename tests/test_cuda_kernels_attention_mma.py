"""The TF32 tensor-core flash-attention kernels (attention_forward_f32 / attention_backward_f32 with
kernel="mma", csrc/cuda/attention_tensor_core.cuh) against float64 NumPy, on the emulator under every schedule (there
mma.sync / cvt.rna.tf32 are csrc/cuda/mma.cuh's warp-level emulation) and on a GPU where there is one.

TF32 keeps 10 mantissa bits: O (and dQ, dK, dV) is checked against the exact float64 formula at ~1e-2 relative, and more
tightly against the same formula on inputs first rounded to TF32 as the kernel rounds them (what is left is
the rounding of P and fp32 sums). Shapes cross the kernel's tile edges: 64 query rows (4 warps of 16) by 32
keys, head dims padded to 16/32/64/128."""
import math

import numpy as np
import pytest

import fastnn
from cuda_kernel_helpers import SCHEDULES, EmulatorTarget, schedules_catching
from fastnn.backend import get_backend
from test_cuda_kernels_attention import _backward_ref, _broadcast, _forward_ref, _qkv, _view

pytestmark = pytest.mark.cuda_kernels


def _tf32(x):
    """cvt.rna.tf32.f32: the mantissa rounded to 10 bits, ties away from zero."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x1000) & 0xFFFFE000).astype(np.uint32).view(np.float32).reshape(np.shape(x))


def _forward(target, q, k, v, mask=None, causal=False, scale=None, kernel="mma", allow_tf32=True):
    b, h, lq, d = q.shape
    dv = v.shape[3]
    scale = 1 / math.sqrt(d) if scale is None else scale
    dev = target.to_device
    m = None if mask is None else _view(target, mask, lambda a: _broadcast(a, (b, h, lq, k.shape[2])))
    out, lse = target.empty((b, h, lq, dv), np.float32), target.empty((b, h, lq), np.float32)
    target.native.attention_forward_f32(dev(q), dev(k), dev(v), m, out, lse, causal, scale, allow_tf32=allow_tf32,
                                        kernel=kernel, device=0, stream=target.stream)
    target.synchronize()
    return target.to_host(out), target.to_host(lse)


def _check(out, lse, q, k, v, mask, causal, scale):
    """Against the exact formula (TF32-sized tolerance) and the formula on TF32-rounded inputs (tighter)."""
    want_out, want_lse, _ = _forward_ref(q, k, v, mask, causal, scale)
    r_out, r_lse, _ = _forward_ref(_tf32(q), _tf32(k), _tf32(v), mask, causal, scale)
    big = max(1.0, float(np.abs(want_out).max(initial=0)))
    np.testing.assert_allclose(out, want_out, rtol=1e-2, atol=1e-2 * big)
    np.testing.assert_allclose(out, r_out, rtol=2e-3, atol=2e-3 * big)
    finite = np.isfinite(want_lse)
    np.testing.assert_array_equal(np.isfinite(lse), finite)
    np.testing.assert_array_equal(lse[~finite], want_lse[~finite])
    lbig = max(1.0, float(np.abs(want_lse[finite]).max(initial=0)))
    np.testing.assert_allclose(lse[finite], want_lse[finite], rtol=1e-2, atol=1e-2 * lbig)
    np.testing.assert_allclose(lse[finite], r_lse[finite], rtol=1e-3, atol=1e-3 * lbig)


@pytest.mark.parametrize("b, h, lq, lk, d, dv, causal", [
    (1, 1, 1, 1, 8, 8, False),        # size 1, the smallest head dims (HD 16, half of it used)
    (1, 2, 5, 33, 16, 16, False),     # several heads, a key tail (a second, 1-key tile)
    (2, 1, 33, 5, 16, 24, False),     # batch, Dv != D, Dv not a power of two (HD 32, three of four n-tiles)
    (1, 1, 70, 40, 32, 32, False),    # two query tiles (the second 6 rows: warps with no rows), two key tiles
    (1, 2, 33, 70, 16, 8, True),      # causal with Lq < Lk: key tiles past the diagonal skipped
    (1, 1, 70, 20, 64, 40, True),     # causal with Lq > Lk: later rows see every key (HD 64)
    (1, 1, 20, 37, 128, 96, True),    # the widest head dims (HD 128, Dv short of it)
])
def test_forward_mma(target, b, h, lq, lk, d, dv, causal):
    q, k, v = _qkv(lq * 100 + lk + d, b, h, lq, lk, d, dv)
    out, lse = _forward(target, q, k, v, causal=causal)
    _check(out, lse, q, k, v, None, causal, 1 / math.sqrt(d))


def test_forward_mma_bool_mask_broadcast_with_dead_rows(target):
    q, k, v = _qkv(1, 2, 2, 33, 37, 16, 16)
    rng = np.random.default_rng(2)
    mask = rng.random((2, 1, 33, 37)) > 0.4   # broadcast over heads (stride 0)
    mask[0, 0, 3] = False                     # dead rows: no key at all
    mask[1, 0, 32] = False                    # row 32: the third warp's rows, the last of the tile's
    mask[1, 0, 5, :32] = False                # a row alive only in the second key tile
    out, lse = _forward(target, q, k, v, mask=mask, scale=0.7)
    _check(out, lse, q, k, v, mask, False, 0.7)
    assert (out[0, :, 3] == 0).all() and (out[1, :, 32] == 0).all()
    assert np.isneginf(lse[0, :, 3]).all() and np.isneginf(lse[1, :, 32]).all()


def test_forward_mma_additive_mask_with_inf_rows(target):
    q, k, v = _qkv(3, 1, 2, 5, 40, 8, 8)
    rng = np.random.default_rng(4)
    mask = rng.standard_normal((5, 40)).astype(np.float32)   # (Lq, Lk): broadcast over batch and heads
    mask[:, 7] = -np.inf
    mask[2] = -np.inf                                        # a dead row
    out, lse = _forward(target, q, k, v, mask=mask, scale=0.5)
    _check(out, lse, q, k, v, mask, False, 0.5)
    assert (out[:, :, 2] == 0).all() and np.isneginf(lse[:, :, 2]).all()


def test_forward_mma_strided_broadcast_and_unaligned_inputs(target):
    """q as a (B, L, H, D) projection viewed (B, H, L, D), one key head broadcast over three (stride 0), v
    reversed along L and sliced one float in (unaligned rows: the scalar loads)."""
    rng = np.random.default_rng(5)
    b, h, lq, lk, d, dv = 2, 3, 9, 40, 16, 8
    q_blhd = rng.standard_normal((b, lq, h, d)).astype(np.float32)
    k1 = rng.standard_normal((b, 1, lk, d)).astype(np.float32)
    v_wide = rng.standard_normal((b, h, lk, dv + 1)).astype(np.float32)
    q_view = lambda a: a.transpose(0, 2, 1, 3)  # noqa: E731
    k_view = lambda a: _broadcast(a, (b, h, lk, d))  # noqa: E731
    v_view = lambda a: a[:, :, ::-1, 1:]  # noqa: E731
    out, lse = target.empty((b, h, lq, dv), np.float32), target.empty((b, h, lq), np.float32)
    target.native.attention_forward_f32(_view(target, q_blhd, q_view), _view(target, k1, k_view),
                                        _view(target, v_wide, v_view), None, out, lse, True, 0.25, allow_tf32=True,
                                        kernel="mma", device=0, stream=target.stream)
    target.synchronize()
    _check(target.to_host(out), target.to_host(lse), q_view(q_blhd), k_view(k1), v_view(v_wide), None, True, 0.25)


def test_forward_mma_without_keys_queries_or_head_dims(target):
    q, k, v = _qkv(6, 1, 2, 5, 0, 8, 8)
    out, lse = _forward(target, q, k, v)
    assert (out == 0).all() and np.isneginf(lse).all()
    q, k, v = _qkv(6, 1, 2, 0, 5, 8, 8)
    out, lse = _forward(target, q, k, v)
    assert out.shape == (1, 2, 0, 8) and lse.shape == (1, 2, 0)
    q, k, v = _qkv(7, 1, 2, 3, 5, 0, 8)   # D = 0: every score 0, uniform weights
    out, lse = _forward(target, q, k, v, scale=1.0)
    _check(out, lse, q, k, v, None, False, 1.0)
    q, k, v = _qkv(7, 1, 2, 3, 5, 8, 0)   # Dv = 0: an empty output, the lse still written
    out, lse = _forward(target, q, k, v, causal=True)
    assert out.shape == (1, 2, 3, 0)
    np.testing.assert_allclose(lse, _forward_ref(q, k, v, None, True, 1 / math.sqrt(8))[1], rtol=1e-2, atol=1e-2)


def test_mma_rounds_to_tf32_and_simt_does_not(target):
    """kernel="mma" really is the TF32 kernel (its error is TF32's, not fp32's), and allow_tf32 alone leaves
    the emulator on the exact SIMT kernel, bit for bit."""
    q, k, v = _qkv(8, 1, 1, 20, 40, 32, 32)
    want, _, _ = _forward_ref(q, k, v, None, False, 0.2)
    mma, _ = _forward(target, q, k, v, scale=0.2)
    assert np.abs(mma - want).max() > 2e-5
    simt, _ = _forward(target, q, k, v, scale=0.2, kernel="simt")
    np.testing.assert_allclose(simt, want, rtol=2e-5, atol=2e-5)
    if target.name == "emu":
        auto, _ = _forward(target, q, k, v, scale=0.2, kernel="auto")
        np.testing.assert_array_equal(auto, simt)


def test_the_kernel_choice(target):
    f = target.native.attention_forward_kernel_for
    gpu = target.name == "cuda"  # every CI GPU is sm_80+
    assert f(64, 64) == "simt" and f(64, 64, kernel="simt", allow_tf32=True) == "simt"
    assert f(64, 64, allow_tf32=True) == ("mma_tf32" if gpu else "simt")
    assert f(64, 60, allow_tf32=True) == "simt" and f(12, 16, allow_tf32=True) == "simt"  # not multiples of 8
    assert f(64, 64, kernel="mma") == "mma_tf32"
    with pytest.raises(ValueError, match="attention_forward_kernel_for: kernel must be 'auto', 'simt' or 'mma'"):
        f(8, 8, kernel="wgmma")


def test_mma_checks_its_arguments(target):
    q, k, v = _qkv(10, 1, 1, 5, 6, 8, 8)
    with pytest.raises(ValueError, match="attention_forward_f32: the tensor-core kernel runs float32 as TF32: it "
                                         "needs allow_tf32"):
        _forward(target, q, k, v, allow_tf32=False)
    q6, k6, v6 = _qkv(10, 1, 1, 5, 6, 6, 8)
    with pytest.raises(ValueError, match=r"attention_forward_f32: the tensor-core kernel needs head dims that are "
                                         r"multiples of 8, got D = 6 and Dv = 8"):
        _forward(target, q6, k6, v6)
    with pytest.raises(ValueError, match="attention_forward_f32: kernel must be 'auto', 'simt' or 'mma', got 'x'"):
        _forward(target, q, k, v, kernel="x")
    out, _ = _forward(target, q6, k6, v6, kernel="auto")  # auto falls back to SIMT for such dims
    np.testing.assert_allclose(out, _forward_ref(q6, k6, v6, None, False, 1 / math.sqrt(6))[0], rtol=2e-4, atol=2e-5)


def test_mma_is_bitwise_the_same_under_every_schedule():
    emu = pytest.importorskip("fastnn._emu")
    q, k, v = _qkv(9, 1, 1, 40, 45, 16, 16)
    results = []
    try:
        for sched in SCHEDULES:
            emu.set_schedule(sched, 5)
            results.append(_forward(EmulatorTarget(sched), q, k, v, causal=True))
    finally:
        emu.set_schedule("forward", 0)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("marker", ["ATTN_MMA_FWD_BARRIER_LOADED", "ATTN_MMA_FWD_BARRIER_CONSUMED"])
def test_a_planted_missing_barrier_in_the_mma_forward_is_caught(marker):
    pytest.importorskip("fastnn._emu")
    q, k, v = _qkv(12, 1, 1, 20, 70, 16, 16)  # three key tiles: each shared buffer is reused
    want, _, _ = _forward_ref(_tf32(q), _tf32(k), _tf32(v), None, False, 0.25)

    def wrong(sched):
        out, _ = _forward(EmulatorTarget(sched), q, k, v, scale=0.25)
        return not np.allclose(out, want, rtol=2e-3, atol=2e-3)

    caught = schedules_catching("attention_tensor_core.cuh", marker, wrong)
    assert "random" in caught, f"the random schedule missed the missing barrier at {marker}: {caught}"


# ---- the backend passes fastnn.backends.cuda.matmul.allow_tf32 ----------------------------------------

class _Spy:
    def __init__(self, native):
        self._native, self.calls = native, []

    def __getattr__(self, name):
        fn = getattr(self._native, name)
        if name not in ("attention_forward_f32", "attention_backward_f32"):
            return fn

        def spy(*args, **kwargs):
            self.calls.append(kwargs)
            return fn(*args, **kwargs)
        return spy


@pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")
def test_the_backend_passes_allow_tf32_per_call(monkeypatch):
    be = get_backend("cuda")
    if "attention_forward" not in be.native_kernels():
        pytest.skip("the CUDA device has no kernel module")
    spy = _Spy(be.native)
    monkeypatch.setattr(be, "native", spy)
    q, k, v = (be.asarray(x) for x in _qkv(14, 1, 1, 4, 5, 8, 8))
    try:
        fastnn.backends.cuda.matmul.allow_tf32 = True
        out, lse = be.attention_forward(q, k, v, None, False, None)
        be.attention_backward(out, q, k, v, out, lse, None, False, None)
        fastnn.backends.cuda.matmul.allow_tf32 = False
        be.attention_forward(q, k, v, None, False, None)
        be.attention_backward(out, q, k, v, out, lse, None, False, None)
    finally:
        fastnn.backends.cuda.matmul.allow_tf32 = False
    assert [c["allow_tf32"] for c in spy.calls] == [True, True, False, False]
    want = _forward_ref(*(_tf32(be.to_host(x)) for x in (q, k, v)), None, False, 1 / math.sqrt(8))[0]
    np.testing.assert_allclose(be.to_host(out), want, rtol=2e-3, atol=2e-3)



# ---- backward ---------------------------------------------------------------------------------------------

def _backward(target, g, q, k, v, out, lse, mask=None, causal=False, scale=None, kernel="mma", allow_tf32=True):
    b, h, lq, d = q.shape
    lk, dv = k.shape[2], v.shape[3]
    scale = 1 / math.sqrt(d) if scale is None else scale
    dev = target.to_device
    m = None if mask is None else _view(target, mask, lambda a: _broadcast(a, (b, h, lq, lk)))
    delta = target.empty((b, h, lq), np.float32)
    dq, dk, dv_ = (target.empty(s, np.float32) for s in ((b, h, lq, d), (b, h, lk, d), (b, h, lk, dv)))
    target.native.attention_backward_f32(dev(g), dev(q), dev(k), dev(v), dev(out), dev(lse), m, delta, dq, dk, dv_,
                                         causal, scale, allow_tf32=allow_tf32, kernel=kernel, device=0,
                                         stream=target.stream)
    target.synchronize()
    return target.to_host(dq), target.to_host(dk), target.to_host(dv_)


def _check_grads(got, g, q, k, v, mask, causal, scale):
    exact = _backward_ref(g, q, k, v, mask, causal, scale)
    rounded = _backward_ref(_tf32(g), _tf32(q), _tf32(k), _tf32(v), mask, causal, scale)
    for name, a, w, r in zip(("dq", "dk", "dv"), got, exact, rounded):
        big = max(1.0, float(np.abs(w).max(initial=0)))
        np.testing.assert_allclose(a, w, rtol=1e-2, atol=1e-2 * big, err_msg=name)
        np.testing.assert_allclose(a, r, rtol=3e-3, atol=3e-3 * big, err_msg=name)


@pytest.mark.parametrize("b, h, lq, lk, d, dv, causal, mask_kind", [
    (1, 1, 1, 1, 8, 8, False, None),
    (2, 2, 5, 33, 16, 8, False, None),     # a key tail; dQ rows in one warp
    (1, 1, 70, 40, 32, 32, True, None),    # causal with Lq > Lk, two tiles each way, tail warps
    (1, 1, 33, 70, 8, 16, True, None),     # causal with Lq < Lk: key tiles no query sees
    (1, 1, 20, 37, 128, 96, True, None),   # the widest head dims
    (1, 2, 33, 37, 16, 16, False, "bool"),
    (1, 1, 6, 40, 8, 24, False, "float"),
])
def test_backward_mma(target, b, h, lq, lk, d, dv, causal, mask_kind):
    q, k, v = _qkv(lq * 7 + lk + d, b, h, lq, lk, d, dv)
    rng = np.random.default_rng(lq + lk)
    g = rng.standard_normal((b, h, lq, dv)).astype(np.float32)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((b, 1, lq, lk)) > 0.5
        mask[0, 0, 4] = False  # a dead row: zero gradients
    elif mask_kind == "float":
        mask = rng.standard_normal((lq, lk)).astype(np.float32)
        mask[1] = -np.inf
    out, lse = _forward(target, q, k, v, mask=mask, causal=causal)
    got = _backward(target, g, q, k, v, out, lse, mask=mask, causal=causal)
    _check_grads(got, g, q, k, v, mask, causal, 1 / math.sqrt(d))
    if mask_kind == "bool":
        assert (got[0][0, :, 4] == 0).all()


def test_backward_mma_without_keys_or_queries(target):
    q, k, v = _qkv(8, 1, 1, 4, 0, 8, 8)
    out, lse = _forward(target, q, k, v)
    dq, dk, dv = _backward(target, np.ones((1, 1, 4, 8), np.float32), q, k, v, out, lse)
    assert (dq == 0).all() and dk.shape == (1, 1, 0, 8) and dv.shape == (1, 1, 0, 8)
    q, k, v = _qkv(8, 1, 1, 0, 5, 8, 8)
    out, lse = _forward(target, q, k, v)
    dq, dk, dv = _backward(target, np.ones((1, 1, 0, 8), np.float32), q, k, v, out, lse)
    assert dq.shape == (1, 1, 0, 8) and (dk == 0).all() and (dv == 0).all()


def test_backward_mma_checks_its_arguments_and_rounds_to_tf32(target):
    q, k, v = _qkv(16, 1, 1, 5, 6, 8, 8)
    out, lse = _forward(target, q, k, v)
    g = np.ones((1, 1, 5, 8), np.float32)
    with pytest.raises(ValueError, match="attention_backward_f32: the tensor-core kernel runs float32 as TF32"):
        _backward(target, g, q, k, v, out, lse, allow_tf32=False)
    with pytest.raises(ValueError, match="attention_backward_f32: kernel must be 'auto', 'simt' or 'mma'"):
        _backward(target, g, q, k, v, out, lse, kernel="fast")
    simt = _backward(target, g, q, k, v, out, lse, kernel="simt")
    mma = _backward(target, g, q, k, v, out, lse)
    assert max(float(np.abs(a - b).max()) for a, b in zip(mma, simt)) > 1e-5  # kernel="mma" rounds to TF32
    if target.name == "emu":  # the emulator's own choice is SIMT, with or without allow_tf32
        for a, b in zip(_backward(target, g, q, k, v, out, lse, kernel="auto"), simt):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("marker", ["ATTN_MMA_DQ_BARRIER_CONSUMED", "ATTN_MMA_DKDV_BARRIER_CONSUMED",
                                    "ATTN_MMA_DKDV_BARRIER_LOADED"])
def test_a_planted_missing_barrier_in_the_mma_backward_is_caught(marker):
    """Lq = 40 and Lk = 70: the last warps of the last query / key tile have no rows and run ahead to the next
    tile's loads, which only the barrier holds back (the emulator runs warps with equal mma counts in step)."""
    pytest.importorskip("fastnn._emu")
    q, k, v = _qkv(13, 1, 1, 40, 70, 16, 16)
    g = np.random.default_rng(13).standard_normal((1, 1, 40, 16)).astype(np.float32)
    want = _backward_ref(_tf32(g), _tf32(q), _tf32(k), _tf32(v), None, False, 0.25)
    out, lse = _forward(EmulatorTarget("forward"), q, k, v, scale=0.25)

    def wrong(sched):
        got = _backward(EmulatorTarget(sched), g, q, k, v, out, lse, scale=0.25)
        return not all(np.allclose(a, w, rtol=3e-3, atol=3e-3) for a, w in zip(got, want))

    caught = schedules_catching("attention_tensor_core.cuh", marker, wrong)
    assert "random" in caught, f"the random schedule missed the missing barrier at {marker}: {caught}"
