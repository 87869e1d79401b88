"""unfold (im2col) and fold (col2im) over (N, C, H, W): each kernel tap (i, j) is one strided slice of the
zero-padded image, so both are a loop over the kh*kw taps of whole-array copies (unfold) or adds (fold), as
the composite conv kernel's im2col. Each is the other's adjoint, hence the other's backward."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_storage, check_window_args


def _pair(v, name: str, op: str):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise RuntimeError(f"{op}(): {name} must be an int or a pair of ints, got {list(v)}")
        v = tuple(v)
    else:
        v = (v, v)
    if not all(isinstance(e, (numbers.Integral, np.integer)) and not isinstance(e, bool) for e in v):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not {type(v[0]).__name__}")
    return int(v[0]), int(v[1])


def _check(k, d, p, s, op):
    if min(k) <= 0:
        raise RuntimeError(f"{op}(): kernel size should be greater than zero, but got kernel_height: {k[0]} "
                           f"kernel_width: {k[1]}")
    if min(s) <= 0:
        raise RuntimeError(f"{op}(): stride should be greater than zero, but got stride_height: {s[0]} "
                           f"stride_width: {s[1]}")
    if min(p) < 0:
        raise RuntimeError(f"{op}(): padding should be non-negative, but got pad_height: {p[0]} pad_width: {p[1]}")
    if min(d) <= 0:
        raise RuntimeError(f"{op}(): dilation should be greater than zero, but got dilation_height: {d[0]} "
                           f"dilation_width: {d[1]}")


def _blocks(hw, k, d, p, s):
    return tuple((hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))


def _tap(i, j, d, s, blocks):
    return (slice(i * d[0], i * d[0] + s[0] * (blocks[0] - 1) + 1, s[0]),
            slice(j * d[1], j * d[1] + s[1] * (blocks[1] - 1) + 1, s[1]))


def _im2col(xp, x, k, d, p, s, blocks):
    n, c, h, w = x.shape
    padded = xp.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p != (0, 0) else x
    cols = xp.empty((n, c, k[0], k[1]) + blocks, x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            rows, columns = _tap(i, j, d, s, blocks)
            cols[:, :, i, j] = padded[:, :, rows, columns]
    return cols.reshape(n, c * k[0] * k[1], blocks[0] * blocks[1])


def _col2im(xp, cols, c, hw, k, d, p, s, blocks):
    n = cols.shape[0]
    cols = cols.reshape((n, c, k[0], k[1]) + blocks)
    out = xp.zeros((n, c, hw[0] + 2 * p[0], hw[1] + 2 * p[1]), cols.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            rows, columns = _tap(i, j, d, s, blocks)
            out[:, :, rows, columns] += cols[:, :, i, j]  # one tap's positions are distinct
    return xp.ascontiguousarray(out[:, :, p[0]:p[0] + hw[0], p[1]:p[1] + hw[1]])


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """torch.nn.functional.unfold: (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L) sliding blocks, channel-major
    (row c*kh*kw + i*kw + j holds tap (i, j) of channel c)."""
    op = "unfold"
    check_window_args(op, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)
    a = as_tensor(input, op)
    if a.ndim not in (3, 4) or any(v == 0 for v in a.shape[-3:]):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got: "
                           f"{list(a.shape)}")
    k, d = _pair(kernel_size, "kernel_size", op), _pair(dilation, "dilation", op)
    p, s = _pair(padding, "padding", op), _pair(stride, "stride", op)
    _check(k, d, p, s, op)
    x = a._data[None] if a.ndim == 3 else a._data
    hw = x.shape[2:]
    blocks = _blocks(hw, k, d, p, s)
    if min(blocks) < 1:
        raise RuntimeError(f"{op}(): Given input with spatial size {tuple(hw)}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, calculated shape of the array of sliding blocks as {blocks}, but its "
                           "components must be at least one.")
    n, c = x.shape[:2]  # the padded input and the result, both made below: sizes int64 can count first
    check_storage((n, c, hw[0] + 2 * p[0], hw[1] + 2 * p[1]), x.dtype.itemsize, op)
    check_storage((n, c * k[0] * k[1], blocks[0] * blocks[1]), x.dtype.itemsize, op)
    be = backend_of(x)
    xp = be.xp
    y = _im2col(xp, x, k, d, p, s, blocks)

    def backward(g):
        g3 = g[None] if a.ndim == 3 else g
        gx = _col2im(xp, g3, c, hw, k, d, p, s, blocks)
        return (gx[0] if a.ndim == 3 else gx,)

    return record(Tensor._wrap(y[0] if a.ndim == 3 else y), "Im2ColBackward0", (a,), backward)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """torch.nn.functional.fold: (N, C*kh*kw, L) or (C*kh*kw, L) blocks summed back into (N, C, H, W)
    (overlapping blocks add)."""
    op = "fold"
    check_window_args(op, output_size=output_size, kernel_size=kernel_size, dilation=dilation, padding=padding,
                      stride=stride)
    a = as_tensor(input, op)
    hw = _pair(output_size, "output_size", op)
    k, d = _pair(kernel_size, "kernel_size", op), _pair(dilation, "dilation", op)
    p, s = _pair(padding, "padding", op), _pair(stride, "stride", op)
    _check(k, d, p, s, op)  # the window arguments first, the input's shape next: torch's col2im order
    if a.ndim not in (2, 3) or any(v == 0 for v in a.shape[-2:]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(a.shape)}")
    x = a._data[None] if a.ndim == 2 else a._data
    if x.shape[1] % (k[0] * k[1]) != 0:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={x.shape[1]} and kernel_size={k}.")
    blocks = _blocks(hw, k, d, p, s)
    if blocks[0] * blocks[1] != x.shape[2]:
        raise RuntimeError(f"{op}(): Given output_size={hw}, kernel_size={k}, dilation={d}, padding={p}, "
                           f"stride={s}, expected size of input's dimension 2 to match the calculated number of "
                           f"sliding blocks {blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={x.shape[2]}.")
    be = backend_of(x)
    xp = be.xp
    c = x.shape[1] // (k[0] * k[1])
    y = _col2im(xp, x, c, hw, k, d, p, s, blocks)

    def backward(g):
        g4 = g[None] if a.ndim == 2 else g
        gx = _im2col(xp, g4, k, d, p, s, blocks)
        return (gx[0] if a.ndim == 2 else gx,)

    return record(Tensor._wrap(y[0] if a.ndim == 2 else y), "Col2ImBackward0", (a,), backward)
