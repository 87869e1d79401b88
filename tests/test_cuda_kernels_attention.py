"""The CUDA flash-attention kernels (attention_forward_f32, attention_backward_f32) against float64 NumPy
formulas, on the emulator under every schedule (and on a GPU where there is one). Shapes are tiny (the
emulator runs a fiber per CUDA thread) but cross every tile edge: the kernels tile 64 rows by 32 cols."""
import math

import numpy as np
import pytest

from cuda_kernel_helpers import SCHEDULES, EmulatorTarget, HostDeviceArray, schedules_catching

# Every test here runs kernel bindings (some on the emulator only), none depends on FASTNN_BACKEND or FASTNN_ISA.
pytestmark = pytest.mark.cuda_kernels


# ---- float64 references: the formulas of backend/composite/attention.py ----------------------------------

def _scores(q, k, mask, causal, scale):
    s = q.astype(np.float64) @ k.astype(np.float64).swapaxes(-1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    if causal:
        lq, lk = s.shape[-2:]
        s = np.where(np.arange(lk)[None, :] <= np.arange(lq)[:, None], s, -np.inf)
    return s


def _forward_ref(q, k, v, mask, causal, scale):
    with np.errstate(all="ignore"):
        s = _scores(q, k, mask, causal, scale)
        m = s.max(-1, keepdims=True) if s.shape[-1] else np.full(s.shape[:-1] + (1,), -np.inf)
        dead = m == -np.inf
        p = np.exp(s - np.where(dead, 0, m))
        total = p.sum(-1, keepdims=True)
        out = (p @ v.astype(np.float64)) / np.where(total > 0, total, 1)
        lse = np.where(total > 0, m + np.log(np.where(total > 0, total, 1)), -np.inf)[..., 0]
    return out, lse, np.where(dead, 0, p / np.where(total > 0, total, 1))


def _backward_ref(g, q, k, v, mask, causal, scale):
    out, _, p = _forward_ref(q, k, v, mask, causal, scale)
    g, q, k, v = (x.astype(np.float64) for x in (g, q, k, v))
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (g * out).sum(-1, keepdims=True)) * scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, p.swapaxes(-1, -2) @ g


# ---- running the kernels ---------------------------------------------------------------------------------

def _view(target, a, fn=None):
    """A device array holding ``a`` (or a view ``fn`` makes of it: broadcast, transposed, ...), never a copy
    of the view: the kernel sees its strides."""
    if target.name == "emu":
        return HostDeviceArray(np.array(a) if fn is None else fn(np.array(a)))
    d = target.to_device(a)
    return d if fn is None else fn(d)


def _forward(target, q, k, v, mask=None, causal=False, scale=None):
    b, h, lq, d = q.shape
    dv = v.shape[3]
    scale = 1 / math.sqrt(d) if scale is None else scale
    dev = target.to_device
    m = None if mask is None else _view(target, mask, lambda a: _broadcast(a, (b, h, lq, k.shape[2])))
    out, lse = target.empty((b, h, lq, dv), np.float32), target.empty((b, h, lq), np.float32)
    target.native.attention_forward_f32(dev(q), dev(k), dev(v), m, out, lse, causal, scale, device=0,
                                        stream=target.stream)
    target.synchronize()
    return target.to_host(out), target.to_host(lse)


def _backward(target, g, q, k, v, out, lse, mask=None, causal=False, scale=None):
    b, h, lq, d = q.shape
    lk, dv = k.shape[2], v.shape[3]
    scale = 1 / math.sqrt(d) if scale is None else scale
    dev = target.to_device
    m = None if mask is None else _view(target, mask, lambda a: _broadcast(a, (b, h, lq, lk)))
    delta = target.empty((b, h, lq), np.float32)
    dq, dk, dv_ = (target.empty(s, np.float32) for s in ((b, h, lq, d), (b, h, lk, d), (b, h, lk, dv)))
    target.native.attention_backward_f32(dev(g), dev(q), dev(k), dev(v), dev(out), dev(lse), m, delta, dq, dk, dv_,
                                         causal, scale, device=0, stream=target.stream)
    target.synchronize()
    return target.to_host(dq), target.to_host(dk), target.to_host(dv_)


def _broadcast(a, shape):
    xp = np if isinstance(a, np.ndarray) else __import__("cupy")
    return xp.broadcast_to(a.reshape((1,) * (4 - a.ndim) + a.shape), shape)


def _qkv(seed, b, h, lq, lk, d, dv):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(s).astype(np.float32) for s in ((b, h, lq, d), (b, h, lk, d), (b, h, lk, dv)))


def _close(got, want, tol=2e-5):
    """float32 against float64, the tolerance scaled by the largest finite magnitude; infinities must match."""
    finite = np.abs(want[np.isfinite(want)])
    np.testing.assert_allclose(got, want, rtol=tol * 10, atol=tol * max(1.0, float(finite.max(initial=0))))


# ---- forward ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("b, h, lq, lk, d, dv, causal", [
    (1, 1, 1, 1, 8, 8, False),
    (1, 2, 5, 33, 16, 16, False),    # several heads, a key tail
    (2, 1, 33, 5, 8, 16, False),     # batch, Dv != D
    (1, 1, 70, 33, 64, 64, False),   # two query tiles, two key tiles
    (1, 2, 33, 70, 16, 8, True),     # causal with Lq < Lk (top-left aligned)
    (1, 1, 70, 5, 8, 8, True),       # causal with Lq > Lk: later rows see every key
    (1, 1, 5, 33, 128, 96, False),   # the widest head dims (four 32-column chunks, one of them short)
    (1, 1, 6, 7, 6, 5, True),        # dims that are not multiples of 4: the scalar loads
])
def test_forward(target, b, h, lq, lk, d, dv, causal):
    q, k, v = _qkv(lq * 100 + lk, b, h, lq, lk, d, dv)
    out, lse = _forward(target, q, k, v, causal=causal)
    want_out, want_lse, _ = _forward_ref(q, k, v, None, causal, 1 / math.sqrt(d))
    _close(out, want_out)
    _close(lse, want_lse)


def test_forward_bool_mask_broadcast_with_dead_rows(target):
    q, k, v = _qkv(1, 2, 2, 33, 37, 16, 16)
    rng = np.random.default_rng(2)
    mask = rng.random((2, 1, 33, 37)) > 0.4   # broadcast over heads (stride 0)
    mask[0, 0, 3] = False                     # dead rows: no key at all
    mask[1, 0, 32] = False
    out, lse = _forward(target, q, k, v, mask=mask, scale=0.7)
    want_out, want_lse, _ = _forward_ref(q, k, v, mask, False, 0.7)
    _close(out, want_out)
    _close(lse, want_lse)
    assert (out[0, :, 3] == 0).all() and (out[1, :, 32] == 0).all()
    assert np.isneginf(lse[0, :, 3]).all() and np.isneginf(lse[1, :, 32]).all()


def test_forward_additive_mask_with_inf_rows(target):
    q, k, v = _qkv(3, 1, 2, 5, 40, 8, 8)
    rng = np.random.default_rng(4)
    mask = rng.standard_normal((5, 40)).astype(np.float32)   # (Lq, Lk): broadcast over batch and heads
    mask[:, 7] = -np.inf
    mask[2] = -np.inf                                        # a dead row
    out, lse = _forward(target, q, k, v, mask=mask, scale=0.5)
    want_out, want_lse, _ = _forward_ref(q, k, v, mask, False, 0.5)
    _close(out, want_out)
    _close(lse, want_lse)
    assert (out[:, :, 2] == 0).all() and np.isneginf(lse[:, :, 2]).all()


@pytest.mark.parametrize("causal", [False, True])
def test_strided_broadcast_and_unaligned_inputs(target, causal):
    """The kernels read operands with their strides: q as a (B, L, H, D) projection viewed (B, H, L, D),
    one key head broadcast over three (stride 0), v reversed along L (a negative stride) and sliced one
    float in (unaligned rows: the scalar loads), grad_out transposed; forward and all three gradients."""
    rng = np.random.default_rng(5)
    b, h, lq, lk, d, dv = 2, 3, 9, 40, 16, 8
    q_blhd = rng.standard_normal((b, lq, h, d)).astype(np.float32)
    k1 = rng.standard_normal((b, 1, lk, d)).astype(np.float32)
    v_wide = rng.standard_normal((b, h, lk, dv + 1)).astype(np.float32)
    g_blhd = rng.standard_normal((b, lq, h, dv)).astype(np.float32)
    q_view = lambda a: a.transpose(0, 2, 1, 3)  # noqa: E731
    k_view = lambda a: _broadcast(a, (b, h, lk, d))  # noqa: E731
    v_view = lambda a: a[:, :, ::-1, 1:]  # noqa: E731
    q, k, v, g = q_view(q_blhd), k_view(k1), v_view(v_wide), q_view(g_blhd)
    scale = 0.25
    dev_q, dev_k, dev_v = _view(target, q_blhd, q_view), _view(target, k1, k_view), _view(target, v_wide, v_view)
    out, lse = target.empty((b, h, lq, dv), np.float32), target.empty((b, h, lq), np.float32)
    target.native.attention_forward_f32(dev_q, dev_k, dev_v, None, out, lse, causal, scale, device=0,
                                        stream=target.stream)
    want_out, want_lse, _ = _forward_ref(q, k, v, None, causal, scale)
    out_h, lse_h = target.to_host(out), target.to_host(lse)
    _close(out_h, want_out)
    _close(lse_h, want_lse)
    delta = target.empty((b, h, lq), np.float32)
    grads = [target.empty(s, np.float32) for s in ((b, h, lq, d), (b, h, lk, d), (b, h, lk, dv))]
    target.native.attention_backward_f32(_view(target, g_blhd, q_view), dev_q, dev_k, dev_v, out, lse, None, delta,
                                         *grads, causal, scale, device=0, stream=target.stream)
    for got, want in zip(grads, _backward_ref(g, q, k, v, None, causal, scale)):
        _close(target.to_host(got), want, 5e-5)


def test_forward_without_keys_or_queries(target):
    q, k, v = _qkv(6, 1, 2, 5, 0, 8, 4)
    out, lse = _forward(target, q, k, v)
    assert (out == 0).all() and np.isneginf(lse).all()
    q, k, v = _qkv(6, 1, 2, 0, 5, 8, 4)
    out, lse = _forward(target, q, k, v)
    assert out.shape == (1, 2, 0, 4) and lse.shape == (1, 2, 0)


def test_empty_head_dims(target):
    """D = 0: every score is 0 (uniform weights); Dv = 0: an empty output, the lse still written."""
    q, k, v = _qkv(7, 1, 2, 3, 5, 0, 4)
    out, lse = _forward(target, q, k, v, scale=1.0)
    want_out, want_lse, _ = _forward_ref(q, k, v, None, False, 1.0)
    _close(out, want_out)
    _close(lse, want_lse)
    q, k, v = _qkv(7, 1, 2, 3, 5, 8, 0)
    out, lse = _forward(target, q, k, v, causal=True)
    assert out.shape == (1, 2, 3, 0)
    _close(lse, _forward_ref(q, k, v, None, True, 1 / math.sqrt(8))[1])


# ---- backward --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("b, h, lq, lk, d, dv, causal, mask_kind", [
    (1, 1, 1, 1, 8, 8, False, None),
    (2, 2, 5, 33, 16, 8, False, None),
    (1, 1, 70, 33, 64, 64, True, None),   # causal with Lq > Lk, two tiles each way
    (1, 1, 33, 70, 8, 16, True, None),    # causal with Lq < Lk: key tiles no query sees
    (1, 1, 70, 45, 128, 96, True, None),  # the widest head dims (four 32-column chunks, one short)
    (1, 2, 33, 37, 16, 16, False, "bool"),
    (1, 1, 6, 40, 6, 5, False, "float"),
])
def test_backward(target, b, h, lq, lk, d, dv, causal, mask_kind):
    q, k, v = _qkv(lq * 7 + lk, b, h, lq, lk, d, dv)
    rng = np.random.default_rng(lq + lk)
    g = rng.standard_normal((b, h, lq, dv)).astype(np.float32)
    mask = None
    if mask_kind == "bool":
        mask = rng.random((b, 1, lq, lk)) > 0.5
        mask[0, 0, 4] = False  # a dead row: zero gradients
    elif mask_kind == "float":
        mask = rng.standard_normal((lq, lk)).astype(np.float32)
        mask[1] = -np.inf
    scale = 1 / math.sqrt(d)
    out, lse = _forward(target, q, k, v, mask=mask, causal=causal)
    dq, dk, dv_ = _backward(target, g, q, k, v, out, lse, mask=mask, causal=causal)
    want = _backward_ref(g, q, k, v, mask, causal, scale)
    for got, w in zip((dq, dk, dv_), want):
        _close(got, w, 5e-5)
    if mask_kind == "bool":
        assert (dq[0, :, 4] == 0).all()


def test_backward_without_keys_or_queries(target):
    q, k, v = _qkv(8, 1, 1, 4, 0, 8, 8)
    out, lse = _forward(target, q, k, v)
    dq, dk, dv = _backward(target, np.ones((1, 1, 4, 8), np.float32), q, k, v, out, lse)
    assert (dq == 0).all() and dk.shape == (1, 1, 0, 8) and dv.shape == (1, 1, 0, 8)
    q, k, v = _qkv(8, 1, 1, 0, 5, 8, 8)
    out, lse = _forward(target, q, k, v)
    dq, dk, dv = _backward(target, np.ones((1, 1, 0, 8), np.float32), q, k, v, out, lse)
    assert dq.shape == (1, 1, 0, 8) and (dk == 0).all() and (dv == 0).all()


def test_backward_is_bitwise_the_same_under_every_schedule():
    emu = pytest.importorskip("fastnn._emu")
    q, k, v = _qkv(9, 1, 1, 40, 45, 16, 16)
    g = np.random.default_rng(9).standard_normal((1, 1, 40, 16)).astype(np.float32)
    results = []
    try:
        for sched in SCHEDULES:
            emu.set_schedule(sched, 5)
            t = EmulatorTarget(sched)
            out, lse = _forward(t, q, k, v, causal=True)
            results.append((out, lse) + _backward(t, g, q, k, v, out, lse, causal=True))
    finally:
        emu.set_schedule("forward", 0)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


# ---- arguments -------------------------------------------------------------------------------------------

def test_forward_checks_its_arguments(target):
    dev = target.to_device
    q, k, v = (dev(x) for x in _qkv(10, 1, 2, 5, 6, 8, 4))
    out, lse = target.empty((1, 2, 5, 4), np.float32), target.empty((1, 2, 5), np.float32)
    f = target.native.attention_forward_f32
    f(q, k, v, None, out, lse, False, 0.5)  # the good call
    with pytest.raises(TypeError, match="attention_forward_f32: q must be a CUDA device array"):
        f(np.ones((1, 2, 5, 8), np.float32), k, v, None, out, lse, False, 0.5)
    with pytest.raises(TypeError, match="attention_forward_f32: k must be float32, got float64"):
        f(q, dev(np.ones((1, 2, 6, 8))), v, None, out, lse, False, 0.5)
    with pytest.raises(ValueError, match="attention_forward_f32: q must be 4-D"):
        f(dev(np.ones((2, 5, 8), np.float32)), k, v, None, out, lse, False, 0.5)
    with pytest.raises(ValueError, match=r"attention_forward_f32: shapes q \(1, 2, 5, 8\), k \(1, 2, 6, 7\)"):
        f(q, dev(np.ones((1, 2, 6, 7), np.float32)), v, None, out, lse, False, 0.5)
    with pytest.raises(ValueError, match="head dims up to 128, got D = 129"):
        big = dev(np.ones((1, 1, 2, 129), np.float32))
        f(big, big, dev(np.ones((1, 1, 2, 4), np.float32)), None, target.empty((1, 1, 2, 4), np.float32),
          target.empty((1, 1, 2), np.float32), False, 0.5)
    with pytest.raises(ValueError, match="scale must be finite"):
        f(q, k, v, None, out, lse, False, math.inf)
    with pytest.raises(ValueError, match="a mask and is_causal exclude each other"):
        f(q, k, v, dev(np.ones((1, 2, 5, 6), bool)), out, lse, True, 0.5)
    with pytest.raises(TypeError, match="mask must be bool or float32, got int32"):
        f(q, k, v, dev(np.ones((1, 2, 5, 6), np.int32)), out, lse, False, 0.5)
    with pytest.raises(ValueError, match=r"mask must have shape \(1, 2, 5, 6\), got \(5, 6\)"):
        f(q, k, v, dev(np.ones((5, 6), bool)), out, lse, False, 0.5)
    with pytest.raises(ValueError, match=r"out must have shape \(1, 2, 5, 4\)"):
        f(q, k, v, None, target.empty((1, 2, 5, 8), np.float32), lse, False, 0.5)
    with pytest.raises(ValueError, match="lse must have shape"):
        f(q, k, v, None, out, target.empty((1, 2, 6), np.float32), False, 0.5)


def test_backward_checks_its_arguments(target):
    dev = target.to_device
    q, k, v = (dev(x) for x in _qkv(11, 1, 1, 5, 6, 8, 4))
    g, o = dev(np.ones((1, 1, 5, 4), np.float32)), dev(np.ones((1, 1, 5, 4), np.float32))
    lse, delta = dev(np.zeros((1, 1, 5), np.float32)), target.empty((1, 1, 5), np.float32)
    dq, dk, dv = (target.empty(s, np.float32) for s in ((1, 1, 5, 8), (1, 1, 6, 8), (1, 1, 6, 4)))
    f = target.native.attention_backward_f32
    f(g, q, k, v, o, lse, None, delta, dq, dk, dv, False, 0.5)  # the good call
    with pytest.raises(ValueError, match=r"attention_backward_f32: grad_out must have shape \(1, 1, 5, 4\)"):
        f(dev(np.ones((1, 1, 5, 3), np.float32)), q, k, v, o, lse, None, delta, dq, dk, dv, False, 0.5)
    with pytest.raises(TypeError, match="attention_backward_f32: lse must be float32"):
        f(g, q, k, v, o, dev(np.zeros((1, 1, 5))), None, delta, dq, dk, dv, False, 0.5)
    with pytest.raises(ValueError, match=r"attention_backward_f32: dk must have shape \(1, 1, 6, 8\)"):
        f(g, q, k, v, o, lse, None, delta, dq, target.empty((1, 1, 6, 4), np.float32), dv, False, 0.5)
    with pytest.raises(ValueError, match=r"attention_backward_f32: delta must have shape \(1, 1, 5\)"):
        f(g, q, k, v, o, lse, None, target.empty((1, 1, 4), np.float32), dq, dk, dv, False, 0.5)


# ---- the emulator catches a missing barrier in the forward kernel ----------------------------------------

@pytest.mark.parametrize("marker", ["ATTN_FWD_BARRIER_LOADED", "ATTN_FWD_BARRIER_P", "ATTN_FWD_BARRIER_CONSUMED"])
def test_a_planted_missing_barrier_in_the_forward_is_caught(marker):
    pytest.importorskip("fastnn._emu")
    q, k, v = _qkv(12, 1, 1, 20, 70, 16, 16)  # three key tiles
    want, _, _ = _forward_ref(q, k, v, None, False, 0.25)

    def wrong(sched):
        out, _ = _forward(EmulatorTarget(sched), q, k, v, scale=0.25)
        return not np.allclose(out, want, rtol=1e-4, atol=1e-4)

    caught = schedules_catching("attention.cu", marker, wrong)
    assert "random" in caught, f"the random schedule missed the missing barrier at {marker}: {caught}"


@pytest.mark.parametrize("marker", ["ATTN_DQ_BARRIER_DS", "ATTN_DKDV_BARRIER_CONSUMED"])
def test_a_planted_missing_barrier_in_the_backward_is_caught(marker):
    pytest.importorskip("fastnn._emu")
    q, k, v = _qkv(13, 1, 1, 40, 70, 16, 16)  # two query tiles of the dK/dV loop, three key tiles of dQ's
    g = np.random.default_rng(13).standard_normal((1, 1, 40, 16)).astype(np.float32)
    want = _backward_ref(g, q, k, v, None, False, 0.25)
    out, lse = _forward(EmulatorTarget("forward"), q, k, v, scale=0.25)

    def wrong(sched):
        got = _backward(EmulatorTarget(sched), g, q, k, v, out, lse, scale=0.25)
        return not all(np.allclose(a, w, rtol=1e-4, atol=1e-4) for a, w in zip(got, want))

    caught = schedules_catching("attention.cu", marker, wrong)
    assert "random" in caught, f"the random schedule missed the missing barrier at {marker}: {caught}"
