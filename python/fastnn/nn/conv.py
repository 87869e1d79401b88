"""Conv2d on the native implicit-GEMM convolution (fastnn.ops.conv.conv2d)."""
from __future__ import annotations

import numbers

from .. import creation, dtypes
from ..ops.conv import conv2d
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
        else:
            padding = _pair(padding, "padding")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got padding_mode='{padding_mode}'")
        if padding_mode != "zeros":
            # torch pads with F.pad(mode=...) before a padding-free conv; fastnn has no differentiable pad op yet.
            raise NotImplementedError(f"Conv2d: padding_mode='{padding_mode}' is not supported yet; only "
                                      "padding_mode='zeros' is")
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
        return s
