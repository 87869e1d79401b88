"""The CUDA conv2d kernels (implicit GEMMs: forward, backward data, backward weight with split-K, backward bias)
against a direct float64 NumPy reference, on the emulator under every schedule (and on a GPU where there is one)."""
import importlib

import numpy as np
import pytest
from cuda_kernel_helpers import SCHEDULES, HostDeviceArray, planted_barrier


def _out_hw(h, w, kh, kw, stride, padding, dilation):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1


def _taps(kh, kw, stride, dilation, out_hw):
    """(i, j, rows, cols): the slices of the padded input that tap (i, j) meets at the output positions."""
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)


def ref_forward(x, w, b, stride, padding, dilation, groups):
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    out_hw = _out_hw(h, wd, kh, kw, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2)).reshape(n, groups, cg, h + 2 * padding[0],
                                                                                   wd + 2 * padding[1])
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    y = np.zeros((n, groups, o // groups) + out_hw)
    for i, j, rows, cols in _taps(kh, kw, stride, dilation, out_hw):
        y += np.einsum("ngchw,goc->ngohw", xp[:, :, :, rows, cols], wg[:, :, :, i, j])
    y = y.reshape((n, o) + out_hw)
    return y if b is None else y + b.astype(np.float64).reshape(o, 1, 1)


def ref_backward_data(g, w, in_hw, stride, padding, dilation, groups):
    g, w = g.astype(np.float64), w.astype(np.float64)
    n, o, oh, ow = g.shape
    _, cg, kh, kw = w.shape
    (h, wd), (ph, pw) = in_hw, padding
    gg = g.reshape(n, groups, o // groups, oh, ow)
    wg = w.reshape(groups, o // groups, cg, kh, kw)
    dxp = np.zeros((n, groups, cg, h + 2 * ph, wd + 2 * pw))
    for i, j, rows, cols in _taps(kh, kw, stride, dilation, (oh, ow)):
        dxp[:, :, :, rows, cols] += np.einsum("ngohw,goc->ngchw", gg, wg[:, :, :, i, j])
    return dxp[:, :, :, ph:ph + h, pw:pw + wd].reshape(n, groups * cg, h, wd)


def ref_backward_weight(g, x, kernel, stride, padding, dilation, groups):
    g, x = g.astype(np.float64), x.astype(np.float64)
    n, c, h, wd = x.shape
    o, (kh, kw), cg = g.shape[1], kernel, c // groups
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2)).reshape(n, groups, cg, h + 2 * padding[0],
                                                                                   wd + 2 * padding[1])
    gg = g.reshape((n, groups, o // groups) + g.shape[2:])
    dw = np.zeros((groups, o // groups, cg, kh, kw))
    for i, j, rows, cols in _taps(kh, kw, stride, dilation, g.shape[2:]):
        dw[:, :, :, i, j] = np.einsum("ngohw,ngchw->goc", gg, xp[:, :, :, rows, cols])
    return dw.reshape(o, cg, kh, kw)


# (n, c, h, w, o, (kh, kw), stride, padding, dilation, groups): odd sizes, size 1, strides 2 and 3, padding,
# dilation, groups and depthwise, 1x1 kernels, each tile configuration (n side 4 / 32 / 64 / 128: output channels
# per group forward and for the weight gradient, input channels per group for the data gradient), several row
# blocks and k-tiles, taps that never land (stride 3 > kernel extent), outputs entirely in the padding, no batch.
CASES = [
    (2, 3, 7, 6, 5, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 1, 1, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    (2, 4, 9, 8, 6, (3, 2), (2, 3), (1, 0), (1, 1), 2),
    (1, 3, 10, 9, 4, (3, 3), (2, 2), (2, 1), (2, 3), 1),
    (2, 6, 7, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1), 6),
    (1, 4, 8, 7, 8, (3, 3), (2, 2), (1, 1), (1, 1), 4),
    (3, 8, 5, 5, 40, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    (1, 5, 4, 3, 70, (1, 1), (2, 1), (0, 0), (1, 1), 1),
    (1, 2, 8, 8, 3, (2, 2), (3, 3), (0, 0), (1, 1), 1),
    (1, 2, 3, 3, 2, (3, 3), (1, 1), (3, 2), (1, 1), 1),
    (3, 2, 9, 9, 8, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 16, 5, 5, 8, (3, 3), (1, 1), (1, 1), (1, 1), 2),
    (0, 3, 5, 5, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 70, 3, 3, 2, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    (1, 40, 4, 5, 3, (2, 2), (2, 2), (1, 1), (1, 1), 1),
    # wide enough for the direct depthwise kernels (forward, data gradient): plain, channel multiplier 2 with stride
    # and dilation,
    # and one channel (groups == C == 1) with several output channels over two tiles across
    (1, 3, 10, 20, 3, (3, 3), (1, 1), (1, 1), (1, 1), 3),
    (1, 2, 19, 40, 4, (3, 3), (2, 2), (2, 2), (2, 1), 2),
    (1, 1, 9, 33, 2, (2, 5), (1, 1), (0, 2), (1, 1), 1),
    # a depthwise data gradient whose tile edge (iw = 31) reaches one output column past the naive patch
    (1, 2, 5, 44, 2, (1, 1), (3, 2), (0, 1), (1, 1), 2),
    # the direct depthwise weight gradient's register sets of 9, 25 and 49 taps, and past them (the GEMM)
    (1, 2, 6, 6, 2, (5, 5), (1, 1), (2, 2), (1, 1), 2),
    (1, 1, 7, 8, 1, (7, 7), (1, 1), (3, 3), (1, 1), 1),
    (1, 2, 8, 7, 2, (8, 7), (1, 1), (0, 0), (1, 1), 2),
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}o{c[4]}k{c[5][0]}{c[5][1]}s{c[6][0]}{c[6][1]}p{c[7][0]}{c[7][1]}"
       f"d{c[8][0]}{c[8][1]}g{c[9]}" for c in CASES]


def _inputs(case, seed):
    n, c, h, w, o, (kh, kw), stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    out_hw = _out_hw(h, w, kh, kw, stride, padding, dilation)
    g = rng.standard_normal((n, o) + out_hw).astype(np.float32)
    return x, wt, b, g, out_hw


def _close(got, want, depth):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(depth, 1) ** 0.5 * 4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_forward(target, case):
    n, c, h, w, o, (kh, kw), stride, padding, dilation, groups = case
    x, wt, b, _, out_hw = _inputs(case, 1)
    for bias in (b, None):
        y = target.empty((n, o) + out_hw, np.float32)
        target.native.conv2d_forward_f32(target.to_device(x), target.to_device(wt),
                                         None if bias is None else target.to_device(bias), y, stride, padding,
                                         dilation, groups, device=0, stream=target.stream)
        _close(target.to_host(y), ref_forward(x, wt, bias, stride, padding, dilation, groups), c // groups * kh * kw)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_backward_data(target, case):
    n, c, h, w, o, (kh, kw), stride, padding, dilation, groups = case
    _, wt, _, g, _ = _inputs(case, 2)
    dx = target.empty((n, c, h, w), np.float32)
    target.native.conv2d_backward_data_f32(target.to_device(g), target.to_device(wt), dx, stride, padding, dilation,
                                           groups, device=0, stream=target.stream)
    _close(target.to_host(dx), ref_backward_data(g, wt, (h, w), stride, padding, dilation, groups),
           o // groups * kh * kw)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv2d_backward_weight_and_bias(target, case):
    n, c, h, w, o, (kh, kw), stride, padding, dilation, groups = case
    x, wt, _, g, out_hw = _inputs(case, 3)
    want = ref_backward_weight(g, x, (kh, kw), stride, padding, dilation, groups)
    depth = n * out_hw[0] * out_hw[1]
    recommended = target.native.conv2d_backward_weight_f32_splits((n, c, h, w), o, (kh, kw), stride, padding,
                                                                  dilation, groups)
    assert recommended >= 1
    for splits in sorted({1, 3, recommended}):
        dw = target.empty(wt.shape, np.float32)
        ws = None if splits == 1 else target.empty(splits * wt.size, np.float32)
        target.native.conv2d_backward_weight_f32(target.to_device(g), target.to_device(x), dw, ws, stride, padding,
                                                 dilation, groups, device=0, stream=target.stream)
        _close(target.to_host(dw), want, depth)
    _check_bias(target, g, tries=(1,))  # a block per channel and slice: the slices are tested below


def _check_bias(target, g, tries=(1, 2, 3)):
    o = g.shape[1]
    recommended = target.native.conv2d_backward_bias_f32_splits(g.shape)
    assert recommended >= 1
    for splits in sorted({recommended, *tries}):
        db = target.empty(o, np.float32)
        ws = None if splits == 1 or o == 0 else target.empty(splits * o, np.float32)
        target.native.conv2d_backward_bias_f32(target.to_device(g), db, ws, device=0, stream=target.stream)
        _close(target.to_host(db), g.astype(np.float64).sum(axis=(0, 2, 3)), g.size // max(o, 1))


def test_conv2d_backward_bias_long_reduction(target):
    # More entries per channel than threads per block, and pixels that do not divide the block: every thread's
    # walk over (sample, pixel) is exercised, within and across slices, and the warps' sums are combined.
    _check_bias(target, np.random.default_rng(4).standard_normal((5, 3, 7, 11)).astype(np.float32))
    _check_bias(target, np.random.default_rng(5).standard_normal((600, 2, 1, 1)).astype(np.float32))
    _check_bias(target, np.zeros((2, 3, 0, 4), np.float32))


def test_conv2d_split_k_recommended_for_a_deep_reduction(target):
    # A shape with few output tiles and a long N*OH*OW: the launcher asks for a split reduction.
    splits = target.native.conv2d_backward_weight_f32_splits((8, 2, 16, 16), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1)
    assert splits > 1
    assert target.native.conv2d_backward_weight_f32_splits((1, 2, 3, 3), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1) == 1
    assert target.native.conv2d_backward_bias_f32_splits((64, 3, 32, 32)) > 1
    assert target.native.conv2d_backward_bias_f32_splits((2, 3, 5, 5)) == 1


def _poisoned(shape):
    return HostDeviceArray(np.full(shape, np.nan, np.float32))


@pytest.mark.cuda_kernels
def test_conv2d_results_do_not_depend_on_the_schedule():
    emu = importlib.import_module("fastnn._emu")
    case = (2, 4, 9, 8, 6, (3, 2), (2, 3), (1, 0), (1, 1), 2)
    n, c, h, w, o, (kh, kw), stride, padding, dilation, groups = case
    x, wt, b, g, out_hw = _inputs(case, 5)
    seen = []
    try:
        for sched in SCHEDULES:
            emu.set_schedule(sched, 5)
            y, dx, dw, ws = (_poisoned(s) for s in ((n, o) + out_hw, x.shape, wt.shape, 3 * wt.size))
            emu.conv2d_forward_f32(HostDeviceArray(x), HostDeviceArray(wt), HostDeviceArray(b), y, stride, padding,
                                   dilation, groups)
            emu.conv2d_backward_data_f32(HostDeviceArray(g), HostDeviceArray(wt), dx, stride, padding, dilation, groups)
            emu.conv2d_backward_weight_f32(HostDeviceArray(g), HostDeviceArray(x), dw, ws, stride, padding, dilation,
                                           groups)
            seen.append((y.a.copy(), dx.a.copy(), dw.a.copy()))
    finally:
        emu.set_schedule("forward", 0)
    for other in seen[1:]:
        for got, first in zip(other, seen[0]):
            np.testing.assert_array_equal(got, first)


@pytest.mark.cuda_kernels
@pytest.mark.parametrize("marker, op, case", [
    # the implicit GEMM's main loop: 9 k-tiles per group, both buffers reused
    ("CONV_GEMM_TILE_BARRIER", "forward", (1, 16, 5, 5, 8, (3, 3), (1, 1), (1, 1), (1, 1), 2)),
    # the depthwise kernels' staging of the input patch, and of the output gradient's patches (two per group)
    ("CONV_DW_BARRIER", "forward", (1, 2, 10, 20, 2, (3, 3), (1, 1), (1, 1), (1, 1), 2)),
    ("CONV_DW_BWD_BARRIER", "backward_data", (1, 2, 10, 20, 4, (3, 3), (1, 1), (1, 1), (1, 1), 2)),
    # the depthwise weight gradient's combination of the warps' sums
    ("CONV_DWW_BARRIER", "backward_weight", (1, 2, 6, 6, 2, (3, 3), (1, 1), (1, 1), (1, 1), 2)),
])
def test_a_planted_missing_barrier_is_caught(marker, op, case):
    emu = importlib.import_module("fastnn._emu")
    n, c, h, w, o, (kh, kw), stride, padding, dilation, groups = case
    x, wt, b, g, out_hw = _inputs(case, 6)
    if op == "forward":
        want = ref_forward(x, wt, b, stride, padding, dilation, groups)
    elif op == "backward_data":
        want = ref_backward_data(g, wt, (h, w), stride, padding, dilation, groups)
    else:
        want = ref_backward_weight(g, x, (kh, kw), stride, padding, dilation, groups)
    caught = set()
    with planted_barrier("conv2d.cu", marker):
        try:
            for sched in SCHEDULES:
                emu.set_schedule(sched, 3)
                out = _poisoned(want.shape)
                if op == "forward":
                    emu.conv2d_forward_f32(HostDeviceArray(x), HostDeviceArray(wt), HostDeviceArray(b), out, stride,
                                           padding, dilation, groups)
                elif op == "backward_data":
                    emu.conv2d_backward_data_f32(HostDeviceArray(g), HostDeviceArray(wt), out, stride, padding,
                                                 dilation, groups)
                else:
                    emu.conv2d_backward_weight_f32(HostDeviceArray(g), HostDeviceArray(x), out, None, stride,
                                                   padding, dilation, groups)
                if not np.allclose(out.a, want, rtol=1e-4, atol=1e-4):
                    caught.add(sched)
            assert emu.planted_barrier_hits() > 0
        finally:
            emu.set_schedule("forward", 0)
    assert {"forward", "random"} <= caught, caught


def test_conv2d_checks_its_arguments(target):
    dev, f = target.to_device, target.native
    x, w = dev(np.ones((1, 4, 5, 5), np.float32)), dev(np.ones((6, 2, 3, 3), np.float32))
    y = target.empty((1, 6, 3, 3), np.float32)
    one, zero = (1, 1), (0, 0)
    with pytest.raises(TypeError, match="conv2d_forward_f32: input must be a CUDA device array"):
        f.conv2d_forward_f32(np.ones((1, 4, 5, 5), np.float32), w, None, y, one, zero, one, 2)
    with pytest.raises(TypeError, match="conv2d_forward_f32: input must be float32, got float64"):
        f.conv2d_forward_f32(dev(np.ones((1, 4, 5, 5))), w, None, y, one, zero, one, 2)
    with pytest.raises(ValueError, match=r"conv2d_forward_f32: weight must be 4-D, got shape \(6, 2, 3\)"):
        f.conv2d_forward_f32(x, dev(np.ones((6, 2, 3), np.float32)), None, y, one, zero, one, 2)
    with pytest.raises(ValueError, match="conv2d_forward_f32: stride must be positive"):
        f.conv2d_forward_f32(x, w, None, y, (0, 1), zero, one, 2)
    with pytest.raises(ValueError, match="conv2d_forward_f32: negative padding is not supported"):
        f.conv2d_forward_f32(x, w, None, y, one, (0, -1), one, 2)
    with pytest.raises(ValueError, match="conv2d_forward_f32: dilation must be positive"):
        f.conv2d_forward_f32(x, w, None, y, one, zero, (1, 0), 2)
    with pytest.raises(ValueError, match="conv2d_forward_f32: groups must be positive"):
        f.conv2d_forward_f32(x, w, None, y, one, zero, one, 0)
    with pytest.raises(ValueError, match=r"in_channels \(4\) and out_channels \(6\) must be divisible by groups \(3\)"):
        f.conv2d_forward_f32(x, w, None, y, one, zero, one, 3)
    with pytest.raises(ValueError, match=r"expected input with 2 channels \(weight has 2 per group, groups=1\)"):
        f.conv2d_forward_f32(x, w, None, y, one, zero, one, 1)
    with pytest.raises(ValueError, match=r"after dilation is larger than the padded input \(5, 5\)"):
        f.conv2d_forward_f32(x, w, None, y, one, zero, (3, 1), 2)
    with pytest.raises(ValueError, match=r"conv2d_forward_f32: bias must have shape \(6,\), got \(5,\)"):
        f.conv2d_forward_f32(x, w, dev(np.ones(5, np.float32)), y, one, zero, one, 2)
    with pytest.raises(ValueError, match=r"conv2d_forward_f32: output must have shape \(1, 6, 3, 3\)"):
        f.conv2d_forward_f32(x, w, None, target.empty((1, 6, 5, 5), np.float32), one, zero, one, 2)
    g = dev(np.ones((1, 6, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d_backward_data_f32: grad_output must have shape \(1, 6, 5, 5\)"):
        f.conv2d_backward_data_f32(g, w, target.empty((1, 4, 5, 5), np.float32), one, (1, 1), one, 2)
    with pytest.raises(ValueError, match=r"conv2d_backward_data_f32: grad_input must have shape \(1, 4, 5, 5\)"):
        f.conv2d_backward_data_f32(g, w, target.empty((1, 3, 5, 5), np.float32), one, zero, one, 2)
    dw = target.empty((6, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="conv2d_backward_weight_f32: grad_output must have shape"):
        f.conv2d_backward_weight_f32(g, x, dw, None, (2, 2), zero, one, 2)
    with pytest.raises(ValueError, match=r"workspace must hold splits \* grad_weight.size floats"):
        f.conv2d_backward_weight_f32(g, x, dw, target.empty(108 * 2 + 1, np.float32), one, zero, one, 2)
    with pytest.raises(ValueError, match=r"workspace must hold splits"):
        f.conv2d_backward_weight_f32(g, x, dw, target.empty(108, np.float32), one, zero, one, 2)
    with pytest.raises(ValueError, match=r"conv2d_backward_bias_f32: grad_bias must have shape \(6,\)"):
        f.conv2d_backward_bias_f32(g, target.empty(4, np.float32))
    with pytest.raises(ValueError, match=r"workspace must hold splits \* grad_bias.size floats"):
        f.conv2d_backward_bias_f32(g, target.empty(6, np.float32), target.empty(13, np.float32))
    if target.name == "emu":  # a strided view posing as a device array: the kernels take C-contiguous operands
        strided = HostDeviceArray(np.ones((1, 4, 5, 10), np.float32)[:, :, :, ::2])
        with pytest.raises(ValueError, match="conv2d_forward_f32: input must be C-contiguous"):
            f.conv2d_forward_f32(strided, w, None, y, one, zero, one, 2)
