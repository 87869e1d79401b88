"""Conv2D: Keras' 2-D convolution (channels-last by default) on fastnn's NCHW conv2d kernel.

The kernel is stored in Keras' layout (kh, kw, in/groups, out) so ``get_weights`` / ``set_weights`` trade
arrays with Keras unchanged; at call time it is handed to the op as a permuted view (the binding packs it,
(kh*kw*in*out) floats, nothing next to the convolution itself). A channels-last input is permuted to NCHW
as a view and the output permuted back as a view: two stacked Conv2D layers then pass an array that is
already NCHW-contiguous underneath, so only the first layer pays the layout copy (inside the binding).
"""
from __future__ import annotations

from ... import creation, ops
from .. import activations
from .base import Layer


def normalize_tuple(value, n: int, name: str) -> tuple:
    if isinstance(value, int):
        value = (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or any(v <= 0 for v in value):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} positive integers. Received: {name}={value}")
    return value


def normalize_padding(padding) -> str:
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: padding={padding}")
    return p


def normalize_data_format(data_format) -> str:
    fmt = "channels_last" if data_format is None else str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"The `data_format` argument must be one of 'channels_first', 'channels_last'. "
                         f"Received: data_format={data_format}")
    return fmt


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras' 'same' padding of one spatial dim as (before, after): output ceil(size / stride), the odd
    pixel at the end (Keras' torch backend, ``_compute_padding_length``)."""
    effective = (kernel - 1) * dilation + 1
    if stride == 1:
        total = effective - 1
    else:
        total = max(0, (-(-size // stride) - 1) * stride + effective - size)
    return total // 2, total - total // 2


def pad_hw(x, pads, mode: str = "constant"):
    """Pads the H and W dims of an NCHW tensor by ((top, bottom), (left, right)) with zeros or (mode
    'replicate') edge copies, with differentiable cat/getitem ops; only asymmetric 'same' padding needs it."""
    for axis, (before, after) in zip((2, 3), pads):
        parts = []
        for count, at_end in ((before, False), (after, True)):
            if count == 0:
                parts.append(None)
                continue
            if mode == "constant":
                shape = list(x.shape)
                shape[axis] = count
                parts.append(creation.zeros(tuple(shape), dtype=x.dtype.name, device=x.device))
            else:
                index = [slice(None)] * 4
                index[axis] = slice(-1, None) if at_end else slice(0, 1)
                edge = x[tuple(index)]
                parts.append(ops.cat([edge] * count, axis) if count > 1 else edge)
        pieces = [p for p in (parts[0], x, parts[1]) if p is not None]
        if len(pieces) > 1:
            x = ops.cat(pieces, axis)
    return x


def to_channels_first(x, data_format: str):
    return x.permute(0, 3, 1, 2) if data_format == "channels_last" else x


def from_channels_first(y, data_format: str):
    return y.permute(0, 2, 3, 1) if data_format == "channels_last" else y


def as_float(x):
    return x if x.dtype.name in ("float32", "float64") else x.float()


def check_positive(value, name: str) -> None:
    """Keras' check of a convolution's ``filters`` (or ``depth_multiplier``): a positive int."""
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"Invalid value for argument `{name}`. Expected a strictly positive value. Received "
                         f"{name}={value}.")


def check_strides_and_groups(strides, dilation_rate, groups, filters) -> None:
    """Keras' constructor checks shared by the convolutions: strides and dilation not both above 1, and
    filters divisible by groups."""
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: "
                         f"strides={strides} and dilation_rate={dilation_rate}")
    if not isinstance(groups, int) or groups <= 0 or filters % groups:
        raise ValueError(f"The number of filters must be evenly divisible by the number of groups. Received: "
                         f"groups={groups}, filters={filters}.")


def check_input_rank(layer, input_shape, ndim: int) -> None:
    if len(input_shape) != ndim:
        raise ValueError(f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected ndim={ndim}, "
                         f"found ndim={len(input_shape)}. Full shape received: {tuple(input_shape)}")


def build_grouped_kernel(layer, input_shape, ndim: int) -> None:
    """A (grouped) convolution's weights in Keras' layout: kernel ``kernel_size + (in / groups, filters)``
    and an optional bias."""
    check_input_rank(layer, input_shape, ndim)
    channels = input_shape[-1 if layer.data_format == "channels_last" else 1]
    if channels is None or channels % layer.groups:
        raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                         f"Received groups={layer.groups}, but the input has {channels} channels (full input "
                         f"shape is {tuple(input_shape)}).")
    layer.kernel = layer.add_weight("kernel", layer.kernel_size + (channels // layer.groups, layer.filters),
                                    layer.kernel_initializer)
    layer.bias = layer.add_weight("bias", (layer.filters,), layer.bias_initializer) if layer.use_bias else None


class Conv2D(Layer):
    """2-D convolution: ``activation(conv(inputs, kernel) + bias)``; input (N, H, W, C) channels-last (or
    (N, C, H, W) with ``data_format='channels_first'``)."""

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups: int = 1, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._preset_weights(kernel=(kernel_regularizer, kernel_constraint), bias=(bias_regularizer, bias_constraint))
        check_positive(filters, "filters")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        check_strides_and_groups(self.strides, self.dilation_rate, groups, filters)
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape) -> None:
        build_grouped_kernel(self, input_shape, 4)

    def call(self, inputs, training=None):
        if inputs.ndim != 4:
            raise ValueError(f"Conv2D {self.name}: expected a 4-D input, got shape {tuple(inputs.shape)}")
        x = to_channels_first(as_float(inputs), self.data_format)
        weight = self.kernel.permute(3, 2, 0, 1)  # (out, in/groups, kh, kw): torch's layout, as a view
        pad = (0, 0)
        if self.padding == "same":
            pads = [same_padding(x.shape[2 + i], self.kernel_size[i], self.strides[i], self.dilation_rate[i])
                    for i in range(2)]
            if all(a == b for a, b in pads):
                pad = (pads[0][0], pads[1][0])
            else:
                x = pad_hw(x, pads, "constant")
        y = ops.conv2d(x, weight, self.bias, self.strides, pad, self.dilation_rate, self.groups)
        return self.activation(from_channels_first(y, self.data_format))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.name_of(self.activation), "use_bias": self.use_bias}
