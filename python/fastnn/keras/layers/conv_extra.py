"""Conv3D, Conv1DTranspose, Conv3DTranspose, DepthwiseConv1D/2D and SeparableConv1D/2D on fastnn's
conv1d / conv2d / conv3d and conv_transpose1d / 2d / 3d ops, for any rank through one set of helpers.

As Conv2D (layers/conv.py): kernels live in Keras' layouts so ``set_weights(get_weights())`` trades arrays
with Keras unchanged, and are handed to the ops as permuted views in torch's layout; channels-last inputs
are permuted to channels-first views. 'same' padding is Keras' (the odd zero at the end), given to the op
when symmetric and cat'ed on as zeros otherwise. A depthwise kernel (k..., C, M) is torch's grouped weight
(C * M, 1, k...) with groups=C (output channel c * M + m); a separable convolution is that depthwise
convolution (strides, dilation, no bias) followed by the 1x1 pointwise one, then the bias. Transposed
convolutions follow Keras' torch backend: the full transposed convolution (padding 0), cropped per side
(a negative crop pads zeros), then the bias."""
from __future__ import annotations

import importlib

from ... import ops
from ...ops.conv3d import conv3d, conv_transpose3d
from ...ops.padding import pad as _pad
from .. import activations, constraints, regularizers
from .base import Layer
from .conv import as_float, check_input_rank, check_strides_and_groups, normalize_data_format, normalize_tuple
from .conv import check_positive, same_padding
from .conv_more import _transpose_pads

_CONV = {1: ops.conv1d, 2: ops.conv2d, 3: conv3d}
_CONV_T = {1: ops.conv_transpose1d, 2: ops.conv_transpose2d, 3: conv_transpose3d}


def _serialize(module_name: str, value):
    """Keras' serialized form where the namespace offers ``serialize``, else the constructor argument."""
    if value is None:
        return None
    ser = getattr(importlib.import_module(f"fastnn.keras.{module_name}"), "serialize", None)
    if ser is None:
        return value
    try:
        return ser(value)
    except (TypeError, ValueError):
        return value


def channels_first(x, rank: int, data_format: str):
    """(N, *spatial, C) -> (N, C, *spatial) as a view (channels_first input passes through)."""
    return x.permute(0, rank + 1, *range(1, rank + 1)) if data_format == "channels_last" else x


def channels_last(y, rank: int, data_format: str):
    return y.permute(0, *range(2, rank + 2), 1) if data_format == "channels_last" else y


def torch_kernel(kernel, rank: int):
    """Keras (k..., a, b) -> torch (b, a, k...) as a view."""
    return kernel.permute(rank + 1, rank, *range(rank))


def pad_spatial(x, pads):
    """Zero-pads the spatial dims of an (N, C, *spatial) tensor by [(before, after), ...]."""
    flat = []
    for before, after in reversed(pads):
        flat += [before, after]
    return _pad(x, flat)


def conv_nd(x, weight, bias, strides, padding: str, dilation, groups: int, rank: int):
    """Keras' convolution of a channels-first x with a torch-layout weight: padding 'valid', 'same' or
    'causal' (left zeros (k - 1) * d, rank 1)."""
    k = weight.shape[2:]
    if padding == "same":
        pads = [same_padding(x.shape[2 + i], k[i], strides[i], dilation[i]) for i in range(rank)]
    elif padding == "causal":
        pads = [((k[0] - 1) * dilation[0], 0)]
    else:
        pads = [(0, 0)] * rank
    if all(a == b for a, b in pads):
        sym = tuple(a for a, _ in pads)
    else:
        x, sym = pad_spatial(x, pads), (0,) * rank
    return _CONV[rank](x, weight, bias, strides, sym if rank > 1 else sym[0], dilation, groups)


def _padding_arg(padding, allow_causal: bool) -> str:
    p = str(padding).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if p not in allowed:
        raise ValueError(f"The `padding` argument must be a list/tuple or one of {', '.join(allowed)}. "
                         f"Received: {padding}")
    return p


def _positive(value, name: str) -> None:
    if value is not None:
        check_positive(value, name)


class _SpatialLayer(Layer):
    """Shared argument handling: the rank's tuples, padding, data_format, activation, bias, and the
    regularizer / constraint arguments (handed to add_weight; activity_regularizer to Layer)."""
    _rank = 2
    _causal = False

    def _setup(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias) -> None:
        r = self._rank
        self.kernel_size = normalize_tuple(kernel_size, r, "kernel_size")
        self.strides = normalize_tuple(strides, r, "strides")
        self.padding = _padding_arg(padding, self._causal)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, r, "dilation_rate")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)

    def _channels(self, input_shape):
        check_input_rank(self, input_shape, self._rank + 2)
        c = input_shape[-1 if self.data_format == "channels_last" else 1]
        if c is None:
            raise ValueError(f"{type(self).__name__} {self.name}: the channel dimension of the inputs should be "
                             f"defined. Received input shape {tuple(input_shape)}")
        return c

    def _weight(self, name, shape, initializer, regularizer, constraint):
        kw = {}
        if regularizer is not None:
            kw["regularizer"] = regularizer
        if constraint is not None:
            kw["constraint"] = constraint
        return self.add_weight(shape=shape, initializer=initializer, name=name, **kw)

    def _input(self, inputs):
        if inputs.ndim != self._rank + 2:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                             f"ndim={self._rank + 2}, found ndim={inputs.ndim}. Full shape received: "
                             f"{tuple(inputs.shape)}")
        return channels_first(as_float(inputs), self._rank, self.data_format)

    def _finish(self, y, bias):
        if bias is not None:
            y = y + bias.reshape(1, -1, *([1] * self._rank))
        return self.activation(channels_last(y, self._rank, self.data_format))

    def _weight_args(self, prefix: str, initializer, regularizer, constraint) -> None:
        """``<prefix>_initializer`` / ``_regularizer`` / ``_constraint`` (the latter two resolved by ``get``)."""
        setattr(self, f"{prefix}_initializer", initializer)
        setattr(self, f"{prefix}_regularizer", regularizers.get(regularizer))
        setattr(self, f"{prefix}_constraint", constraints.get(constraint))

    def _weight_config(self, *prefixes: str) -> dict:
        """Keras' initializer, regularizer (with activity_regularizer) and constraint keys of the weights
        named by ``prefixes``, in Keras' order."""
        cfg = {f"{p}_initializer": _serialize("initializers", getattr(self, f"{p}_initializer")) for p in prefixes}
        cfg.update({f"{p}_regularizer": _serialize("regularizers", getattr(self, f"{p}_regularizer"))
                    for p in prefixes})
        cfg["activity_regularizer"] = _serialize("regularizers", self.activity_regularizer)
        cfg.update({f"{p}_constraint": _serialize("constraints", getattr(self, f"{p}_constraint")) for p in prefixes})
        return cfg

    def _base_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.name_of(self.activation), "use_bias": self.use_bias}


class _ConvND(_SpatialLayer):
    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups: int = 1, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _positive(filters, "filters")
        self.filters = filters
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        check_strides_and_groups(self.strides, self.dilation_rate, groups, filters)
        self.groups = groups
        self._weight_args("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        self._weight_args("bias", bias_initializer, bias_regularizer, bias_constraint)

    def build(self, input_shape) -> None:
        c = self._channels(input_shape)
        if c % self.groups:
            raise ValueError(f"The number of input channels must be evenly divisible by the number of groups. "
                             f"Received groups={self.groups}, but the input has {c} channels (full input shape "
                             f"is {tuple(input_shape)}).")
        self.kernel = self._weight("kernel", self.kernel_size + (c // self.groups, self.filters),
                                   self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint)
        self.bias = self._weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                                 self.bias_constraint) if self.use_bias else None

    def call(self, inputs):
        x = self._input(inputs)
        y = conv_nd(x, torch_kernel(self.kernel, self._rank), self.bias, self.strides, self.padding,
                    self.dilation_rate, self.groups, self._rank)
        return self._finish(y, None)

    def get_config(self) -> dict:
        return {**self._base_config(), "filters": self.filters, "groups": self.groups,
                **self._weight_config("kernel", "bias")}


class Conv3D(_ConvND):
    """3-D convolution over (N, D, H, W, C) (or (N, C, D, H, W) channels_first)."""
    _rank = 3

    def __init__(self, filters: int, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1, 1), groups: int = 1, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, groups, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class _ConvTransposeND(_SpatialLayer):
    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _positive(filters, "filters")
        self.filters = filters
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        if output_padding is None:
            self.output_padding = None
        else:
            r = self._rank
            op = (output_padding,) * r if isinstance(output_padding, int) else tuple(int(v) for v in output_padding)
            if len(op) != r or any(v < 0 for v in op):
                raise ValueError(f"The `output_padding` argument must be a tuple of {r} non-negative integers. "
                                 f"Received: output_padding={output_padding}")
            for i, (o, s) in enumerate(zip(op, self.strides)):
                if o >= s:
                    raise ValueError(f"`output_padding` must be strictly less than `strides` for all dimensions. "
                                     f"At dimension {i}, `output_padding` is {o} but `strides` is {s}. Received: "
                                     f"output_padding={op}, strides={self.strides}")
            self.output_padding = op
        self._weight_args("kernel", kernel_initializer, kernel_regularizer, kernel_constraint)
        self._weight_args("bias", bias_initializer, bias_regularizer, bias_constraint)

    def build(self, input_shape) -> None:
        c = self._channels(input_shape)
        self.kernel = self._weight("kernel", self.kernel_size + (self.filters, c), self.kernel_initializer,
                                   self.kernel_regularizer, self.kernel_constraint)
        self.bias = self._weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                                 self.bias_constraint) if self.use_bias else None

    def call(self, inputs):
        x = self._input(inputs)
        r = self._rank
        y = _CONV_T[r](x, torch_kernel(self.kernel, r), None, self.strides, 0, 0, 1, self.dilation_rate)
        crops, grow = [slice(None), slice(None)], []
        for i in range(r):
            k_eff = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            left, right = _transpose_pads(self.kernel_size[i], self.strides[i], self.dilation_rate[i], self.padding,
                                          None if self.output_padding is None else self.output_padding[i])
            cl, cr = k_eff - 1 - left, k_eff - 1 - right
            crops.append(slice(max(cl, 0), y.shape[2 + i] - max(cr, 0)))
            grow.append((max(-cl, 0), max(-cr, 0)))
        y = y[tuple(crops)]
        if any(g != (0, 0) for g in grow):
            y = pad_spatial(y, grow)
        return self._finish(y, self.bias)

    def get_config(self) -> dict:
        return {**self._base_config(), "filters": self.filters, "output_padding": self.output_padding,
                **self._weight_config("kernel", "bias")}


class Conv1DTranspose(_ConvTransposeND):
    """Transposed 1-D convolution over (N, steps, C); output length (L - 1) * s + max(k_eff, s) ('valid')
    or L * s ('same'), plus ``output_padding`` when given."""
    _rank = 1


class Conv3DTranspose(_ConvTransposeND):
    """Transposed 3-D convolution over (N, D, H, W, C) (Keras' argument order: data_format before
    output_padding)."""
    _rank = 3

    def __init__(self, filters: int, kernel_size, strides=(1, 1, 1), padding="valid", data_format=None,
                 output_padding=None, dilation_rate=(1, 1, 1), activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, output_padding, data_format, dilation_rate,
                         activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                         bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint, **kwargs)


class _DepthwiseND(_SpatialLayer):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier: int = 1, data_format=None,
                 dilation_rate=1, activation=None, use_bias: bool = True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _positive(depth_multiplier, "depth_multiplier")
        self.depth_multiplier = depth_multiplier
        self._setup(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias)
        self._weight_args("depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint)
        self._weight_args("bias", bias_initializer, bias_regularizer, bias_constraint)

    def build(self, input_shape) -> None:
        c = self._channels(input_shape)
        self.kernel = self._weight("kernel", self.kernel_size + (c, self.depth_multiplier),
                                   self.depthwise_initializer, self.depthwise_regularizer, self.depthwise_constraint)
        self.bias = self._weight("bias", (c * self.depth_multiplier,), self.bias_initializer, self.bias_regularizer,
                                 self.bias_constraint) if self.use_bias else None

    def _depthwise(self, x, kernel):
        """(k..., C, M) kernel as torch's (C * M, 1, k...) grouped weight, groups = C."""
        c, m = kernel.shape[-2], kernel.shape[-1]
        w = torch_kernel(kernel.reshape(*self.kernel_size, 1, c * m), self._rank)
        return conv_nd(x, w, None, self.strides, self.padding, self.dilation_rate, c, self._rank)

    def call(self, inputs):
        return self._finish(self._depthwise(self._input(inputs), self.kernel), self.bias)

    def get_config(self) -> dict:
        return {**self._base_config(), "depth_multiplier": self.depth_multiplier,
                **self._weight_config("depthwise", "bias")}


class DepthwiseConv1D(_DepthwiseND):
    """Each input channel convolved with its own ``depth_multiplier`` filters: (N, L, C) -> (N, L', C * M)."""
    _rank = 1


class DepthwiseConv2D(_DepthwiseND):
    """Each input channel convolved with its own ``depth_multiplier`` filters: (N, H, W, C) -> (..., C * M)."""
    _rank = 2

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier: int = 1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias: bool = True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None, bias_constraint=None,
                 **kwargs) -> None:
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                         bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class _SeparableND(_DepthwiseND):
    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier: int = 1, activation=None, use_bias: bool = True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs) -> None:
        _positive(filters, "filters")
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                         bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)
        self.filters = filters
        self._weight_args("pointwise", pointwise_initializer, pointwise_regularizer, pointwise_constraint)

    def build(self, input_shape) -> None:
        c = self._channels(input_shape)
        m = self.depth_multiplier
        self.depthwise_kernel = self._weight("depthwise_kernel", self.kernel_size + (c, m),
                                             self.depthwise_initializer, self.depthwise_regularizer,
                                             self.depthwise_constraint)
        self.pointwise_kernel = self._weight("pointwise_kernel", (1,) * self._rank + (c * m, self.filters),
                                             self.pointwise_initializer, self.pointwise_regularizer,
                                             self.pointwise_constraint)
        self.bias = self._weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                                 self.bias_constraint) if self.use_bias else None

    def call(self, inputs):
        y = self._depthwise(self._input(inputs), self.depthwise_kernel)
        r = self._rank
        y = _CONV[r](y, torch_kernel(self.pointwise_kernel, r), None, 1, 0, 1, 1)
        return self._finish(y, self.bias)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg.update({"filters": self.filters,
                    "pointwise_initializer": _serialize("initializers", self.pointwise_initializer),
                    "pointwise_regularizer": _serialize("regularizers", self.pointwise_regularizer),
                    "pointwise_constraint": _serialize("constraints", self.pointwise_constraint)})
        return cfg


class SeparableConv1D(_SeparableND):
    """Depthwise 1-D convolution then a pointwise (1x1) one mixing channels into ``filters``."""
    _rank = 1


class SeparableConv2D(_SeparableND):
    """Depthwise 2-D convolution then a pointwise (1x1) one mixing channels into ``filters``."""
    _rank = 2

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier: int = 1, activation=None, use_bias: bool = True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
                         activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
                         depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, pointwise_constraint, bias_constraint, **kwargs)


# Keras' aliases
Convolution3D = Conv3D
Convolution1DTranspose, Convolution3DTranspose = Conv1DTranspose, Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
