"""pool kernels in ``xp`` calls: the references of backend/cpu/pool.py (csrc/cpu/pool.cpp).

2-D max and average pooling of (N, C, H, W) float arrays with PyTorch's geometry: output size
floor((H + 2p - d(k - 1) - 1) / s) + 1 (ceil with ``ceil_mode``, where the last window must still start
inside the input or its left padding). Window (i, j) reads rows i*s - p + a*d for taps a = 0 .. k-1.

Each kernel loops over the kh * kw window taps; one tap is a strided slice of a padded copy of the
input, so every step is a whole-array operation and the loop is as short as the window. Sums run under
``errstate(all="ignore")``: like the native kernels, these return IEEE results (inf, NaN) without warnings.
"""
from __future__ import annotations

import numpy as np

from ..shapes import pool_out_size as _out_size

_FLOAT_KINDS = (np.dtype(np.float32), np.dtype(np.float64))


def _geometry(op, shape, kernel, stride, padding, dilation, ceil_mode, is_max):
    """The binding's checks of the pooling parameters; returns the output's (oh, ow)."""
    k, s, p, d = tuple(kernel), tuple(stride), tuple(padding), tuple(dilation)
    if min(k + s + d) <= 0:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be positive, got kernel_size={k}, "
                         f"stride={s}, dilation={d}")
    for i in range(2):
        effective = (k[i] - 1) * d[i] + 1 if is_max else k[i]
        if p[i] < 0 or 2 * p[i] > effective:
            raise ValueError(f"{op}: pad should be at most half of effective kernel size, but got pad={p[i]}, "
                             f"kernel_size={k[i]} and dilation={d[i]}")
    oh, ow = (_out_size(shape[2 + i], k[i], p[i], s[i], d[i], ceil_mode) for i in range(2))
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: input of spatial size {shape[2]}x{shape[3]} gives output size {oh}x{ow}, "
                         "which is too small")
    return oh, ow


def _check_input(x4, op, name):
    if x4.dtype not in _FLOAT_KINDS:
        raise TypeError(f"{op}: expected {name} to be float32 or float64, got {x4.dtype}")
    if x4.ndim != 4:
        raise ValueError(f"{op}: expected {name} to be 4-D, got shape {tuple(x4.shape)}")


def _check_grad(g4, dtype, shape, oh, ow, op):
    if g4.dtype != dtype:
        raise TypeError(f"{op}: expected grad_output to have dtype {dtype}, got {g4.dtype}")
    want = (shape[0], shape[1], oh, ow)
    if tuple(g4.shape) != want:
        raise ValueError(f"{op}: grad_output has shape {tuple(g4.shape)}, expected {want}")


def _padded_extent(size, out, k, s, p, d):
    """Rows a padded copy needs so that every tap of every window is a valid index: p in front, and the
    input or the last window's last tap behind, whichever reaches further."""
    return p + max(size, (out - 1) * s - p + (k - 1) * d + 1)


def _tap(arr, a, b, oh, ow, s, d):
    """The (N, C, oh, ow) slice of a padded array that tap (a, b) of every window reads."""
    r0, c0 = a * d[0], b * d[1]
    return arr[:, :, r0:r0 + (oh - 1) * s[0] + 1:s[0], c0:c0 + (ow - 1) * s[1] + 1:s[1]]


def _inside(out, size, k, s, p, d, xp):
    """(out, k) bool: tap a of window i falls inside the input (not in the padding)."""
    pos = (xp.arange(out) * s - p)[:, None] + xp.arange(k)[None, :] * d
    return (pos >= 0) & (pos < size)


class PoolKernels:
    def _max_argmax(self, x4, kernel, stride, padding, dilation, ceil_mode, op):
        """(best, arg): each window's maximum and the window tap (a * kw + b) it came from, by PyTorch's
        rule: taps in row-major order, one is taken when it is greater than the best so far or NaN (so ties
        keep the first maximum and NaNs the last NaN). Padding never wins; a window of only -inf points at
        its first tap inside the input, as PyTorch's argmax does."""
        xp = self.xp
        _check_input(x4, op, "input")
        oh, ow = _geometry(op, x4.shape, kernel, stride, padding, dilation, ceil_mode, True)
        (kh, kw), s, p, d = kernel, stride, padding, dilation
        n, c, h, w = x4.shape
        hp = _padded_extent(h, oh, kh, s[0], p[0], d[0])
        wp = _padded_extent(w, ow, kw, s[1], p[1], d[1])
        xpad = xp.full((n, c, hp, wp), -xp.inf, x4.dtype)
        xpad[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x4
        in_h = _inside(oh, h, kh, s[0], p[0], d[0], xp)
        in_w = _inside(ow, w, kw, s[1], p[1], d[1], xp)
        best = xp.full((n, c, oh, ow), -xp.inf, x4.dtype)
        arg = xp.full((n, c, oh, ow), -1, xp.int64)
        for a in range(kh):
            for b in range(kw):
                v = _tap(xpad, a, b, oh, ow, s, d)
                inside = in_h[:, a][:, None] & in_w[:, b][None, :]
                take = (v > best) | xp.isnan(v) | ((arg < 0) & inside)
                best = xp.where(take, v, best)
                arg = xp.where(take, a * kw + b, arg)
        return best, arg, (oh, ow, hp, wp)

    def max_pool2d(self, x4, kernel, stride, padding, dilation, ceil_mode):
        """Max over each window (implicit -inf padding); kernel, stride, padding, dilation are (h, w)
        pairs. Returns (N, C, oh, ow) in x4's dtype. NaN in a window gives NaN."""
        return self._max_argmax(x4, kernel, stride, padding, dilation, ceil_mode, "max_pool2d")[0]

    def max_pool2d_backward(self, x4, g4, kernel, stride, padding, dilation, ceil_mode):
        """Input gradient of max_pool2d: each window's output gradient goes to its argmax (recomputed from
        x4 by max_pool2d's rule), summed where windows overlap. Returns x4's shape and dtype."""
        xp = self.xp
        op = "max_pool2d_backward"
        _, arg, (oh, ow, hp, wp) = self._max_argmax(x4, kernel, stride, padding, dilation, ceil_mode, op)
        _check_grad(g4, x4.dtype, x4.shape, oh, ow, op)
        (kh, kw), p = kernel, padding
        n, c, h, w = x4.shape
        gpad = xp.zeros((n, c, hp, wp), x4.dtype)
        with self.errstate(all="ignore"):
            for a in range(kh):
                for b in range(kw):
                    # One tap's slice touches each input position at most once: += on it is a plain add.
                    _tap(gpad, a, b, oh, ow, stride, dilation)[...] += xp.where(arg == a * kw + b, g4, 0)
        return xp.ascontiguousarray(gpad[:, :, p[0]:p[0] + h, p[1]:p[1] + w])

    def _avg_divisor(self, shape, oh, ow, kernel, stride, padding, count_include_pad, divisor_override, dtype):
        """(oh, ow) divisors: the override, or the window's size clipped to the padded input
        (count_include_pad) or to the input itself."""
        xp = self.xp
        if divisor_override:
            return xp.full((oh, ow), divisor_override, dtype)
        sizes = []
        for out, size, k, s, p in zip((oh, ow), shape[2:], kernel, stride, padding):
            start = xp.arange(out) * s - p
            end = xp.minimum(start + k, size + p)
            if count_include_pad:
                sizes.append(end - start)
            else:
                sizes.append(xp.minimum(end, size) - xp.maximum(start, 0))
        return (sizes[0][:, None] * sizes[1][None, :]).astype(dtype)

    def _avg_geometry(self, shape, kernel, stride, padding, ceil_mode, divisor_override, op):
        if divisor_override is not None and divisor_override == 0:
            raise ValueError(f"{op}: divisor must be not zero")
        oh, ow = _geometry(op, shape, kernel, stride, padding, (1, 1), ceil_mode, False)
        hp = _padded_extent(shape[2], oh, kernel[0], stride[0], padding[0], 1)
        wp = _padded_extent(shape[3], ow, kernel[1], stride[1], padding[1], 1)
        return oh, ow, hp, wp

    def avg_pool2d(self, x4, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        """Mean over each window (no dilation): the sum of the window's input values divided by
        ``divisor_override`` if given, else by the window's size within the zero-padded input
        (``count_include_pad``) or within the input alone. Returns (N, C, oh, ow) in x4's dtype."""
        xp = self.xp
        op = "avg_pool2d"
        _check_input(x4, op, "input")
        oh, ow, hp, wp = self._avg_geometry(x4.shape, kernel, stride, padding, ceil_mode, divisor_override, op)
        (kh, kw), p = kernel, padding
        n, c, h, w = x4.shape
        xpad = xp.zeros((n, c, hp, wp), x4.dtype)
        xpad[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x4
        divisor = self._avg_divisor(x4.shape, oh, ow, kernel, stride, padding, count_include_pad,
                                    divisor_override, x4.dtype)
        total = xp.zeros((n, c, oh, ow), x4.dtype)
        with self.errstate(all="ignore"):
            for a in range(kh):  # row-major taps: the native kernel's order of summation
                for b in range(kw):
                    total += _tap(xpad, a, b, oh, ow, stride, (1, 1))
            return total / divisor

    def avg_pool2d_backward(self, g4, input_shape, kernel, stride, padding, ceil_mode, count_include_pad,
                            divisor_override):
        """Input gradient of avg_pool2d for an input of ``input_shape`` (N, C, H, W): each window's output
        gradient over its divisor, added to every input position of the window. Returns g4's dtype."""
        xp = self.xp
        op = "avg_pool2d_backward"
        shape = tuple(int(v) for v in input_shape)
        if g4.dtype not in _FLOAT_KINDS:
            raise TypeError(f"{op}: expected grad_output to be float32 or float64, got {g4.dtype}")
        if len(shape) != 4 or min(shape) < 0:
            raise ValueError(f"{op}: input_shape must be non-negative")
        oh, ow, hp, wp = self._avg_geometry(shape, kernel, stride, padding, ceil_mode, divisor_override, op)
        _check_grad(g4, g4.dtype, shape, oh, ow, op)
        (kh, kw), p = kernel, padding
        n, c, h, w = shape
        divisor = self._avg_divisor(shape, oh, ow, kernel, stride, padding, count_include_pad, divisor_override,
                                    g4.dtype)
        gpad = xp.zeros((n, c, hp, wp), g4.dtype)
        with self.errstate(all="ignore"):
            share = g4 / divisor
            for a in range(kh):
                for b in range(kw):
                    _tap(gpad, a, b, oh, ow, stride, (1, 1))[...] += share
        return xp.ascontiguousarray(gpad[:, :, p[0]:p[0] + h, p[1]:p[1] + w])
