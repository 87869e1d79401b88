"""The CUDA softmax family (csrc/cuda/softmax.cu) against float64 NumPy and the composite formulas
(backend/composite/nn.py), on the emulator under every schedule (and on a GPU where there is one). Row
lengths cover the warp-per-row kernels (<= 1024 columns, float4 and scalar paths) and the block-per-row
ones (longer rows), with 1, 0 and odd sizes."""
import numpy as np
import pytest
from cuda_kernel_helpers import planted_barrier

from fastnn.backend.composite.nn import NNKernels

INT32_MAX = 2**31 - 1


class _NumpyNN(NNKernels):
    xp = np
    errstate = staticmethod(np.errstate)


REF = _NumpyNN()

SHAPES = [(1, 1), (5, 33), (3, 4, 7), (9, 100), (2, 1030), (3, 2048), (0, 5), (4, 0)]


def _softmax64(x, log):
    x = x.astype(np.float64)
    z = x - x.max(axis=-1, keepdims=True)
    ls = np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return z - ls if log else np.exp(z - ls)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_last(target, shape, log):
    rng = np.random.default_rng(sum(shape) + log)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    y = target.empty(shape, np.float32)
    target.native.softmax_last_f32(target.to_device(x), y, log, device=0, stream=target.stream)
    got = target.to_host(y)
    if x.size:
        np.testing.assert_allclose(got, _softmax64(x, log), rtol=2e-6, atol=1e-6 if log else 1e-7)


@pytest.mark.parametrize("cols", [6, 1030])
def test_softmax_last_special_values_as_the_composite(target, cols):
    x = np.zeros((5, cols), np.float32)
    x[0, 1] = -np.inf                 # one -inf: fine
    x[1, :] = -np.inf                 # all -inf: NaN row
    x[2, 3] = np.inf                  # +inf max: NaN row
    x[3, 2] = np.nan                  # NaN: NaN row
    x[4, :] = np.linspace(-50, 50, cols)
    for log in (False, True):
        y = target.empty(x.shape, np.float32)
        target.native.softmax_last_f32(target.to_device(x), y, log, stream=target.stream)
        want = REF.softmax_last(x, log)
        got = target.to_host(y)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_last_backward(target, shape, log):
    rng = np.random.default_rng(sum(shape) * 3 + log)
    y = _softmax64(rng.standard_normal(shape), log).astype(np.float32) if shape[-1] else np.zeros(shape, np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    dx = target.empty(shape, np.float32)
    target.native.softmax_last_backward_f32(target.to_device(y), target.to_device(g), dx, log, stream=target.stream)
    y64, g64 = y.astype(np.float64), g.astype(np.float64)
    if log:
        want = g64 - np.exp(y64) * g64.sum(-1, keepdims=True)
    else:
        want = y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))
    if y.size:
        scale = np.abs(g64).sum(-1, keepdims=True) + 1
        np.testing.assert_allclose(target.to_host(dx), want, rtol=1e-5, atol=float(scale.max()) * 2e-7)


def _xent(target, logits, tgt, ignore_index, smoothing):
    n = logits.shape[0]
    loss, lse = target.empty(n, np.float32), target.empty(n, np.float32)
    bad = target.to_device(np.array([INT32_MAX], np.int32))
    target.native.cross_entropy_rows_f32(target.to_device(logits), target.to_device(tgt), loss, lse, bad,
                                         ignore_index, smoothing, device=0, stream=target.stream)
    return target.to_host(loss), target.to_host(lse), int(target.to_host(bad)[0])


XENT_CASES = [(1, 1, -100, 0.0), (7, 10, -100, 0.0), (6, 33, 2, 0.1), (5, 1030, -100, 0.25), (4, 64, -1, 1.0),
              (0, 5, -100, 0.0)]


@pytest.mark.parametrize("n, c, ignore_index, smoothing", XENT_CASES)
def test_cross_entropy_rows(target, n, c, ignore_index, smoothing):
    rng = np.random.default_rng(n * 100 + c)
    logits = (rng.standard_normal((n, c)) * 3 + 20).astype(np.float32)  # large logits: the loss is kept in double
    tgt = rng.integers(0, c, n).astype(np.int64)
    tgt[::3] = ignore_index  # every third row ignored
    loss, lse, bad = _xent(target, logits, tgt, ignore_index, smoothing)
    want_loss, want_lse = REF.cross_entropy_rows(logits, tgt, ignore_index, smoothing)
    assert bad == INT32_MAX
    np.testing.assert_allclose(lse, want_lse, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=5e-6)
    assert np.all(loss[tgt == ignore_index] == 0) and np.all(lse[tgt == ignore_index] == 0)


@pytest.mark.parametrize("n, c, ignore_index, smoothing", XENT_CASES)
@pytest.mark.parametrize("with_rows", [False, True])
def test_cross_entropy_rows_backward(target, n, c, ignore_index, smoothing, with_rows):
    rng = np.random.default_rng(n * 10 + c)
    logits = (rng.standard_normal((n, c)) * 3).astype(np.float32)
    tgt = rng.integers(0, c, n).astype(np.int64)
    tgt[1::3] = ignore_index
    _, lse = REF.cross_entropy_rows(logits, tgt, ignore_index, smoothing)
    grad_rows = rng.standard_normal(n).astype(np.float32) if with_rows else None
    dx = target.empty((n, c), np.float32)
    bad = target.to_device(np.array([INT32_MAX], np.int32))
    target.native.cross_entropy_rows_backward_f32(
        target.to_device(logits), target.to_device(tgt), target.to_device(lse),
        None if grad_rows is None else target.to_device(grad_rows), dx, bad, 0.5, ignore_index, smoothing,
        stream=target.stream)
    want = REF.cross_entropy_rows_backward(logits, tgt, lse, grad_rows, 0.5, ignore_index, smoothing)
    np.testing.assert_allclose(target.to_host(dx), want, rtol=1e-5, atol=1e-7)
    assert int(target.to_host(bad)[0]) == INT32_MAX


@pytest.mark.parametrize("c", [6, 1030])
def test_cross_entropy_special_values_as_the_composite(target, c):
    x = np.tile(np.linspace(-3, 3, c, dtype=np.float32), (6, 1))
    x[0, 1] = -np.inf       # one -inf, not the target: fine
    x[1, :] = -np.inf       # all -inf: NaN
    x[2, 3] = np.inf        # +inf: NaN
    x[3, 2] = np.nan        # NaN: NaN
    x[4, 0] = -np.inf       # -inf at the target: an infinite loss
    x[5, :] = 80.0          # exp would overflow without the max: lse = 80 + log(c)
    tgt = np.array([0, 0, 0, 0, 0, c - 1], np.int64)
    for smoothing in (0.0, 0.2):
        loss, lse, bad = _xent(target, x, tgt, -100, smoothing)
        want_loss, want_lse = REF.cross_entropy_rows(x, tgt, -100, smoothing)
        assert bad == INT32_MAX
        np.testing.assert_allclose(lse, want_lse, rtol=1e-6)
        np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("c", [10, 1030])
def test_cross_entropy_flags_the_first_target_out_of_range(target, c):
    logits = np.zeros((6, c), np.float32)
    tgt = np.array([0, -100, c, 1, -3, c + 5], np.int64)
    loss, lse, bad = _xent(target, logits, tgt, -100, 0.0)
    assert bad == 2
    assert np.isnan(loss[[2, 4, 5]]).all() and np.isfinite(loss[[0, 1, 3]]).all()
    dx = target.empty((6, c), np.float32)
    flag = target.to_device(np.array([INT32_MAX], np.int32))
    target.native.cross_entropy_rows_backward_f32(target.to_device(logits), target.to_device(tgt),
                                                  target.to_device(lse), None, dx, flag, 1.0, -100, 0.0,
                                                  stream=target.stream)
    assert int(target.to_host(flag)[0]) == 2
    # No classes: every row must be ignored; an ignored row of no classes is fine.
    loss, lse, bad = _xent(target, np.zeros((2, 0), np.float32), np.array([-100, -100], np.int64), -100, 0.0)
    assert bad == INT32_MAX and loss.tolist() == [0.0, 0.0]
    assert _xent(target, np.zeros((2, 0), np.float32), np.array([-100, 0], np.int64), -100, 0.0)[2] == 1


def test_softmax_bindings_check_their_arguments(target):
    dev, f32 = target.to_device, np.float32
    x = dev(np.ones((2, 3), f32))
    with pytest.raises(TypeError, match="softmax_last_f32: x must be float32, got float64"):
        target.native.softmax_last_f32(dev(np.ones((2, 3))), target.empty((2, 3), f32), False)
    with pytest.raises(ValueError, match=r"softmax_last_f32: y must have shape \(2, 3\), got \(3, 2\)"):
        target.native.softmax_last_f32(x, target.empty((3, 2), f32), False)
    with pytest.raises(ValueError, match="softmax_last_f32: x must have at least one dimension"):
        target.native.softmax_last_f32(dev(np.ones((), f32)), target.empty((), f32), False)
    with pytest.raises(ValueError, match=r"softmax_last_backward_f32: grad_output must have shape \(2, 3\)"):
        target.native.softmax_last_backward_f32(x, dev(np.ones((2, 4), f32)), target.empty((2, 3), f32), True)
    loss, lse = target.empty(2, f32), target.empty(2, f32)
    bad = dev(np.array([INT32_MAX], np.int32))
    tgt = dev(np.zeros(2, np.int64))
    f = target.native.cross_entropy_rows_f32
    with pytest.raises(TypeError, match="cross_entropy_rows_f32: target must be int64, got int32"):
        f(x, dev(np.zeros(2, np.int32)), loss, lse, bad, -100, 0.0)
    with pytest.raises(ValueError, match=r"cross_entropy_rows_f32: target must have shape \(2,\), got \(3,\)"):
        f(x, dev(np.zeros(3, np.int64)), loss, lse, bad, -100, 0.0)
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        f(x, tgt, loss, lse, bad, -100, 1.5)
    with pytest.raises(ValueError, match="cross_entropy_rows_f32: logits must be 2-D"):
        f(dev(np.ones(3, f32)), tgt, loss, lse, bad, -100, 0.0)
    with pytest.raises(TypeError, match="cross_entropy_rows_f32: bad must be int32"):
        f(x, tgt, loss, lse, dev(np.zeros(1, np.int64)), -100, 0.0)
    g = target.native.cross_entropy_rows_backward_f32
    with pytest.raises(ValueError, match=r"cross_entropy_rows_backward_f32: grad_rows must have shape \(2,\)"):
        g(x, tgt, lse, dev(np.ones(3, f32)), target.empty((2, 3), f32), bad, 1.0, -100, 0.0)
    with pytest.raises(ValueError, match=r"cross_entropy_rows_backward_f32: dx must have shape \(2, 3\)"):
        g(x, tgt, lse, None, target.empty((2, 2), f32), bad, 1.0, -100, 0.0)


def test_a_missing_barrier_in_the_block_reduction_is_caught():
    import fastnn._emu as emu
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 1500)).astype(np.float32)
    want = _softmax64(x, False)
    from cuda_kernel_helpers import HostDeviceArray
    caught = set()
    with planted_barrier("softmax.cu", "barrier: max-sum partials"):
        for sched in emu.schedules():
            emu.set_schedule(sched, 3)
            y = HostDeviceArray(np.full(x.shape, np.nan, np.float32))
            emu.softmax_last_f32(HostDeviceArray(x.copy()), y, False)
            if not np.allclose(y.a, want, rtol=1e-4, atol=1e-6):
                caught.add(sched)
        assert emu.planted_barrier_hits() > 0
    emu.set_schedule("forward", 0)
    assert "random" in caught, caught
