"""conv1d on the conv2d kernels: (N, C, L) is viewed as (N, C, 1, L) and the weight (O, C/g, K) as
(O, C/g, 1, K), so the forward and both backward kernels are conv2d's with a height of one (no copy: the
views share storage)."""
from __future__ import annotations

from .. import amp_state
import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .. import dtypes
from .._tensor import Tensor
from . import int_kernels
from ._util import as_tensor
from .arg_checks import check_window_args


def _single(v, name: str, op: str) -> int:
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise RuntimeError(f"{op}: expected {name} to be a single integer value or a list of 1 values to match "
                               f"the convolution dimensions, but got {name}={list(v)}")
        v = v[0]
    if not isinstance(v, (numbers.Integral, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not {type(v).__name__}")
    return int(v)


def check_conv_args(op, x, w, bias, nd: int, transposed: bool = False):
    """torch's checks of a convolution's operands (x: nd+1 or nd+2 dims; w: nd+2 dims)."""
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input of "
                           f"size: {list(x.shape)}")
    if w.ndim != nd + 2:
        raise RuntimeError("weight should have at least three dimensions" if w.ndim < 3 else
                           f"Expected {nd + 2}-dimensional input for {nd + 2}-dimensional weight {list(w.shape)}, "
                           f"but got {w.ndim}-dimensional input")
    if 0 in tuple(w.shape[2:]):  # the kernels' own check would name the kernel, not the op
        raise RuntimeError(f"{op}(): kernel size should be greater than zero, but got {list(w.shape[2:])}")
    check_conv_dtypes(op, x, w, bias, transposed)


def check_conv_dtypes(op, x, w, bias, transposed: bool = False):
    """One floating dtype, or one integer dtype (torch convolves integers exactly: every integer dtype, int64
    only when transposed); a mix involving an integer raises torch's messages. A transposed convolution adds
    its bias after the fact, so an integer bias is cast to the input's dtype (see ``bias_for``)."""
    dt = x.dtype
    if dt.is_floating_point and w.dtype is dt and (bias is None or bias.dtype is dt):
        return
    kinds = [t.dtype for t in (x, w, bias) if t is not None]
    if any(int_kernels.is_int(d) or d is dtypes.bool_ for d in kinds):
        if w.dtype is not dt:
            raise RuntimeError(f"expected scalar type {int_kernels.stem(dt)} but found {int_kernels.stem(w.dtype)}")
        kernel = "slow_conv_transpose2d_out_cpu" if transposed else "slow_conv2d_cpu"
        if dt is dtypes.bool_ or (transposed and dt is not dtypes.int64 and not dt.is_floating_point):
            raise int_kernels.not_implemented(kernel, dt)
        if bias is not None and bias.dtype is not dt:
            if not transposed:
                raise RuntimeError(f"Input type ({int_kernels.ctype(dt)}) and bias type "
                                   f"({int_kernels.ctype(bias.dtype)}) should be the same")
            if bias.dtype.is_floating_point:  # promotes past the integer output
                raise RuntimeError(f"result type {int_kernels.stem(bias.dtype)} can't be cast to the desired "
                                   f"output type {int_kernels.stem(dt)}")
        return
    raise RuntimeError(f"{op}(): input, weight and bias must share one floating dtype, got {x.dtype} and "
                       f"{w.dtype}" + (f" and {bias.dtype}" if bias is not None else ""))


def check_int_dilation(x, dilation):
    """torch dilates integer convolutions with a kernel that takes int64 only (an empty input never reaches it)."""
    if max(dilation) > 1 and int_kernels.is_int(x.dtype) and x.dtype is not dtypes.int64 and x.numel() > 0:
        raise int_kernels.not_implemented("slow_conv_dilated<>", x.dtype)


def _check_groups(op, x_shape, w_shape, groups, transposed):
    c = x_shape[1]
    if groups < 1:
        raise RuntimeError(f"{op}(): non-positive groups is not supported")
    if not transposed and w_shape[0] % groups != 0:  # before the channel count, in torch's order
        raise RuntimeError(f"{op}(): Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {list(w_shape)} instead")
    want = w_shape[0] if transposed else w_shape[1] * groups
    if c != want:
        raise RuntimeError(f"{op}(): Given {'transposed=1' if transposed else f'groups={groups}'}, weight of size "
                           f"{list(w_shape)}, expected input{list(x_shape)} to have {want} channels, but got {c} "
                           f"channels instead")
    if transposed and w_shape[0] % groups != 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(w_shape)} instead")


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """torch.nn.functional.conv1d: input (N, C, L) or (C, L), weight (O, C/groups, K); padding an int, a
    1-tuple, 'valid' or 'same' (the odd zero goes at the end, as torch)."""
    op = "conv1d"
    check_window_args(op, stride=stride, padding=padding, dilation=dilation, groups=groups)
    x, w = as_tensor(input, op), as_tensor(weight, op)
    b = None if bias is None else as_tensor(bias, op)
    check_conv_args(op, x, w, b, 1)
    s, d, groups = _single(stride, "stride", op), _single(dilation, "dilation", op), int(groups)
    if groups < 1:  # before the padding string's checks: torch's order
        raise RuntimeError(f"{op}(): non-positive groups is not supported")
    k = w.shape[2]
    extra = 0
    if isinstance(padding, str):
        if padding == "valid":
            p = 0
        elif padding == "same":
            if s != 1:
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = d * (k - 1)
            p, extra = total // 2, total - 2 * (total // 2)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _single(padding, "padding", op)
    if s < 1:
        raise RuntimeError(f"{op}(): non-positive stride is not supported")
    if d < 1:
        raise RuntimeError(f"{op}(): dilation should be greater than zero, but got {[d]}")
    if p < 0:
        raise RuntimeError(f"{op}(): negative padding is not supported")
    unbatched = x.ndim == 2
    xa = x._data[None] if unbatched else x._data
    _check_groups(op, xa.shape, w.shape, groups, False)
    check_int_dilation(x, (d,))
    if b is not None and tuple(b.shape) != (w.shape[0],):
        raise RuntimeError(f"Given weight of size {list(w.shape)}, expected bias to be 1-dimensional with "
                           f"{w.shape[0]} elements, but got bias of size {list(b.shape)} instead")
    padded = xa.shape[2] + 2 * p + extra
    if padded < d * (k - 1) + 1:
        raise RuntimeError(f"Calculated padded input size per channel: ({padded}). Kernel size: ({d * (k - 1) + 1}). "
                           "Kernel size can't be greater than actual input size")
    ba = None if b is None else b._data
    be = backend_of(xa, w._data, ba)
    if extra:  # an even dilated kernel under 'same': the kernel pads symmetrically, the last zero is added here
        xa = be.xp.pad(xa, ((0, 0), (0, 0), (0, extra)))
    x4, w4 = xa[:, :, None, :], w._data[:, :, None, :]
    n, o = x4.shape[0], w.shape[0]
    lout = (padded - d * (k - 1) - 1) // s + 1
    args = ((1, s), (0, p), (1, d), groups)
    if n == 0 or o == 0 or lout == 0:
        y = be.xp.zeros((n, o, 1, lout), xa.dtype)
    else:
        if int_kernels.is_int(x.dtype):  # exact integer convolution (no grad: integer tensors have none)
            y = int_kernels.conv2d_forward(be, x4, w4, ba, *args)
        else:
            y = be.conv2d_forward(x4, w4, ba, *args)

    def backward(g):
        g4 = (g[None] if unbatched else g)[:, :, None, :]
        gx = gw = gb = None
        empty = n == 0 or o == 0 or lout == 0
        if x._requires_grad:
            gx = be.xp.zeros(x4.shape, xa.dtype) if empty else be.conv2d_backward_data(g4, w4, x4.shape[2:], *args)
            gx = gx[:, :, 0, :x4.shape[3] - extra]
            gx = gx[0] if unbatched else gx
        if w._requires_grad:
            gw = (be.xp.zeros(w.shape, xa.dtype) if empty else
                  be.conv2d_backward_weight(g4, x4, (1, k), *args)[:, :, 0, :])
        if b is not None and b._requires_grad:
            gb = be.xp.zeros(o, xa.dtype) if empty else be.conv2d_backward_bias(g4)
        return gx, gw, gb

    y3 = y[:, :, 0, :]
    return record(Tensor._wrap(y3[0] if unbatched else y3), "ConvolutionBackward0", (x, w, b), backward)
