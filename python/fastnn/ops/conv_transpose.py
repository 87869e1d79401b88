"""conv_transpose1d / conv_transpose2d: the transposed convolution is the data gradient of a convolution, so
its forward is the backend's ``conv2d_backward_data`` (the transposed weight (C_in, C_out/g, kH, kW) is
exactly the (O, C/g, kH, kW) weight of the convolution it transposes), and its backward is that
convolution's forward (input gradient) and ``conv2d_backward_weight`` with the roles of input and output
gradient swapped (weight gradient). 1-D runs as 2-D with a height of one.

output_padding adds rows/columns at the end of the output. When it is smaller than the stride, the conv
geometry maps the larger output back onto the same input size, and the kernels handle it directly; torch
also allows output_padding >= stride when it is smaller than the dilation, and that case is computed as the
unpadded full transposed convolution (padding 0), cropped by the padding and zero-extended at the end."""
from __future__ import annotations

from .. import amp_state
import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from . import int_kernels
from .conv1d import check_conv_args
from .arg_checks import check_storage, check_window_args


def _tuple(v, name: str, nd: int, op: str):
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            v = tuple(v) * nd
        if len(v) != nd:
            raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of {nd} values to "
                               f"match the convolution dimensions, but got {name}={list(v)}")
    else:
        v = (v,) * nd
    for e in v:
        if not isinstance(e, (numbers.Integral, np.integer)) or isinstance(e, bool):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not {type(e).__name__}")
    return tuple(int(e) for e in v)


def output_size_range(in_size, kernel, stride, padding, dilation):
    """The smallest transposed-conv output per dim (output_padding 0); the largest adds stride - 1."""
    return tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, k, s, p, d in zip(in_size, kernel, stride, padding,
                                                                                   dilation))


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    check_window_args(op, stride=stride, output_padding=output_padding, groups=groups, dilation=dilation)
    x, w = as_tensor(input, op), as_tensor(weight, op)
    b = None if bias is None else as_tensor(bias, op)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    check_conv_args(op, x, w, b, nd, transposed=True)
    s, p = _tuple(stride, "stride", nd, op), _tuple(padding, "padding", nd, op)
    op_, d = _tuple(output_padding, "output_padding", nd, op), _tuple(dilation, "dilation", nd, op)
    groups = int(groups)
    if min(s) < 1:
        raise RuntimeError(f"{op}(): non-positive stride is not supported")
    if min(d) < 1:
        raise RuntimeError(f"{op}(): dilation should be greater than zero, but got {list(d)}")
    if min(p) < 0:
        raise RuntimeError(f"{op}(): negative padding is not supported")
    if min(op_) < 0:
        raise RuntimeError(f"{op}(): negative output_padding is not supported")
    if groups < 1:
        raise RuntimeError(f"{op}(): non-positive groups is not supported")
    if any(o >= si and o >= di for o, si, di in zip(op_, s, d)):
        if nd == 2:
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               f"output_padding_height: {op_[0]} output_padding_width: {op_[1]} stride_height: {s[0]} "
                               f"stride_width: {s[1]} dilation_height: {d[0]} dilation_width: {d[1]}")
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                           f"output_padding: {op_[0]} stride: {s[0]} dilation: {d[0]}")
    unbatched = x.ndim == nd + 1
    xa = x._data[None] if unbatched else x._data
    cin = xa.shape[1]
    if cin != w.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(w.shape)}, expected input{list(xa.shape)} to "
                           f"have {w.shape[0]} channels, but got {cin} channels instead")
    if w.shape[0] % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(w.shape)} instead")
    cout = w.shape[1] * groups
    if b is not None and tuple(b.shape) != (cout,):
        raise RuntimeError(f"Given transposed=1, weight of size {list(w.shape)}, expected bias to be 1-dimensional "
                           f"with {cout} elements, but got bias of size {list(b.shape)} instead")
    kernel = tuple(w.shape[2:])
    base = output_size_range(xa.shape[2:], kernel, s, p, d)
    out_sp = tuple(bs + o for bs, o in zip(base, op_))
    for name, vals in (("padding", p), ("stride", s), ("dilation", d)):  # the kernels take int64 sizes
        for i, v in enumerate(vals):
            if v > 2 ** 62 - 1:
                raise RuntimeError(f"{op}(): Given {name}={v} at dimension {i} , expected {name} to be at most "
                                   f"{2 ** 62 - 1}")
    if min(out_sp) >= 1:
        check_storage((xa.shape[0], cout) + out_sp, xa.dtype.itemsize, op)
    if min(out_sp) < 1:
        raise RuntimeError(f"{op}(): Given input size per channel: ({' x '.join(str(v) for v in xa.shape[2:])}). "
                           f"Calculated output size per channel: ({' x '.join(str(v) for v in out_sp)}). Output size "
                           "is too small")
    if nd == 1:  # everything as 2-D with a height of one
        x4, w4 = xa[:, :, None, :], w._data[:, :, None, :]
        s2, p2, d2, k2, o2 = (1,) + s, (0,) + p, (1,) + d, (1,) + kernel, (1,) + out_sp
    else:
        x4, w4, s2, p2, d2, k2, o2 = xa, w._data, s, p, d, kernel, out_sp
    ba = None if b is None else b._data
    be = backend_of(x4, w4, ba)
    xp = be.xp
    integer = int_kernels.is_int(x.dtype)
    if ba is not None and ba.dtype != x4.dtype:  # an integer bias (check_conv_dtypes allowed it) adds in x's dtype
        ba = ba.astype(x4.dtype)
    n = x4.shape[0]
    # Direct when the conv geometry maps the output size back to the input size (output_padding < stride).
    direct = all(o < si for o, si in zip(op_, s))
    if direct:
        pad_k, full_sp = p2, o2
    else:  # full (unpadded) transposed conv, cropped by padding and zero-extended by output_padding below
        pad_k = (0, 0)
        full_sp = tuple((i - 1) * si + di * (k - 1) + 1 for i, si, di, k in zip(x4.shape[2:], s2, d2, k2))
    empty = n == 0 or cin == 0 or cout == 0
    if empty:
        full = xp.zeros((n, cout) + full_sp, x4.dtype)
    elif integer:  # exact integer transposed convolution (no grad: integer tensors have none)
        full = int_kernels.conv2d_backward_data(be, x4, w4, full_sp, s2, pad_k, d2, groups)
    else:
        full = be.conv2d_backward_data(x4, w4, full_sp, s2, pad_k, d2, groups)
    if direct:
        y4 = full
    else:
        y4 = xp.zeros((n, cout) + o2, x4.dtype)
        src = tuple(slice(pp, min(pp + oo, fs)) for pp, oo, fs in zip(p2, o2, full_sp))
        y4[(slice(None), slice(None)) + tuple(slice(0, sl.stop - sl.start) for sl in src)] = \
            full[(slice(None), slice(None)) + src]
    if ba is not None:
        y4 = y4 + ba.reshape(cout, 1, 1)

    def backward(g):
        g4 = g[None] if unbatched else g
        if nd == 1:
            g4 = g4[:, :, None, :]
        g_out = g4
        if not direct:  # back to the full (unpadded) output's layout
            gf = xp.zeros((n, cout) + full_sp, g4.dtype)
            gf[(slice(None), slice(None)) + src] = g4[(slice(None), slice(None)) +
                                                      tuple(slice(0, sl.stop - sl.start) for sl in src)]
            g4 = gf
        gx = gw = gb = None
        if x._requires_grad:
            gx = xp.zeros(x4.shape, x4.dtype) if empty else be.conv2d_forward(g4, w4, None, s2, pad_k, d2, groups)
            gx = gx[:, :, 0, :] if nd == 1 else gx
            gx = gx[0] if unbatched else gx
        if w._requires_grad:
            gw = xp.zeros(w4.shape, x4.dtype) if empty else be.conv2d_backward_weight(x4, g4, k2, s2, pad_k, d2,
                                                                                       groups)
            gw = gw[:, :, 0, :] if nd == 1 else gw
        if b is not None and b._requires_grad:
            gb = xp.zeros(cout, x4.dtype) if g_out.size == 0 else be.conv2d_backward_bias(g_out)
        return gx, gw, gb

    y = y4[:, :, 0, :] if nd == 1 else y4
    return record(Tensor._wrap(y[0] if unbatched else y), "ConvolutionBackward0", (x, w, b), backward)


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1) -> Tensor:
    """torch.nn.functional.conv_transpose1d: input (N, C_in, L) or (C_in, L), weight (C_in, C_out/groups, K)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1) -> Tensor:
    """torch.nn.functional.conv_transpose2d: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)
