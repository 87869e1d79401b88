"""2-D pooling over NCHW (or CHW) tensors on the native kernels: max_pool2d, avg_pool2d.

max_pool2d saves its input rather than argmax indices: the backward recomputes each window's argmax
(PyTorch's rule: first maximum in window order, NaN wins), which costs a read of x instead of writing
and reading an index array."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import cpu_nn
from ..tensor import Tensor
from ._util import as_tensor


def _pair(v, name: str, op: str, allow_none: bool = False):
    if v is None and allow_none:
        return None
    if isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and allow_none and len(v) == 0:
        return None  # PyTorch: stride=[] means stride = kernel_size
    if isinstance(v, (tuple, list)) and len(v) in (1, 2) and all(
            isinstance(e, (numbers.Integral, np.integer)) and not isinstance(e, bool) for e in v):
        return (int(v[0]), int(v[-1]))
    raise RuntimeError(f"{op}: {name} must either be a single int, or a tuple of two ints")


def _out_size(size, k, pad, stride, dil, ceil_mode):
    num = size + 2 * pad - dil * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _prepare(input, kernel_size, stride, padding, dilation, ceil_mode, op):
    a = as_tensor(input, op)
    if a.ndim not in (3, 4) or any(s == 0 for s in a.shape[-3:]):
        raise RuntimeError(f"{op}: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, "
                           f"but got: {list(a.shape)}")
    if a._data.dtype not in cpu_nn.FLOATS:
        raise TypeError(f"{op}: expected input of dtype float32 or float64, got {a.dtype}")
    k = _pair(kernel_size, "kernel_size", op)
    s = _pair(stride, "stride", op, allow_none=True) or k
    p = _pair(padding, "padding", op)
    d = _pair(dilation, "dilation", op)
    if min(k) <= 0:
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    if min(s) <= 0:
        raise RuntimeError(f"{op}: stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if min(d) <= 0:
        raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilationH: {d[0]} dilationW: {d[1]}")
    for i in range(2):
        effective = (k[i] - 1) * d[i] + 1
        if p[i] < 0 or 2 * p[i] > effective:
            raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={p[i]}, "
                               f"kernel_size={k[i]} and dilation={d[i]}")
    x = a._data
    x4 = x[None] if x.ndim == 3 else x
    h, w = x4.shape[2:]
    oh, ow = (_out_size(h, k[0], p[0], s[0], d[0], ceil_mode), _out_size(w, k[1], p[1], s[1], d[1], ceil_mode))
    if oh < 1 or ow < 1:
        raise RuntimeError(f"{op}: Given input size: ({x4.shape[1]}x{h}x{w}). Calculated output size: "
                           f"({x4.shape[1]}x{oh}x{ow}). Output size is too small")
    return a, x4, k, s, p, d


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor:
    """torch.nn.functional.max_pool2d over (N, C, H, W) or (C, H, W); implicit -inf padding."""
    if return_indices:
        raise NotImplementedError("max_pool2d(): return_indices=True is not supported")
    a, x4, k, s, p, d = _prepare(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    ceil_mode = bool(ceil_mode)
    if x4.shape[0] == 0:
        return _empty_pool(a, x4, k, s, p, d, ceil_mode, "MaxPool2DWithIndicesBackward0")
    x4 = cpu_nn.dense(x4)
    y = cpu_nn.max_pool2d(x4, k, s, p, d, ceil_mode)

    def backward(g):
        gx = cpu_nn.max_pool2d_backward(x4, g.reshape(y.shape), k, s, p, d, ceil_mode)
        return (gx.reshape(a.shape),)

    return record(Tensor._wrap(y.reshape(y.shape[1:]) if a.ndim == 3 else y), "MaxPool2DWithIndicesBackward0",
                  (a,), backward)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override=None) -> Tensor:
    """torch.nn.functional.avg_pool2d over (N, C, H, W) or (C, H, W)."""
    a, x4, k, s, p, d = _prepare(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    ceil_mode, count_include_pad = bool(ceil_mode), bool(count_include_pad)
    if divisor_override is not None:
        divisor_override = int(divisor_override)
        if divisor_override == 0:
            raise RuntimeError("avg_pool2d: divisor must be not zero")
    if x4.shape[0] == 0:
        return _empty_pool(a, x4, k, s, p, d, ceil_mode, "AvgPool2DBackward0")
    y = cpu_nn.avg_pool2d(x4, k, s, p, ceil_mode, count_include_pad, divisor_override)
    in_shape = x4.shape

    def backward(g):
        gx = cpu_nn.avg_pool2d_backward(g.reshape(y.shape), in_shape, k, s, p, ceil_mode, count_include_pad,
                                        divisor_override)
        return (gx.reshape(a.shape),)

    return record(Tensor._wrap(y.reshape(y.shape[1:]) if a.ndim == 3 else y), "AvgPool2DBackward0", (a,), backward)


def _empty_pool(a, x4, k, s, p, d, ceil_mode, name):
    n, c, h, w = x4.shape
    oh, ow = _out_size(h, k[0], p[0], s[0], d[0], ceil_mode), _out_size(w, k[1], p[1], s[1], d[1], ceil_mode)
    y = np.empty((n, c, oh, ow), x4.dtype)
    return record(Tensor._wrap(y), name, (a,), lambda g: (np.zeros(a.shape, x4.dtype),))
