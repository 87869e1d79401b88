"""The CUDA batch-norm kernels (csrc/cuda/batchnorm.cu) against float64 NumPy references, on the emulator
under every schedule (and on a GPU where there is one): training and eval forward, the backward with every
subset of gradients, N = 1 / L = 1, several splits per channel, the float4 and scalar paths, zero-size
batches, the bindings' argument checks, and a planted missing barrier in the block reduction."""
import importlib

import numpy as np
import pytest

from cuda_kernel_helpers import EmulatorTarget, HostDeviceArray, planted_barrier


def _forward_reference(x, w, b, rm, rv, training, eps):
    x64 = x.astype(np.float64)
    w64 = np.ones(x.shape[1]) if w is None else w.astype(np.float64)
    b64 = np.zeros(x.shape[1]) if b is None else b.astype(np.float64)
    if training:
        mean = x64.mean(axis=(0, 2))
        var = ((x64 - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    else:
        mean, var = rm.astype(np.float64), rv.astype(np.float64)
    invstd = 1.0 / np.sqrt(var + eps)
    y = (x64 - mean[None, :, None]) * (invstd * w64)[None, :, None] + b64[None, :, None]
    return y, mean, invstd, var


def _backward_reference(g, x, mean, invstd, w, training):
    g64, x64 = g.astype(np.float64), x.astype(np.float64)
    w64 = np.ones(x.shape[1]) if w is None else w.astype(np.float64)
    xhat = (x64 - mean[None, :, None]) * invstd[None, :, None]
    dbias = g64.sum(axis=(0, 2))
    dweight = (g64 * xhat).sum(axis=(0, 2))
    k = (w64 * invstd)[None, :, None]
    if training:
        count = x.shape[0] * x.shape[2]
        dx = k * (g64 - dbias[None, :, None] / count - xhat * dweight[None, :, None] / count)
    else:
        dx = k * g64
    return dx, dweight, dbias


def _forward(target, x, w, b, rm, rv, training, eps=1e-5, xd=None):
    n, c, l = x.shape
    dev = target.to_device
    y = target.empty(x.shape, np.float32)
    mean, invstd = target.empty(c, np.float64), target.empty(c, np.float64)
    var = target.empty(c, np.float64) if training else None
    work = target.empty(target.native.batch_norm_workspace(n, c, l), np.float64)
    opt = (lambda v: None if v is None else dev(v))
    target.native.batch_norm_forward_f32(dev(x) if xd is None else xd, opt(w), opt(b), opt(rm), opt(rv), y, mean,
                                         invstd, var, work, training, eps, device=0, stream=target.stream)
    return (target.to_host(y), target.to_host(mean), target.to_host(invstd),
            None if var is None else target.to_host(var))


def _backward(target, g, x, mean, invstd, w, training, need=(True, True, True)):
    n, c, l = x.shape
    dev = target.to_device
    gx = target.empty(x.shape, np.float32) if need[0] else None
    gw = target.empty(c, np.float32) if need[1] else None
    gb = target.empty(c, np.float32) if need[2] else None
    work = target.empty(target.native.batch_norm_workspace(n, c, l), np.float64)
    target.native.batch_norm_backward_f32(dev(g), dev(x), dev(mean), dev(invstd), None if w is None else dev(w),
                                          gx, gw, gb, work, training, device=0, stream=target.stream)
    return tuple(None if v is None else target.to_host(v) for v in (gx, gw, gb))


SHAPES = [(4, 3, 5), (2, 3, 8), (1, 2, 1), (5, 4, 1), (3, 37, 1), (4500, 2, 1), (3, 1, 1501), (1, 3, 4100),
          (1, 1, 7)]


def _data(shape, seed, offset=50.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3 + offset).astype(np.float32)  # |mean| >> std: no cancellation allowed
    c = shape[1]
    w, b = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    return x, w, b, g


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_training_forward_and_backward(target, shape):
    x, w, b, g = _data(shape, sum(shape))
    y, mean, invstd, var = _forward(target, x, w, b, None, None, True)
    want_y, want_mean, want_invstd, want_var = _forward_reference(x, w, b, None, None, True, 1e-5)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9)
    np.testing.assert_allclose(var, want_var, rtol=1e-5, atol=1e-9)  # float32 x - mean, then float64 squares
    np.testing.assert_allclose(invstd, want_invstd, rtol=1e-5)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=3e-5 * (1 + np.abs(w).max()))
    gx, gw, gb = _backward(target, g, x, mean, invstd, w, True)
    want_gx, want_gw, want_gb = _backward_reference(g, x, mean, invstd, w, True)
    scale = np.sqrt(shape[0] * shape[2])  # the sums' size
    np.testing.assert_allclose(gb, want_gb, rtol=1e-6, atol=1e-5 * scale)
    np.testing.assert_allclose(gw, want_gw, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(gx, want_gx, rtol=1e-4, atol=1e-4 * np.abs(want_gx).max() + 1e-6)


@pytest.mark.parametrize("shape, affine", [((3, 2, 6), True), ((2, 3, 5), False), ((1, 2, 1), True)])
def test_batch_norm_eval_forward_and_backward(target, shape, affine):
    x, w, b, g = _data(shape, 7 + sum(shape), offset=1.0)
    if not affine:
        w = b = None
    c = shape[1]
    rng = np.random.default_rng(1)
    rm = rng.standard_normal(c).astype(np.float32)
    rv = (rng.random(c) + 0.5).astype(np.float32)
    y, mean, invstd, var = _forward(target, x, w, b, rm, rv, False, eps=1e-3)
    want_y, want_mean, want_invstd, _ = _forward_reference(x, w, b, rm, rv, False, 1e-3)
    assert var is None
    np.testing.assert_array_equal(mean, rm.astype(np.float64))
    np.testing.assert_allclose(invstd, want_invstd, rtol=1e-12)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5)
    gx, gw, gb = _backward(target, g, x, mean, invstd, w, False)
    want_gx, want_gw, want_gb = _backward_reference(g, x, mean, invstd, w, False)
    np.testing.assert_allclose(gx, want_gx, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gw, want_gw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gb, want_gb, rtol=1e-5, atol=1e-5)
    gx_only = _backward(target, g, x, mean, invstd, w, False, need=(True, False, False))  # no reduction at all
    np.testing.assert_array_equal(gx_only[0], gx)
    assert gx_only[1] is None and gx_only[2] is None


@pytest.mark.parametrize("need", [(False, True, False), (False, False, True), (True, False, False)])
def test_batch_norm_backward_subsets(target, need):
    shape = (2, 3, 6)
    x, w, b, g = _data(shape, 5)
    _, mean, invstd, _ = _forward(target, x, w, b, None, None, True)
    got = _backward(target, g, x, mean, invstd, None, True, need)
    want = _backward_reference(g, x, mean, invstd, None, True)
    for flag, v, ref in zip(need, got, want):
        if flag:
            np.testing.assert_allclose(v, ref, rtol=1e-4, atol=1e-4)
        else:
            assert v is None


def test_batch_norm_constant_channel_and_zero_size(target):
    """A constant channel has variance 0 (not a tiny negative), so invstd = 1 / sqrt(eps); an empty batch in
    eval mode writes the statistics only, and its backward gives zero weight and bias gradients."""
    x = np.full((3, 2, 5), 7.25, np.float32)
    x[:, 1] = np.arange(15, dtype=np.float32).reshape(3, 5) * 1e-3 + 1000.0
    y, mean, invstd, var = _forward(target, x, None, None, None, None, True, eps=1e-5)
    assert var[0] == 0.0 and mean[0] == 7.25
    np.testing.assert_allclose(invstd[0], 1 / np.sqrt(1e-5))
    np.testing.assert_array_equal(y[:, 0], 0.0)
    np.testing.assert_allclose(y[:, 1], _forward_reference(x, None, None, None, None, True, 1e-5)[0][:, 1],
                               atol=2e-3)  # 1000 + 1e-3 steps: float32's own spacing there is 6e-5
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    x0 = np.zeros((0, 2, 4), np.float32)
    y0, mean0, invstd0, _ = _forward(target, x0, None, None, rm, rv, False)
    assert y0.shape == (0, 2, 4)
    np.testing.assert_allclose(invstd0, 1 / np.sqrt(1 + 1e-5))
    gx, gw, gb = _backward(target, x0, x0, mean0, invstd0, None, True)
    assert gx.shape == (0, 2, 4)
    np.testing.assert_array_equal(gw, 0.0)
    np.testing.assert_array_equal(gb, 0.0)


@pytest.fixture
def emu_target():
    """The emulator alone, for the tests that pick schedules themselves (or need host memory)."""
    target = EmulatorTarget("random")
    emu = importlib.import_module("fastnn._emu")
    emu.set_schedule("random", 11)
    try:
        yield target
    finally:
        emu.set_schedule("forward", 0)


def test_batch_norm_nan_stays_in_its_channel(target):
    x, w, b, g = _data((3, 2, 5), 12)
    x[1, 0, 2] = np.nan
    y, mean, invstd, var = _forward(target, x, w, b, None, None, True)
    assert np.isnan(mean[0]) and np.isnan(var[0]) and np.isnan(invstd[0]) and np.isnan(y[:, 0]).all()
    want_y, want_mean, _, want_var = _forward_reference(x, w, b, None, None, True, 1e-5)
    np.testing.assert_allclose(var[1], want_var[1], rtol=1e-5)
    np.testing.assert_allclose(y[:, 1], want_y[:, 1], rtol=1e-5, atol=1e-4)
    gx, gw, gb = _backward(target, g, x, mean, invstd, w, True)
    assert np.isnan(gx[:, 0]).all() and np.isnan(gw[0]) and not np.isnan(gx[:, 1]).any()


@pytest.mark.cuda_kernels
def test_batch_norm_unaligned_input_takes_the_scalar_path(emu_target):
    target = emu_target
    x, w, b, _ = _data((2, 3, 8), 9)
    buf = np.empty(x.size + 1, np.float32)
    view = buf[1:].reshape(x.shape)  # 4-byte aligned only: L % 4 == 0 but no float4 loads
    view[...] = x
    y, mean, _, var = _forward(target, x, w, b, None, None, True, xd=HostDeviceArray(view))
    want_y, want_mean, _, want_var = _forward_reference(x, w, b, None, None, True, 1e-5)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-9)
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-4)


@pytest.mark.cuda_kernels
def test_batch_norm_is_bitwise_the_same_under_every_schedule(emu_target):
    target = emu_target
    emu = importlib.import_module("fastnn._emu")
    # a block per channel; 4200 values per channel: two splits, in both layouts
    for shape in ((2, 2, 1001), (3, 2, 1400), (4200, 3, 1)):
        x, w, b, g = _data(shape, 3)
        runs = []
        for sched, seed in (("forward", 0), ("reverse", 0), ("random", 5), ("random", 99)):
            emu.set_schedule(sched, seed)
            y, mean, invstd, var = _forward(target, x, w, b, None, None, True)
            runs.append((y, mean, invstd, var) + _backward(target, g, x, mean, invstd, w, True))
        emu.set_schedule(target.schedule, 11)
        for run in runs[1:]:
            for a, b_ in zip(runs[0], run):
                np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("shape, marker", [
    ((2, 2, 1001), "planted: bn block reduce"),              # one block per channel, 8 warps
    ((2, 1, 2501), "planted: bn block reduce"),              # two splits per channel, 8 warps each
    ((2, 2, 1001), "planted: bn broadcast"),
    ((2, 2, 1001), "planted: bn channel coefficients"),
    ((2, 2, 1001), "planted: bn channel backward coefficients"),
    ((40, 35, 1), "planted: bn column reduce"),
])
@pytest.mark.cuda_kernels
def test_a_planted_missing_barrier_is_caught(emu_target, shape, marker):
    target = emu_target
    x, w, b, g = _data(shape, 4)
    want_y, want_mean, want_invstd, _ = _forward_reference(x, w, b, None, None, True, 1e-5)
    want_grads = _backward_reference(g, x, want_mean, want_invstd, w, True)

    def right():
        y, mean, invstd, _ = _forward(target, x, w, b, None, None, True)
        grads = _backward(target, g, x, mean, invstd, w, True)
        return (np.allclose(mean, want_mean, rtol=1e-6) and np.allclose(y, want_y, rtol=1e-4, atol=1e-4)
                and all(np.allclose(v, ref, rtol=1e-3, atol=1e-3) for v, ref in zip(grads, want_grads)))

    caught = set()
    with planted_barrier("batchnorm.cu", marker) as emu:
        for sched in emu.schedules():
            emu.set_schedule(sched, 3)
            if not right():
                caught.add(sched)
        assert emu.planted_barrier_hits() > 0
    emu.set_schedule("random", 11)
    assert "random" in caught, caught  # the seeded random schedule every kernel test runs under
    assert right()  # the barrier back: right again


def test_batch_norm_bindings_check_their_arguments(target):
    dev, native = target.to_device, target.native
    x = dev(np.ones((2, 3, 4), np.float32))
    y = target.empty((2, 3, 4), np.float32)
    m, s, v = (target.empty(3, np.float64) for _ in range(3))
    work = target.empty(native.batch_norm_workspace(2, 3, 4), np.float64)
    f = native.batch_norm_forward_f32
    with pytest.raises(TypeError, match="batch_norm_forward_f32: x must be a CUDA device array"):
        f(np.ones((2, 3, 4), np.float32), None, None, None, None, y, m, s, v, work, True, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_forward_f32: x must be float32, got float64"):
        f(dev(np.ones((2, 3, 4))), None, None, None, None, y, m, s, v, work, True, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_f32: x must be 3-D"):
        f(dev(np.ones((2, 3), np.float32)), None, None, None, None, y, m, s, v, work, True, 1e-5)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        f(x, None, None, None, None, y, m, s, v, work, True, -1.0)
    with pytest.raises(ValueError, match="training needs at least one value per channel"):
        f(dev(np.ones((0, 3, 4), np.float32)), None, None, None, None, target.empty((0, 3, 4), np.float32), m, s, v,
          target.empty(native.batch_norm_workspace(0, 3, 4), np.float64), True, 1e-5)
    with pytest.raises(ValueError, match="eval mode needs running_mean and running_var"):
        f(x, None, None, dev(np.zeros(3, np.float32)), None, y, m, s, None, work, False, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward_f32: weight must have shape \(3,\), got \(4,\)"):
        f(x, dev(np.ones(4, np.float32)), None, None, None, y, m, s, v, work, True, 1e-5)
    with pytest.raises(TypeError, match="batch_norm_forward_f32: mean must be float64, got float32"):
        f(x, None, None, None, None, y, target.empty(3, np.float32), s, v, work, True, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward_f32: var is required"):
        f(x, None, None, None, None, y, m, s, None, work, True, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward_f32: work must have shape"):
        f(x, None, None, None, None, y, m, s, v, target.empty(5, np.float64), True, 1e-5)
    b = native.batch_norm_backward_f32
    with pytest.raises(ValueError, match=r"batch_norm_backward_f32: grad_out must have shape \(2, 3, 4\)"):
        b(target.empty((2, 3, 5), np.float32), x, m, s, None, None, None, None, work, True)
    with pytest.raises(ValueError, match="batch_norm_backward_f32: invstd is required"):
        b(y, x, m, None, None, None, None, None, work, True)
    with pytest.raises(ValueError, match="batch_norm_workspace: sizes must be non-negative"):
        native.batch_norm_workspace(-1, 3, 4)
