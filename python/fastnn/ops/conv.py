"""conv2d (NCHW) on the native implicit-GEMM kernels: forward, and backward for input, weight and bias."""
from __future__ import annotations

from .. import amp_state
from ..backend import backend_of
from ..autograd.graph import record
from .._tensor import Tensor
from . import int_kernels
from .arg_checks import check_conv_lengths, check_window_args
from .conv1d import _check_groups, check_conv_dtypes, check_int_dilation


def _pair(v, name: str):
    if isinstance(v, (tuple, list)):
        if len(v) not in (1, 2):  # torch expands a 1-tuple to both dims
            raise ValueError(f"conv2d(): {name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[-1])
    return int(v), int(v)


def _same_padding(kernel, dilation):
    """'same' needs d*(k-1) zeros per dim; PyTorch puts the odd one at the end (bottom/right)."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """Like torch.nn.functional.conv2d: input (N, C, H, W) or (C, H, W), weight (O, C/groups, KH, KW)."""
    if amp_state.ACTIVE:  # CPU autocast (torch's list): bf16 operands; the one test outside it
        input, weight, bias = amp_state.lower(input, weight, bias)
    check_window_args("conv2d", stride=stride, padding=padding, dilation=dilation, groups=groups)
    check_conv_lengths("conv2d", 2, stride=stride, padding=padding, dilation=dilation)
    x, w = input, weight
    if x.ndim not in (3, 4):
        raise RuntimeError(f"conv2d(): expected 3-D (unbatched) or 4-D (batched) input, got {x.ndim}-D "
                           f"input of size {list(x.shape)}")
    if w.ndim != 4:
        raise RuntimeError(f"conv2d(): weight must be 4-D (O, C/groups, KH, KW), got {list(w.shape)}")
    check_conv_dtypes("conv2d", x, w, bias)
    unbatched = x.ndim == 3
    xa = x._data[None] if unbatched else x._data
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    kernel = tuple(w.shape[2:])
    extra = (0, 0)
    if isinstance(padding, str):
        if padding == "valid":
            pad = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            if min(kernel) <= 0:  # d*(k-1) would be a negative padding; torch fails inside oneDNN here
                raise RuntimeError(f"conv2d(): padding='same' needs a non-empty kernel, got weight of shape "
                                   f"{tuple(w.shape)}")
            pad, end = _same_padding(kernel, dilation)
            extra = (end[0] - pad[0], end[1] - pad[1])
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")  # torch's F text (nn.Conv2d: ValueError)
    else:
        pad = _pair(padding, "padding")
    # torch's checks and messages (the kernel's own would be ValueErrors naming it), groups first as torch's
    if int(groups) < 1:
        raise RuntimeError("conv2d(): non-positive groups is not supported")
    if min(stride) <= 0:
        raise RuntimeError("conv2d(): non-positive stride is not supported")
    if min(pad) < 0:
        raise RuntimeError("conv2d(): negative padding is not supported")
    if min(dilation) <= 0:
        raise RuntimeError(f"conv2d(): dilation should be greater than zero, but got {list(dilation)}")
    _check_groups("conv2d", xa.shape, w.shape, int(groups), False)  # torch's checks and texts, every backend
    check_int_dilation(x, dilation)
    ba = bias._data if bias is not None else None
    be = backend_of(xa, w._data, ba)
    if extra != (0, 0):  # even kernels: the kernel pads symmetrically, the extra row/column is added here
        xa = be.xp.pad(xa, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    try:
        if int_kernels.is_int(x.dtype):  # exact integer convolution (no grad: integer tensors have none)
            y = int_kernels.conv2d_forward(be, xa, w._data, ba, stride, pad, dilation, int(groups))
        else:
            y = be.conv2d_forward(xa, w._data, ba, stride, pad, dilation, int(groups))
    except ValueError as e:
        raise RuntimeError(str(e)) from None
    in_hw = xa.shape[2:]

    def backward(g):
        g4 = g[None] if unbatched else g
        gx = gw = gb = None
        if x._requires_grad:
            gx = be.conv2d_backward_data(g4, w._data, in_hw, stride, pad, dilation, int(groups))
            if extra != (0, 0):
                gx = gx[:, :, :in_hw[0] - extra[0], :in_hw[1] - extra[1]]
            gx = gx[0] if unbatched else gx
        if w._requires_grad:
            gw = be.conv2d_backward_weight(g4, xa, kernel, stride, pad, dilation, int(groups))
        if bias is not None and bias._requires_grad:
            gb = be.conv2d_backward_bias(g4)
        return gx, gw, gb

    out = Tensor._wrap(y[0] if unbatched else y)
    return record(out, "ConvolutionBackward0", (x, w, bias), backward)
