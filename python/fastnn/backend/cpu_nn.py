"""CPU array work of the training-step ops on the native kernels: softmax / log-softmax over the last
dim, cross-entropy with class indices, layer norm and 2-D pooling.

The kernels take 2-D arrays of rows whose elements are contiguous (any row stride) or C-contiguous
NCHW arrays; these helpers reshape to that form, copying only when the layout demands it.
"""
from __future__ import annotations

import numpy as np

from .. import _C

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def rows_view(x: np.ndarray, cols: int) -> np.ndarray:
    """x as (rows, cols) with contiguous rows: a view when the layout allows one, else a copy."""
    x2 = x.reshape(-1, cols) if x.ndim != 2 or x.shape[1] != cols else x
    if cols > 1 and x2.strides[1] != x2.itemsize:
        x2 = np.ascontiguousarray(x2)
    return x2


def dense(x: np.ndarray) -> np.ndarray:
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


# ---- softmax / log_softmax over the last dim ------------------------------------------------------

def softmax_last(x: np.ndarray, log: bool) -> np.ndarray:
    if x.size == 0:
        return np.empty_like(x)
    return _C.softmax_forward(rows_view(x, x.shape[-1]), log).reshape(x.shape)


def softmax_last_backward(y: np.ndarray, g: np.ndarray, log: bool) -> np.ndarray:
    if y.size == 0:
        return np.zeros_like(y)
    cols = y.shape[-1]
    return _C.softmax_backward(y.reshape(-1, cols), dense(g).reshape(-1, cols), log).reshape(y.shape)


# ---- cross-entropy ----------------------------------------------------------------------------------

def cross_entropy_rows(logits: np.ndarray, target: np.ndarray, ignore_index: int, label_smoothing: float):
    """Per-row losses and logsumexps of (N, C) logits against (N,) int64 targets."""
    return _C.cross_entropy_forward(rows_view(logits, logits.shape[1]), dense(target), ignore_index,
                                    label_smoothing)


def cross_entropy_rows_backward(logits, target, lse, grad_rows, scale, ignore_index, label_smoothing):
    """d(sum_i g_i * loss_i) / d logits with g_i = scale * grad_rows[i] (or scale when grad_rows is None)."""
    if grad_rows is not None:
        grad_rows = dense(grad_rows.astype(logits.dtype, copy=False))
    return _C.cross_entropy_backward(rows_view(logits, logits.shape[1]), dense(target), lse, grad_rows,
                                     float(scale), ignore_index, label_smoothing)


# ---- layer norm -------------------------------------------------------------------------------------

def layer_norm_rows(x2: np.ndarray, weight, bias, eps: float):
    """(y, mean, rstd) of layer norm over the last dim of (rows, D) x."""
    return _C.layer_norm_forward(rows_view(x2, x2.shape[1]), weight, bias, float(eps))


def layer_norm_rows_backward(x2, g2, mean, rstd, weight, need_input: bool, need_weight: bool, need_bias: bool):
    return _C.layer_norm_backward(rows_view(x2, x2.shape[1]), dense(g2), mean, rstd, weight,
                                  need_input=need_input, need_weight=need_weight, need_bias=need_bias)


# ---- pooling ----------------------------------------------------------------------------------------

def max_pool2d(x4, kernel, stride, padding, dilation, ceil_mode):
    return _C.max_pool2d_forward(dense(x4), kernel, stride, padding, dilation, ceil_mode)


def max_pool2d_backward(x4, g4, kernel, stride, padding, dilation, ceil_mode):
    return _C.max_pool2d_backward(dense(x4), dense(g4), kernel, stride, padding, dilation, ceil_mode)


def avg_pool2d(x4, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return _C.avg_pool2d_forward(dense(x4), kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool2d_backward(g4, input_shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    return _C.avg_pool2d_backward(dense(g4), tuple(input_shape), kernel, stride, padding, ceil_mode,
                                  count_include_pad, divisor_override)
