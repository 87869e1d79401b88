"""The CUDA pooling kernels (csrc/cuda/pool.cu) against float64 NumPy references written as plain window
loops, on the emulator under every schedule (and on a GPU where there is one): overlapping windows,
padding, dilation, ceil_mode, NaN and -inf inputs for max pooling, count_include_pad / divisor_override,
zero-size batches and the bindings' argument checks."""
import numpy as np
import pytest

from fastnn.backend.shapes import pool_out_size


def _out(shape, k, s, p, d, ceil):
    return tuple(pool_out_size(shape[2 + i], k[i], p[i], s[i], d[i], ceil) for i in range(2))


def _max_reference(x, k, s, p, d, ceil):
    """(y, argmax) by PyTorch's rule: the first input tap of the window, then any greater value or NaN."""
    n, c, h, w = x.shape
    oh, ow = _out(x.shape, k, s, p, d, ceil)
    y = np.full((n, c, oh, ow), -np.inf)
    arg = np.full((n, c, oh, ow), -1, np.int64)
    for i in range(oh):
        for j in range(ow):
            for a in range(k[0]):
                r = i * s[0] - p[0] + a * d[0]
                if not 0 <= r < h:
                    continue
                for b in range(k[1]):
                    q = j * s[1] - p[1] + b * d[1]
                    if not 0 <= q < w:
                        continue
                    v = x[:, :, r, q].astype(np.float64)
                    take = (arg[:, :, i, j] < 0) | (v > y[:, :, i, j]) | np.isnan(v)
                    y[:, :, i, j] = np.where(take, v, y[:, :, i, j])
                    arg[:, :, i, j] = np.where(take, r * w + q, arg[:, :, i, j])
    return y, arg


def _max_backward_reference(g, arg, shape):
    n, c, h, w = shape
    gx = np.zeros((n * c, h * w))
    flat_arg, flat_g = arg.reshape(n * c, -1), g.reshape(n * c, -1).astype(np.float64)
    for plane in range(n * c):
        keep = flat_arg[plane] >= 0
        np.add.at(gx[plane], flat_arg[plane][keep], flat_g[plane][keep])
    return gx.reshape(shape)


def _avg_windows(shape, k, s, p, ceil, count_include_pad, divisor_override):
    """[(i, j, rows, cols, divisor)] of every window: its input rows / columns (clipped to the input)."""
    h, w = shape[2:]
    oh, ow = _out(shape, k, s, p, (1, 1), ceil)
    out = []
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s[0] - p[0], j * s[1] - p[1]
            r1, c1 = min(r0 + k[0], h + p[0]), min(c0 + k[1], w + p[1])
            rows, cols = range(max(r0, 0), min(r1, h)), range(max(c0, 0), min(c1, w))
            if divisor_override:
                div = divisor_override
            elif count_include_pad:
                div = (r1 - r0) * (c1 - c0)
            else:
                div = len(rows) * len(cols)
            out.append((i, j, rows, cols, div))
    return out, (oh, ow)


def _avg_reference(x, k, s, p, ceil, cip, dov):
    windows, (oh, ow) = _avg_windows(x.shape, k, s, p, ceil, cip, dov)
    y = np.zeros(x.shape[:2] + (oh, ow))
    x64 = x.astype(np.float64)
    for i, j, rows, cols, div in windows:
        y[:, :, i, j] = x64[:, :, rows.start:rows.stop, cols.start:cols.stop].sum(axis=(2, 3)) / div
    return y


def _avg_backward_reference(g, shape, k, s, p, ceil, cip, dov):
    windows, _ = _avg_windows(shape, k, s, p, ceil, cip, dov)
    gx = np.zeros(shape)
    for i, j, rows, cols, div in windows:
        gx[:, :, rows.start:rows.stop, cols.start:cols.stop] += g[:, :, i, j, None, None].astype(np.float64) / div
    return gx


def _max_pool(target, x, k, s, p, d, ceil):
    oh, ow = _out(x.shape, k, s, p, d, ceil)
    y, arg = target.empty(x.shape[:2] + (oh, ow), np.float32), target.empty(x.shape[:2] + (oh, ow), np.int32)
    target.native.max_pool2d_f32(target.to_device(x), y, arg, k, s, p, d, ceil, device=0, stream=target.stream)
    return y, arg


MAX_CASES = [  # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), False),  # overlapping windows, padding
    ((1, 2, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),  # the common 2x2 stride 2
    ((2, 1, 9, 7), (3, 2), (2, 1), (1, 1), (2, 1), True),   # dilation, ceil_mode
    ((1, 2, 5, 6), (2, 3), (3, 2), (1, 0), (1, 1), True),   # ceil_mode's partial last windows
    ((1, 1, 6, 5), (3, 3), (1, 1), (1, 1), (1, 1), False),  # stride 1: each input in up to 9 windows
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), (1, 1), False),  # size 1
    ((1, 1, 2, 3), (2, 2), (1, 1), (1, 1), (3, 1), False),  # a window whose taps all fall in the padding
]


@pytest.mark.parametrize("shape, k, s, p, d, ceil", MAX_CASES)
def test_max_pool2d_forward_and_backward(target, shape, k, s, p, d, ceil):
    rng = np.random.default_rng(sum(shape) * 7 + k[0])
    x = rng.standard_normal(shape).astype(np.float32)
    x[..., ::3] = np.round(x[..., ::3])  # ties: the first maximum must win
    y, arg = _max_pool(target, x, k, s, p, d, ceil)
    want_y, want_arg = _max_reference(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(target.to_host(y), want_y.astype(np.float32))
    np.testing.assert_array_equal(target.to_host(arg), want_arg)
    g = rng.standard_normal(want_y.shape).astype(np.float32)
    gx = target.empty(shape, np.float32)
    target.native.max_pool2d_backward_f32(target.to_device(g), arg, gx, k, s, p, d, ceil, device=0,
                                          stream=target.stream)
    np.testing.assert_allclose(target.to_host(gx), _max_backward_reference(g, want_arg, shape), rtol=1e-6, atol=1e-6)


def test_max_pool2d_nan_and_inf(target):
    """A NaN wins its window (the last NaN of it is the argmax); a window of -inf points at its first input
    tap; +inf beats everything but NaN; the backward sends the gradient to those positions."""
    x = np.arange(2 * 6 * 7, dtype=np.float32).reshape(1, 2, 6, 7) % 5
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = np.nan
    x[0, 0, 4, 5] = np.nan
    x[0, 1, :3, :3] = -np.inf
    x[0, 1, 4, 4] = np.inf
    k, s, p, d = (3, 3), (2, 2), (1, 1), (1, 1)
    y, arg = _max_pool(target, x, k, s, p, d, False)
    want_y, want_arg = _max_reference(x, k, s, p, d, False)
    got_y = target.to_host(y)
    np.testing.assert_array_equal(np.isnan(got_y), np.isnan(want_y))
    assert np.isnan(got_y).sum() >= 3
    np.testing.assert_array_equal(got_y, want_y.astype(np.float32))  # equal_nan by default
    np.testing.assert_array_equal(target.to_host(arg), want_arg)
    assert target.to_host(arg)[0, 1, 0, 0] == 0 and got_y[0, 1, 0, 0] == -np.inf
    g = np.ones(want_y.shape, np.float32)
    gx = target.empty(x.shape, np.float32)
    target.native.max_pool2d_backward_f32(target.to_device(g), arg, gx, k, s, p, d, False)
    np.testing.assert_array_equal(target.to_host(gx), _max_backward_reference(g, want_arg, x.shape))


def test_max_pool2d_without_argmax_and_zero_size(target):
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    y = target.empty((2, 2, 2, 2), np.float32)
    target.native.max_pool2d_f32(target.to_device(x), y, None, (2, 2), (2, 2), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(target.to_host(y), _max_reference(x, (2, 2), (2, 2), (0, 0), (1, 1), False)[0])
    empty = target.to_device(np.zeros((0, 3, 5, 5), np.float32))
    y0, a0 = target.empty((0, 3, 2, 2), np.float32), target.empty((0, 3, 2, 2), np.int32)
    target.native.max_pool2d_f32(empty, y0, a0, (2, 2), (2, 2), (0, 0), (1, 1), False)
    g0 = target.empty((0, 3, 5, 5), np.float32)
    target.native.max_pool2d_backward_f32(target.to_device(np.zeros((0, 3, 2, 2), np.float32)), a0, g0,
                                          (2, 2), (2, 2), (0, 0), (1, 1), False)
    assert target.to_host(g0).shape == (0, 3, 5, 5)


AVG_CASES = [  # shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), False, True, None),
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), False, False, None),
    ((1, 2, 5, 6), (2, 3), (3, 2), (1, 1), True, True, None),   # ceil_mode: windows past the padded input
    ((1, 2, 5, 6), (2, 3), (3, 2), (1, 1), True, False, None),
    ((1, 1, 6, 5), (3, 2), (1, 1), (1, 1), False, True, 5),     # stride 1 overlap, override
    ((1, 2, 8, 8), (2, 2), (2, 2), (0, 0), False, True, None),
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0), True, False, None),
]


@pytest.mark.parametrize("shape, k, s, p, ceil, cip, dov", AVG_CASES)
def test_avg_pool2d_forward_and_backward(target, shape, k, s, p, ceil, cip, dov):
    rng = np.random.default_rng(sum(shape) + 31 * k[1] + (dov or 0))
    x = rng.standard_normal(shape).astype(np.float32)
    oh, ow = _out(shape, k, s, p, (1, 1), ceil)
    y = target.empty(shape[:2] + (oh, ow), np.float32)
    target.native.avg_pool2d_f32(target.to_device(x), y, k, s, p, ceil, cip, dov, device=0, stream=target.stream)
    np.testing.assert_allclose(target.to_host(y), _avg_reference(x, k, s, p, ceil, cip, dov), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal((shape[0], shape[1], oh, ow)).astype(np.float32)
    gx = target.empty(shape, np.float32)
    target.native.avg_pool2d_backward_f32(target.to_device(g), gx, k, s, p, ceil, cip, dov, device=0,
                                          stream=target.stream)
    np.testing.assert_allclose(target.to_host(gx), _avg_backward_reference(g, shape, k, s, p, ceil, cip, dov),
                               rtol=1e-5, atol=1e-6)


def test_avg_pool2d_zero_size(target):
    y = target.empty((0, 2, 3, 3), np.float32)
    target.native.avg_pool2d_f32(target.to_device(np.zeros((0, 2, 6, 6), np.float32)), y, (2, 2), (2, 2), (0, 0),
                                 False, True, None)
    gx = target.empty((2, 0, 6, 6), np.float32)
    target.native.avg_pool2d_backward_f32(target.to_device(np.zeros((2, 0, 3, 3), np.float32)), gx, (2, 2), (2, 2),
                                          (0, 0), False, True, None)
    assert target.to_host(gx).shape == (2, 0, 6, 6)


class _FakeDeviceArray:
    """A device array header with no memory behind it: for checks that must fail before any launch."""

    def __init__(self, shape):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": "<f4", "data": (16, False), "strides": None,
                                         "version": 3}


def test_pool_bindings_check_their_arguments(target):
    dev = target.to_device
    x = dev(np.ones((1, 1, 4, 4), np.float32))
    y, arg = target.empty((1, 1, 2, 2), np.float32), target.empty((1, 1, 2, 2), np.int32)
    mp, ap = target.native.max_pool2d_f32, target.native.avg_pool2d_f32
    geo = ((2, 2), (2, 2), (0, 0), (1, 1), False)
    with pytest.raises(TypeError, match="max_pool2d_f32: x must be a CUDA device array"):
        mp(np.ones((1, 1, 4, 4), np.float32), y, arg, *geo)
    with pytest.raises(TypeError, match="max_pool2d_f32: x must be float32, got float64"):
        mp(dev(np.ones((1, 1, 4, 4))), y, arg, *geo)
    with pytest.raises(ValueError, match="max_pool2d_f32: x must be 4-D"):
        mp(dev(np.ones((1, 4, 4), np.float32)), y, arg, *geo)
    with pytest.raises(ValueError, match=r"max_pool2d_f32: y must have shape \(1, 1, 2, 2\), got \(1, 1, 3, 3\)"):
        mp(x, target.empty((1, 1, 3, 3), np.float32), arg, *geo)
    with pytest.raises(TypeError, match="max_pool2d_f32: argmax must be int32, got int64"):
        mp(x, y, target.empty((1, 1, 2, 2), np.int64), *geo)
    with pytest.raises(ValueError, match="kernel_size, stride and dilation must be positive"):
        mp(x, y, arg, (2, 2), (0, 2), (0, 0), (1, 1), False)
    with pytest.raises(ValueError, match="pad should be at most half of effective kernel size"):
        mp(x, y, arg, (2, 2), (2, 2), (2, 0), (1, 1), False)
    with pytest.raises(ValueError, match="gives output size 0x1, which is too small"):
        mp(dev(np.ones((1, 1, 1, 4), np.float32)), y, arg, (2, 4), (1, 1), (0, 0), (1, 1), False)
    with pytest.raises(ValueError, match=r"max_pool2d_backward_f32: argmax must have shape \(1, 1, 2, 2\)"):
        target.native.max_pool2d_backward_f32(target.empty((1, 1, 2, 2), np.float32),
                                              target.empty((1, 1, 3, 3), np.int32),
                                              target.empty((1, 1, 4, 4), np.float32), *geo)
    huge = _FakeDeviceArray((1, 1, 65536, 32768))  # 2**31 values in a plane: past the int32 argmax
    with pytest.raises(ValueError, match="max_pool2d_f32: an input plane of 2147483648 elements exceeds the int32"):
        mp(huge, y, arg, *geo)
    with pytest.raises(ValueError, match="avg_pool2d_f32: divisor must be not zero"):
        ap(x, y, (2, 2), (2, 2), (0, 0), False, True, 0)
    with pytest.raises(ValueError, match="avg_pool2d_f32: pad should be at most half"):
        ap(x, y, (2, 2), (2, 2), (1, 2), False, True, None)  # no dilation in the effective size of avg pooling
    with pytest.raises(ValueError, match=r"avg_pool2d_backward_f32: grad_out must have shape \(1, 1, 2, 2\)"):
        target.native.avg_pool2d_backward_f32(target.empty((1, 1, 2, 3), np.float32),
                                              target.empty((1, 1, 4, 4), np.float32), (2, 2), (2, 2), (0, 0),
                                              False, True, None)
