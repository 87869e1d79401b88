"""Integer linear, convolution and average pooling, computed exactly as torch does on the CPU.

torch runs linear, bilinear and conv1d/2d on every integer dtype (conv_transpose and avg_pool on int64 only),
accumulating in the tensor's integer type: results wrap modulo 2**bits (two's complement), never round. The
native kernels are float-only, so an integer product-sum goes one of two exact ways:

- through the float kernels in float64, when it provably fits: every partial sum of a length-L contraction is
  at most L * max|a| * max|b| (+ max|bias|) in magnitude, and below 2**53 float64 holds every integer and each
  multiply and add is exact whatever the order of summation (the kernels are plain GEMM/implicit GEMM, no
  Winograd or FFT); the exact result is then reduced to the dtype;
- otherwise in int64 with ``xp`` (an int64 matmul wraps modulo 2**64, as torch's int64 accumulation does).

Narrower dtypes are computed wide and cast back at the end: + and * commute with reduction modulo 2**bits, so
the result equals torch's accumulation in the narrow type, overflow included. Integer tensors never require
grad, so these forms have no backward.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes

_EXACT = 2 ** 53  # float64 holds every integer of smaller magnitude

# torch's spellings of a dtype in its messages: the ScalarType name and the C++ type name
_STEMS = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
          "float32": "Float", "float64": "Double", "float16": "Half"}
_CTYPES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
           "uint8": "unsigned char", "bool": "bool", "float32": "float", "float64": "double", "float16": "c10::Half"}


def stem(dt) -> str:
    """torch's ScalarType name of a fastnn dtype ('Long', 'Float', ...)."""
    return _STEMS.get(dt.name, dt.name)


def ctype(dt) -> str:
    """torch's C++ type name of a fastnn dtype ('long int', 'float', ...)."""
    return _CTYPES.get(dt.name, dt.name)


def is_int(dt) -> bool:
    """An integer dtype (bool excluded: torch's GEMM and conv kernels refuse it)."""
    return dt.np.kind in "iu" and dt is not dtypes.bool_


def not_implemented(kernel: str, dt) -> NotImplementedError:
    return NotImplementedError(f"\"{kernel}\" not implemented for '{stem(dt)}'")


def _max_abs(a) -> int:
    if a is None or a.size == 0:
        return 0
    return max(abs(int(a.max())), abs(int(a.min())))  # Python ints: abs(int64 min) does not overflow


def _fits_float64(length: int, a, b, bias=None) -> bool:
    return length * _max_abs(a) * _max_abs(b) + _max_abs(bias) < _EXACT


def _f64(a):
    return None if a is None else a.astype(np.float64)


def _i64(a):
    return None if a is None else a.astype(np.int64)


def _back(y, dtype):
    """An exact float64 or int64 result in ``dtype``, wrapping as torch's narrow accumulation does."""
    return y.astype(np.int64).astype(dtype)


def linear(be, x2, w, b):
    """x2 (M, K) @ w (O, K)ᵀ + b (O,), all of one integer dtype."""
    if _fits_float64(x2.shape[1], x2, w, b):
        return _back(be.linear(_f64(x2), _f64(w), _f64(b), "none"), x2.dtype)
    y = be.xp.matmul(_i64(x2), _i64(w).T)
    return (y if b is None else y + _i64(b)).astype(x2.dtype)


def matmul(be, a, b):
    """a (M, K) @ b (K, N) of one integer dtype (the bilinear form's GEMM)."""
    if _fits_float64(a.shape[1], a, b):
        return _back(be.matmul(_f64(a), _f64(b)), a.dtype)
    return be.xp.matmul(_i64(a), _i64(b)).astype(a.dtype)


def bilinear_sum(be, t, x2, bias):
    """y[m, o] = sum_j t[m, o, j] * x2[m, j] (+ bias[o]), wrapping in int64 (no kernel has this form)."""
    y = be.xp.einsum("moj,mj->mo", _i64(t), _i64(x2))
    return (y if bias is None else y + _i64(bias)).astype(t.dtype)


def conv2d_forward(be, x, w, b, stride, padding, dilation, groups: int):
    """The integer twin of ``be.conv2d_forward``: x (N, C, H, W), w (O, C/groups, KH, KW), b (O,) or None."""
    o, cg, kh, kw = w.shape
    if _fits_float64(cg * kh * kw, x, w, b):
        return _back(be.conv2d_forward(_f64(x), _f64(w), _f64(b), stride, padding, dilation, groups), x.dtype)
    xp = be.xp
    n, c, h, wd = x.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    if groups < 1 or c % groups != 0 or o % groups != 0:  # the binding's checks, as ValueErrors naming it
        raise ValueError(f"conv2d: in_channels ({c}) and out_channels ({o}) must be divisible by groups ({groups})")
    if cg * groups != c:
        raise ValueError(f"conv2d: expected input with {cg * groups} channels (weight has {cg} per group, "
                         f"groups={groups}), but got {c} channels")
    if h + 2 * ph < dh * (kh - 1) + 1 or wd + 2 * pw < dw * (kw - 1) + 1:
        raise ValueError(f"conv2d: kernel size ({kh}, {kw}) after dilation is larger than the padded input "
                         f"({h + 2 * ph}, {wd + 2 * pw})")
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = xp.zeros((n, c, h + 2 * ph, wd + 2 * pw), np.int64)
    padded[:, :, ph:ph + h, pw:pw + wd] = x
    padded = padded.reshape(n, groups, cg, h + 2 * ph, wd + 2 * pw)
    wg = _i64(w).reshape(groups, o // groups, cg, kh, kw)
    y = xp.zeros((n, groups, o // groups, oh * ow), np.int64)
    for i in range(kh):  # one (G, O/G, C/G) @ (N, G, C/G, OH*OW) product per kernel tap
        for j in range(kw):
            tap = padded[:, :, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            y += xp.matmul(wg[None, :, :, :, i, j], tap.reshape(n, groups, cg, oh * ow))
    y = y.reshape(n, o, oh, ow)
    if b is not None:
        y += _i64(b).reshape(o, 1, 1)
    return y.astype(x.dtype)


def conv2d_backward_data(be, g, w, in_hw, stride, padding, dilation, groups: int):
    """The integer twin of ``be.conv2d_backward_data`` (the transposed convolution's forward): g (N, O, OH, OW),
    w (O, C/groups, KH, KW); the result (N, C, *in_hw) scatters g[n, o, p, q] * w[o, c, i, j] to row
    p*sh - ph + i*dh and column q*sw - pw + j*dw."""
    o, cg, kh, kw = w.shape
    if _fits_float64((o // groups) * kh * kw, g, w):
        return _back(be.conv2d_backward_data(_f64(g), _f64(w), in_hw, stride, padding, dilation, groups), g.dtype)
    xp = be.xp
    n, _, oh, ow = g.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    h, wd = in_hw
    og = o // groups
    # contributions (N, G, C/G*KH*KW, OH*OW): one (C/G*KH*KW, O/G) @ (O/G, OH*OW) product per sample and group
    wg = _i64(w).reshape(groups, og, cg * kh * kw).transpose(0, 2, 1)
    part = xp.matmul(wg[None], _i64(g).reshape(n, groups, og, oh * ow)).reshape(n, groups, cg, kh, kw, oh, ow)
    full = xp.zeros((n, groups, cg, max(ph + h, sh * (oh - 1) + dh * (kh - 1) + 1),
                     max(pw + wd, sw * (ow - 1) + dw * (kw - 1) + 1)), np.int64)
    for i in range(kh):
        for j in range(kw):
            full[:, :, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += \
                part[:, :, :, i, j]
    return full[:, :, :, ph:ph + h, pw:pw + wd].reshape(n, groups * cg, h, wd).astype(g.dtype)


def _divisors(xp, size: int, out: int, k: int, s: int, p: int, count_include_pad: bool):
    """torch's per-dim window lengths of avg_pool: the window clipped to the padded input, and, when padding
    does not count, to the input itself."""
    start = xp.arange(out) * s - p
    end = xp.minimum(start + k, size + p)
    if count_include_pad:
        return end - start
    return xp.minimum(end, size) - xp.maximum(start, 0)


def avg_pool2d(be, x, out_hw, k, s, p, count_include_pad: bool, divisor_override):
    """avg_pool2d of an int64 (N, C, H, W) array as torch computes it: the window's int64 sum (wrapping), divided
    by the divisor with C's truncating integer division."""
    xp = be.xp
    n, c, h, w = x.shape
    oh, ow = out_hw
    padded = xp.zeros((n, c, max(p[0] + h, s[0] * (oh - 1) + k[0]), max(p[1] + w, s[1] * (ow - 1) + k[1])),
                      np.int64)
    padded[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    total = xp.zeros((n, c, oh, ow), np.int64)
    for i in range(k[0]):
        for j in range(k[1]):
            total += padded[:, :, i:i + s[0] * (oh - 1) + 1:s[0], j:j + s[1] * (ow - 1) + 1:s[1]]
    # windows lying wholly in the padding give 0 (torch skips them)
    inside = (_divisors(xp, h, oh, k[0], s[0], p[0], False)[:, None] > 0) & \
             (_divisors(xp, w, ow, k[1], s[1], p[1], False)[None, :] > 0)
    if divisor_override is not None:
        div = xp.full((oh, ow), int(divisor_override), np.int64)
    else:
        div = (_divisors(xp, h, oh, k[0], s[0], p[0], count_include_pad)[:, None] *
               _divisors(xp, w, ow, k[1], s[1], p[1], count_include_pad)[None, :]).astype(np.int64)
    div = xp.where(inside, div, 1)
    q = total // div  # floor division; C truncates toward zero
    q += ((total - q * div) != 0) & ((total < 0) != (div < 0))
    return xp.where(inside, q, 0)
