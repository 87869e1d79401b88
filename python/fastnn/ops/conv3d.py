"""conv3d and conv_transpose3d (NCDHW) composed from the 2-D convolution ops, so each backward is theirs.

conv3d: the kd depth taps of the input (each a strided depth slice, ``x[:, :, a*dd :: sd]`` cut to the output
depth) are stacked next to the channels, and ONE conv2d over (N * D_out, kd * C, H, W) does the work: the
weight (O, C/g, kd, kh, kw) is viewed as (O, kd * C/g, kh, kw) and the stacked channels are ordered (group,
tap, channel) so ``groups`` keeps its meaning. Memory: kd copies of the input.

conv_transpose3d: ONE conv_transpose2d over (N * D, C_in, H, W) with the weight (C_in, C_out/g, kd, kh, kw)
viewed as (C_in, kd * C_out/g, kh, kw) gives each depth tap's contribution; tap a of input plane t lands on
output plane t * sd + a * dd (zero-interleaved by the stride, shifted by the tap, summed). Then torch's
``padding`` crops both ends of the depth axis and ``output_padding`` extends its end."""
from __future__ import annotations

from .. import amp_state
from .._tensor import Tensor
from ._util import as_tensor
from .conv import conv2d
from .conv1d import check_conv_args
from .conv_transpose import _tuple, conv_transpose2d
from .padding import pad
from .shape import stack


def _check_channels(op: str, x, w, groups: int, transposed: bool) -> None:
    c = x.shape[1]
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if transposed:
        if c != w.shape[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {list(w.shape)}, expected input{list(x.shape)} "
                               f"to have {w.shape[0]} channels, but got {c} channels instead")
    elif c != w.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(w.shape)}, expected input{list(x.shape)} "
                           f"to have {w.shape[1] * groups} channels, but got {c} channels instead")
    if w.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size {list(w.shape)} instead")


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1) -> Tensor:
    """torch.nn.functional.conv3d: input (N, C, D, H, W) or (C, D, H, W), weight (O, C/groups, kD, kH, kW);
    padding an int, a triple, 'valid' or 'same' (the odd zero at the end, as torch)."""
    op = "conv3d"
    x, w = as_tensor(input, op), as_tensor(weight, op)
    b = None if bias is None else as_tensor(bias, op)
    check_conv_args(op, x, w, b, 3)
    unbatched = x.ndim == 4
    if unbatched:
        x = x.unsqueeze(0)
    groups = int(groups)
    s, d = _tuple(stride, "stride", 3, op), _tuple(dilation, "dilation", 3, op)
    k = tuple(w.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * 3
        elif padding == "same":
            if s != (1, 1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = [(di * (ki - 1) // 2, di * (ki - 1) - di * (ki - 1) // 2) for ki, di in zip(k, d)]
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pads = [(p, p) for p in _tuple(padding, "padding", 3, op)]
    if min(s) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(p for pair in pads for p in pair) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got {list(d)}")
    _check_channels(op, x, w, groups, False)
    sizes = [x.shape[2 + i] + sum(pads[i]) for i in range(3)]
    if any(n < di * (ki - 1) + 1 for n, ki, di in zip(sizes, k, d)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, sizes))}). Kernel "
                           f"size: ({' x '.join(str(di * (ki - 1) + 1) for ki, di in zip(k, d))}). Kernel size "
                           f"can't be greater than actual input size")
    hw_sym = all(a == c for a, c in pads[1:])
    flat = [] if hw_sym else [*pads[2], *pads[1]]
    if flat or pads[0] != (0, 0):  # zero planes (and, for asymmetric 'same', rows/columns) cat'ed on
        x = pad(x, flat + ([] if flat else [0, 0, 0, 0]) + list(pads[0]))
    hw_pad = (pads[1][0], pads[2][0]) if hw_sym else (0, 0)
    n, c, depth = x.shape[0], x.shape[1], x.shape[2]
    out_d = (depth - d[0] * (k[0] - 1) - 1) // s[0] + 1
    cg = c // groups
    taps = [x[:, :, a * d[0]: a * d[0] + (out_d - 1) * s[0] + 1: s[0]] for a in range(k[0])]
    xs = stack(taps, 1)  # (N, kd, C, D_out, H, W)
    xs = xs.reshape(n, k[0], groups, cg, out_d, x.shape[3], x.shape[4]).permute(0, 4, 2, 1, 3, 5, 6)
    xs = xs.reshape(n * out_d, groups * k[0] * cg, x.shape[3], x.shape[4])
    w2 = w.permute(0, 2, 1, 3, 4).reshape(w.shape[0], k[0] * w.shape[1], k[1], k[2])
    y = conv2d(xs, w2, b, s[1:], hw_pad, d[1:], groups)  # (N * D_out, O, H_out, W_out)
    y = y.reshape(n, out_d, *y.shape[1:]).permute(0, 2, 1, 3, 4)
    return y[0] if unbatched else y


@amp_state.lower_precision_op(3)  # torch's CPU autocast list
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups: int = 1,
                     dilation=1) -> Tensor:
    """torch.nn.functional.conv_transpose3d: input (N, C_in, D, H, W) or (C_in, D, H, W), weight
    (C_in, C_out/groups, kD, kH, kW)."""
    op = "conv_transpose3d"
    x, w = as_tensor(input, op), as_tensor(weight, op)
    b = None if bias is None else as_tensor(bias, op)
    check_conv_args(op, x, w, b, 3, transposed=True)
    unbatched = x.ndim == 4
    if unbatched:
        x = x.unsqueeze(0)
    groups = int(groups)
    s, d = _tuple(stride, "stride", 3, op), _tuple(dilation, "dilation", 3, op)
    p, op_ = _tuple(padding, "padding", 3, op), _tuple(output_padding, "output_padding", 3, op)
    if min(s) <= 0:
        raise RuntimeError("non-positive stride is not supported")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got {list(d)}")
    if min(p) < 0:
        raise RuntimeError("negative padding is not supported")
    for i in range(3):
        if op_[i] < 0 or (op_[i] >= s[i] and op_[i] >= d[i]):
            raise RuntimeError("output padding must be smaller than either stride or dilation, but got "
                               f"output_padding: {list(op_)}, stride: {list(s)}, dilation: {list(d)}")
    _check_channels(op, x, w, groups, True)
    n, cin, depth, h, wd = x.shape
    k = tuple(w.shape[2:])
    cog = w.shape[1]
    cout = cog * groups
    full = (depth - 1) * s[0] + d[0] * (k[0] - 1) + 1
    out_d = full - 2 * p[0] + op_[0]
    if out_d <= 0:
        raise RuntimeError(f"Given input size per channel: ({depth} x {h} x {wd}). Calculated output size per "
                           f"channel: ({out_d} x ...). Output size is too small")
    x2 = x.permute(0, 2, 1, 3, 4).reshape(n * depth, cin, h, wd)
    w2 = w.permute(0, 2, 1, 3, 4).reshape(cin, k[0] * cog, k[1], k[2])
    r = conv_transpose2d(x2, w2, None, s[1:], p[1:], op_[1:], groups, d[1:])  # (N*D, g*kd*C_out/g, Ho, Wo)
    ho, wo = r.shape[2], r.shape[3]
    r = r.reshape(n, depth, groups, k[0], cog, ho, wo)
    y = None
    for a in range(k[0]):
        ra = r[:, :, :, a].reshape(n, depth, cout, ho, wo)
        if s[0] > 1:  # plane t goes to t * sd: s-1 zero planes after each, the last ones dropped
            ra = pad(ra.unsqueeze(2), [0, 0, 0, 0, 0, 0, 0, s[0] - 1])  # (N, D, sd, C, Ho, Wo)
            ra = ra.reshape(n, depth * s[0], cout, ho, wo)[:, :(depth - 1) * s[0] + 1]
        ra = pad(ra, [0, 0, 0, 0, 0, 0, a * d[0], full - a * d[0] - ra.shape[1]])
        y = ra if y is None else y + ra
    lo, hi = p[0], full - p[0] + op_[0]
    y = pad(y[:, lo:], [0, 0, 0, 0, 0, 0, 0, hi - full]) if hi > full else y[:, lo:hi]
    y = y.permute(0, 2, 1, 3, 4)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1, 1)
    return y[0] if unbatched else y
