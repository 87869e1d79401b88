"""1-D pooling as torch does it: the (N, C, L) input viewed as (N, C, 1, L), the 2-D pooling op with a
(1, k) window, and the height squeezed away (max_pool1d, avg_pool1d, adaptive_avg_pool1d,
adaptive_max_pool1d); the checks are torch's 1-D ones, made before the 2-D op sees the view. lp_pool1d/2d are
torch's composition over avg_pool. adaptive_max_pool2d (and with it the 1-D form) gathers each output's
window, at most ceil(H/oh)+1 by ceil(W/ow)+1 taps, from a clipped index grid and takes the argmax; the
backward scatters the gradient to those argmaxes."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from ..backend.shapes import pool_out_size
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_window_args
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d


def _int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


def _single(v, name: str, op: str, allow_none: bool = False):
    if v is None and allow_none:
        return None
    if isinstance(v, (tuple, list)):
        if len(v) == 0 and allow_none:
            return None
        if len(v) != 1:
            raise RuntimeError(f"{op}() argument '{name}' should contain one int (got {len(v)})")
        v = v[0]
    if not _int(v):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not {type(v).__name__}")
    return int(v)


def _dims_2_to_3(a, op):
    if a.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {a.ndim}-dimensional tensor for argument #1 'self' "
                           f"(while checking arguments for {op})")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """torch.nn.functional.max_pool1d over (N, C, L) or (C, L)."""
    op = "max_pool1d"
    # return_indices is a Python-level flag in torch (any truthy value): not checked
    check_window_args(op, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                      ceil_mode=ceil_mode)
    a = as_tensor(input, op)
    if a.ndim not in (2, 3) or any(s == 0 for s in a.shape[-2:]):
        raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, "
                           f"but got:{list(a.shape)}")
    k = _single(kernel_size, "kernel_size", op)
    s = _single(stride, "stride", op, allow_none=True)
    s = k if s is None else s
    p, d = _single(padding, "padding", op), _single(dilation, "dilation", op)
    if k <= 0:
        raise RuntimeError(f"{op}() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"{op}() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"{op}() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(f"{op}() padding should be at most half of kernel size, but got padding={p} and "
                           f"kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"{op}() dilation must be greater than zero, but got {d}")
    out = pool_out_size(a.shape[-1], k, p, s, d, bool(ceil_mode))
    if out <= 0:
        raise RuntimeError(f"{op}() Invalid computed output size: {out}")
    r = max_pool2d(a.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """torch.nn.functional.avg_pool1d over (N, C, L) or (C, L)."""
    op = "avg_pool1d"
    check_window_args(op, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
                      count_include_pad=count_include_pad)
    a = as_tensor(input, op)
    _dims_2_to_3(a, op)
    k = _single(kernel_size, "kernel_size", op)
    s = _single(stride, "stride", op, allow_none=True)
    s = k if s is None else s
    p = _single(padding, "padding", op)
    if k <= 0:
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got kW: {k}")
    if s <= 0:
        raise RuntimeError(f"{op}: stride should be greater than zero, but got dW: {s}")
    if p < 0 or 2 * p > k:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p}, kernel_size={k} "
                           "and dilation=1")
    out = pool_out_size(a.shape[-1], k, p, s, 1, bool(ceil_mode))
    if out < 1:
        lead = a.shape[-2]
        raise RuntimeError(f"Given input size: ({lead}x1x{a.shape[-1]}). Calculated output size: ({lead}x1x{out}). "
                           "Output size is too small")
    return avg_pool2d(a.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode, count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """torch.nn.functional.adaptive_avg_pool1d over (N, C, L) or (C, L)."""
    op = "adaptive_avg_pool1d"
    a = as_tensor(input, op)
    _dims_2_to_3(a, op)
    o = _single(output_size, "output_size", op)
    return adaptive_avg_pool2d(a.unsqueeze(-2), (1, o)).squeeze(-2)


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    """torch.nn.functional.adaptive_max_pool1d over (N, C, L) or (C, L); indices are positions along L."""
    op = "adaptive_max_pool1d"
    a = as_tensor(input, op)
    _dims_2_to_3(a, op)
    o = _single(output_size, "output_size", op)
    y, idx = _adaptive_max(a, (1, o), op, a.unsqueeze(-2))
    y, idx = y.squeeze(-2), idx.squeeze(-2)
    return (y, idx) if return_indices else y


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """torch.nn.functional.adaptive_max_pool2d over (N, C, H, W) or (C, H, W): output cell (i, j) is the max of
    rows [floor(i*H/oh), ceil((i+1)*H/oh)) and the matching columns; indices are flat h * W + w."""
    op = "adaptive_max_pool2d"
    a = as_tensor(input, op)
    if a.ndim not in (3, 4):
        raise RuntimeError(f"{op}(): Expected 3D or 4D tensor, but got: {list(a.shape)}")
    h, w = a.shape[-2:]
    if _int(output_size):
        out = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        out = tuple(int(size if v is None else v) for v, size in zip(output_size, (h, w)))
    else:
        raise TypeError(f"{op}(): output_size must be an int or a pair of ints or None, got {output_size!r}")
    y, idx = _adaptive_max(a, out, op, a)
    return (y, idx) if return_indices else y


def _windows(xp, size: int, out: int):
    """(out, k) clipped tap indices of torch's adaptive windows; the clipped taps repeat the window's last
    element, which changes neither its max nor (as they come last) its first argmax."""
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    k = int((end - start).max()) if out else 1
    return xp.minimum(start[:, None] + xp.arange(k)[None, :], (end - 1)[:, None]), k


def _adaptive_max(a, out, op, view):
    """(values, indices) of adaptive max pooling of ``view`` (3-D or 4-D, H and W last) to ``out``."""
    if min(out) < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(out)}: "
                           f"{list(view.shape[:-2]) + list(out)}")
    for dim in range(a.ndim - (2 if a.ndim == view.ndim else 1), a.ndim):
        if a.shape[dim] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                               f"sizes {list(a.shape)} with dimension {dim} being empty")
    if a._data.dtype.kind not in "fV":
        raise NotImplementedError(f'"{op}" not implemented for \'{a.dtype.name}\'')
    x = view._data
    x4 = x[None] if x.ndim == 3 else x
    be = backend_of(x4)
    xp = be.xp
    n, c, h, w = x4.shape
    oh, ow = out
    out_shape = tuple(view.shape[:-2]) + (oh, ow)
    if x4.size == 0 or oh == 0 or ow == 0:
        y = xp.zeros(out_shape, x4.dtype)
        idx = xp.zeros(out_shape, np.int64)
        res = record(Tensor._wrap(y), "AdaptiveMaxPool2DBackward0", (a,), lambda g: (xp.zeros(a.shape, x4.dtype),))
        return res, Tensor._wrap(idx)
    rows, kh = _windows(xp, h, oh)
    cols, kw = _windows(xp, w, ow)
    taps = x4[:, :, rows[:, :, None, None], cols[None, None, :, :]]          # (N, C, oh, kh, ow, kw)
    taps = taps.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
    arg = taps.argmax(axis=-1)
    isnan = xp.isnan(taps)
    if isnan.any():  # torch takes a tap when it is greater than the best so far or NaN: the last NaN wins
        arg = xp.where(isnan.any(axis=-1), kh * kw - 1 - isnan[..., ::-1].argmax(axis=-1), arg)
    y = xp.take_along_axis(taps, arg[..., None], axis=-1)[..., 0]
    r = rows[xp.arange(oh)[:, None], arg // kw]
    q = cols[xp.arange(ow)[None, :], arg % kw]
    flat = (r * w + q).astype(np.int64)                                       # (N, C, oh, ow)

    def backward(g):
        gx = xp.zeros((n * c, h * w), x4.dtype)
        xp.add.at(gx, (xp.arange(n * c)[:, None], flat.reshape(n * c, -1)), g.reshape(n * c, -1))
        return (gx.reshape(a.shape),)

    res = record(Tensor._wrap(y.reshape(out_shape)), "AdaptiveMaxPool2DBackward0", (a,), backward)
    return res, Tensor._wrap(flat.reshape(out_shape))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """torch.nn.functional.lp_pool1d: (sum over the window of x**p) ** (1/p), as torch composes it."""
    k = _single(kernel_size, "kernel_size", "lp_pool1d")
    out = avg_pool1d(as_tensor(input, "lp_pool1d").pow(norm_type), k, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(k).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False) -> Tensor:
    """torch.nn.functional.lp_pool2d: (sum over the window of x**p) ** (1/p), as torch composes it."""
    kh, kw = (kernel_size, kernel_size) if _int(kernel_size) else tuple(kernel_size)
    out = avg_pool2d(as_tensor(input, "lp_pool2d").pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kh * kw).pow(1.0 / norm_type)
