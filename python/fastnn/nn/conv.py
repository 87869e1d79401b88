"""Conv1d / Conv2d on the native implicit-GEMM convolution (fastnn.ops.conv.conv2d, ops.conv1d.conv1d: the
same kernels at a height of one) and ConvTranspose1d / ConvTranspose2d (ops.conv_transpose: the conv data
gradient kernel as the forward). A padding_mode other than 'zeros' pads the input with
ops.conv_padding.mode_pad first and convolves with no padding, as torch does."""
from __future__ import annotations

import numbers

from .. import creation, dtypes
from ..ops.conv import conv2d
from ..ops.conv1d import conv1d
from ..ops.conv_padding import mode_pad
from ..ops.conv_transpose import conv_transpose1d, conv_transpose2d, output_size_range
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


def _pair(v, name: str):
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(e, numbers.Integral) for e in v):
        return (int(v[0]), int(v[1]))
    raise TypeError(f"Conv2d: {name} must be an int or a pair of ints, got {v!r}")


def _check_conv_args(in_channels, out_channels, groups, padding, stride, padding_mode) -> None:
    """torch's _ConvNd constructor checks (ValueErrors with its texts), shared by every conv module."""
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got padding_mode='{padding_mode}'")


class Conv2d(Module):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) input, as torch.nn.Conv2d: weight
    (out_channels, in_channels / groups, kH, kW), bias (out_channels), both initialised as torch does
    (kaiming-uniform with a=√5, i.e. U(-1/√fan_in, 1/√fan_in), and U(-1/√fan_in, 1/√fan_in) for the bias,
    fan_in = in_channels / groups · kH · kW)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__()
        kernel_size, stride, dilation = _pair(kernel_size, "kernel_size"), _pair(stride, "stride"), \
            _pair(dilation, "dilation")
        _check_conv_args(in_channels, out_channels, groups, padding, stride, padding_mode)
        if not isinstance(padding, str):
            padding = _pair(padding, "padding")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.transposed = False
        self.output_padding = (0, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        self.weight = Parameter(creation.empty(out_channels, in_channels // groups, *kernel_size, dtype=dt,
                                               device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_weight_and_bias_(self.weight, self.bias)

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            return conv2d(mode_pad(input, _mode_pads(self.padding, self.kernel_size, self.dilation),
                                   self.padding_mode), weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        # Checked here for torch's message (the op reports the kernel's own shape error otherwise).
        if input.ndim in (3, 4):
            channels = input.shape[-3]
            if channels != self.in_channels:
                raise RuntimeError(f"Given groups={self.groups}, weight of size {list(self.weight.shape)}, expected "
                                   f"input{list(input.shape)} to have {self.in_channels} channels, but got "
                                   f"{channels} channels instead")
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _mode_pads(padding, kernel_size, dilation):
    """(before, after) per spatial dim for a padding_mode pad: the given padding on both sides, or for
    'same' d*(k-1) split with the odd one after (torch's _reversed_padding_repeated_twice)."""
    if padding == "valid":
        return [(0, 0)] * len(kernel_size)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in padding]


def _ntuple(v, n: int, name: str, cls: str):
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return (int(v),) * n
    if isinstance(v, (tuple, list)) and len(v) == n and all(isinstance(e, numbers.Integral) for e in v):
        return tuple(int(e) for e in v)
    raise TypeError(f"{cls}: {name} must be an int or a tuple of {n} ints, got {v!r}")


class _ConvNd(Module):
    """Shared by Conv1d and the transposed convolutions: torch's arguments, checks, parameters and repr."""
    _nd = 1
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                 output_padding=0, device=None, dtype=None) -> None:
        super().__init__()
        nd, cls = self._nd, type(self).__name__
        kernel_size, stride = _ntuple(kernel_size, nd, "kernel_size", cls), _ntuple(stride, nd, "stride", cls)
        dilation = _ntuple(dilation, nd, "dilation", cls)
        _check_conv_args(in_channels, out_channels, groups, padding, stride, padding_mode)
        if not isinstance(padding, str):
            padding = _ntuple(padding, nd, "padding", cls)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.transposed = self._transposed
        self.output_padding = _ntuple(output_padding, nd, "output_padding", cls)
        self.groups = groups
        self.padding_mode = padding_mode
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        shape = ((in_channels, out_channels // groups) if self.transposed else
                 (out_channels, in_channels // groups)) + kernel_size
        self.weight = Parameter(creation.empty(*shape, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_weight_and_bias_(self.weight, self.bias)

    def extra_repr(self) -> str:
        nd = self._nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L) input, as torch.nn.Conv1d: weight
    (out_channels, in_channels / groups, k), torch's default init."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         device=device, dtype=dtype)

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode != "zeros":
            return conv1d(mode_pad(input, _mode_pads(self.padding, self.kernel_size, self.dilation),
                                   self.padding_mode), weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv1d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise TypeError(f"{type(self).__name__}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         output_padding, device=device, dtype=dtype)

    def _output_padding(self, input, output_size):
        """output_padding that makes the output ``output_size`` (torch's ConvTranspose rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        non_spatial = 2 if input.dim() == nd + 2 else 1
        output_size = [int(v) for v in output_size]
        if len(output_size) == non_spatial + nd:
            output_size = output_size[non_spatial:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must have {nd} or "
                             f"{non_spatial + nd} elements (got {len(output_size)})")
        lo = list(output_size_range(input.shape[non_spatial:], self.kernel_size, self.stride, self.padding,
                                    self.dilation))
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        for want, a, b in zip(output_size, lo, hi):
            if not a <= want <= b:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from {lo} to "
                                 f"{hi} (for an input of {list(input.shape[non_spatial:])})")
        return tuple(w - a for w, a in zip(output_size, lo))


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution, as torch.nn.ConvTranspose1d: weight (in_channels, out_channels / groups, k)."""
    _nd = 1

    def forward(self, input, output_size=None):
        op = self._output_padding(input, output_size)
        return conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution, as torch.nn.ConvTranspose2d: weight (in_channels, out_channels / groups, kH,
    kW)."""
    _nd = 2

    def forward(self, input, output_size=None):
        op = self._output_padding(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                self.dilation)
