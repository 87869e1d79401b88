"""Conv1D and Conv2DTranspose on fastnn's conv1d / conv_transpose2d ops, kernels kept in Keras' layouts
((k, in/groups, out) and (kh, kw, out, in)) and handed to the ops as permuted views, as Conv2D does.

Conv2DTranspose follows Keras' torch backend exactly: the full transposed convolution (no padding) is
cropped per side by (effective_kernel - 1 - pad) with the JAX-style pads of Keras' output-size rule
(a negative crop pads zeros), and the bias is added after the crop."""
from __future__ import annotations

from ... import ops
from .. import activations
from .base import Layer
from .conv import (as_float, build_grouped_kernel, check_input_rank, check_positive, check_strides_and_groups,
                   from_channels_first, normalize_data_format, normalize_padding, normalize_tuple, pad_hw, same_padding,
                   to_channels_first)


class Conv1D(Layer):
    """1-D convolution over (N, steps, C) (or (N, C, steps) channels_first); padding 'valid', 'same' or
    'causal' (left-padded by (k - 1) * dilation: output t sees inputs <= t)."""

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups: int = 1, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._preset_weights(kernel=(kernel_regularizer, kernel_constraint), bias=(bias_regularizer, bias_constraint))
        check_positive(filters, "filters")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, 1, "kernel_size")
        self.strides = normalize_tuple(strides, 1, "strides")
        p = str(padding).lower()
        if p not in ("valid", "same", "causal"):
            raise ValueError(f"The `padding` argument must be one of 'valid', 'same', 'causal'. Received: "
                             f"padding={padding}")
        self.padding = p
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 1, "dilation_rate")
        check_strides_and_groups(self.strides, self.dilation_rate, groups, filters)
        self.groups = groups
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape) -> None:
        build_grouped_kernel(self, input_shape, 3)

    def call(self, inputs, training=None):
        if inputs.ndim != 3:
            raise ValueError(f"Conv1D {self.name}: expected a 3-D input, got shape {tuple(inputs.shape)}")
        x = as_float(inputs)
        x = x.transpose(1, 2) if self.data_format == "channels_last" else x  # (N, C, L)
        k, s, d = self.kernel_size[0], self.strides[0], self.dilation_rate[0]
        if self.padding == "causal":
            pads = ((k - 1) * d, 0)
        elif self.padding == "same":
            pads = same_padding(x.shape[2], k, s, d)
        else:
            pads = (0, 0)
        pad = 0
        if pads[0] == pads[1]:
            pad = pads[0]
        else:  # asymmetric: zero rows cat'ed on, as Conv2D's 'same'
            x = pad_hw(x.unsqueeze(2), ((0, 0), pads), "constant").squeeze(2)
        y = ops.conv1d(x, self.kernel.permute(2, 1, 0), self.bias, self.strides, pad, self.dilation_rate, self.groups)
        return self.activation(y.transpose(1, 2) if self.data_format == "channels_last" else y)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.name_of(self.activation), "use_bias": self.use_bias}


def _transpose_pads(kernel: int, stride: int, dilation: int, padding: str, output_padding):
    """Keras' (left, right) pads of a transposed conv (``_convert_conv_transpose_padding_args_from_keras_to_jax``)."""
    k = (kernel - 1) * dilation + 1
    if padding == "valid":
        op = max(k, stride) - k if output_padding is None else output_padding
        return k - 1, k - 1 + op
    pad_len = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, k - 1)
    return left, pad_len - left


class Conv2DTranspose(Layer):
    """Transposed 2-D convolution; output size (in - 1) * s + max(k_eff, s) ('valid') or in * s ('same'),
    plus ``output_padding`` when given."""

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias: bool = True,
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
        if output_padding is None:
            self.output_padding = None
        else:
            op = (output_padding,) * 2 if isinstance(output_padding, int) else tuple(int(v) for v in output_padding)
            if len(op) != 2 or any(v < 0 for v in op):
                raise ValueError(f"The `output_padding` argument must be a tuple of 2 non-negative integers. "
                                 f"Received: output_padding={output_padding}")
            self.output_padding = op
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape) -> None:
        check_input_rank(self, input_shape, 4)
        channels = input_shape[-1 if self.data_format == "channels_last" else 1]
        if channels is None:
            raise ValueError(f"Conv2DTranspose {self.name}: the channel dimension of the inputs must be known")
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, training=None):
        if inputs.ndim != 4:
            raise ValueError(f"Conv2DTranspose {self.name}: expected a 4-D input, got shape {tuple(inputs.shape)}")
        x = to_channels_first(as_float(inputs), self.data_format)
        weight = self.kernel.permute(3, 2, 0, 1)  # (in, out, kh, kw): torch's layout, as a view
        y = ops.conv_transpose2d(x, weight, None, self.strides, 0, 0, 1, self.dilation_rate)
        crops, grow = [], []
        for i in range(2):
            k_eff = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            left, right = _transpose_pads(self.kernel_size[i], self.strides[i], self.dilation_rate[i], self.padding,
                                          None if self.output_padding is None else self.output_padding[i])
            cl, cr = k_eff - 1 - left, k_eff - 1 - right
            crops.append(slice(max(cl, 0), y.shape[2 + i] - max(cr, 0)))
            grow.append((max(-cl, 0), max(-cr, 0)))
        y = y[:, :, crops[0], crops[1]]
        if any(g != (0, 0) for g in grow):
            y = pad_hw(y, grow, "constant")
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return self.activation(from_channels_first(y, self.data_format))

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "output_padding": self.output_padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.name_of(self.activation), "use_bias": self.use_bias}


Convolution1D, Convolution2DTranspose = Conv1D, Conv2DTranspose  # Keras' aliases
