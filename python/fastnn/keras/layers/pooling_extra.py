"""MaxPooling1D/3D, AveragePooling1D/3D, GlobalAveragePooling3D / GlobalMaxPooling3D and the adaptive
pools (1D/2D/3D) on fastnn's pooling ops (3-D ones from ops/pool3d.py).

'same' padding is Keras' torch backend's, as the 2-D pools (layers/pooling.py): a symmetric pad goes to the
op (the average then leaves the padding out of each window's count), an asymmetric one pads the input by
repeating its edges and pools unpadded. Adaptive pools are torch's: output cell i covers
[floor(i * L / out), ceil((i + 1) * L / out)) along each axis."""
from __future__ import annotations

from ... import ops
from ...ops import pool3d
from ...ops.padding import pad as _pad
from .base import Layer
from .conv import as_float, normalize_data_format, normalize_tuple, same_padding
from .conv_extra import channels_first, channels_last


def _avg1d(x, k, s, p):
    return ops.avg_pool1d(x, k, s, p, count_include_pad=False)


def _avg2d(x, k, s, p):
    return ops.avg_pool2d(x, k, s, p, count_include_pad=False)


def _avg3d(x, k, s, p):
    return pool3d.avg_pool3d(x, k, s, p, count_include_pad=False)


_MAX = {1: ops.max_pool1d, 2: ops.max_pool2d, 3: pool3d.max_pool3d}
_AVG = {1: _avg1d, 2: _avg2d, 3: _avg3d}


def _check_ndim(layer, inputs, ndim: int) -> None:
    if inputs.ndim != ndim:
        raise ValueError(f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected ndim={ndim}, "
                         f"found ndim={inputs.ndim}. Full shape received: {tuple(inputs.shape)}")


class _PoolingND(Layer):
    _rank = 1
    _ops = _MAX

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        r = self._rank
        self.pool_size = normalize_tuple(pool_size, r, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, r, "strides")
        p = str(padding).lower()
        if p not in ("valid", "same"):
            raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: padding={padding}")
        self.padding = p
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs):
        r = self._rank
        _check_ndim(self, inputs, r + 2)
        x = channels_first(as_float(inputs), r, self.data_format)
        pads = (0,) * r
        if self.padding == "same":
            pairs = [same_padding(x.shape[2 + i], self.pool_size[i], self.strides[i]) for i in range(r)]
            if all(a == b for a, b in pairs):
                pads = tuple(a for a, _ in pairs)
            else:
                flat = [v for pair in reversed(pairs) for v in pair]
                x = _pad(x, flat, mode="replicate")
        y = self._ops[r](x, self.pool_size if r > 1 else self.pool_size[0],
                         self.strides if r > 1 else self.strides[0], pads if r > 1 else pads[0])
        return channels_last(y, r, self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_PoolingND):
    """Max over windows of ``pool_size`` steps: (N, steps, C) -> (N, steps', C)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_PoolingND):
    """Mean over windows of ``pool_size`` steps (padding left out of the count)."""
    _ops = _AVG


class MaxPooling3D(_PoolingND):
    """Max over (D, H, W) windows of (N, D, H, W, C) (or channels_first) volumes."""
    _rank = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(_PoolingND):
    """Mean over (D, H, W) windows (padding left out of the count)."""
    _rank = 3
    _ops = _AVG


class GlobalAveragePooling3D(Layer):
    """Mean over the spatial dims: (N, D, H, W, C) -> (N, C), or (N, 1, 1, 1, C) with ``keepdims``."""

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _dims(self, inputs):
        _check_ndim(self, inputs, 5)
        return (1, 2, 3) if self.data_format == "channels_last" else (2, 3, 4)

    def call(self, inputs):
        return ops.mean(as_float(inputs), self._dims(inputs), keepdim=self.keepdims)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling3D(GlobalAveragePooling3D):
    """Max over the spatial dims of a 5-D input."""

    def call(self, inputs):
        return ops.amax(as_float(inputs), self._dims(inputs), keepdim=self.keepdims)


def _output_size(value, rank: int) -> tuple:
    """Keras' checks: an int (repeated) or a tuple/list of ``rank`` ints."""
    if isinstance(value, int):
        return (value,) * rank
    if isinstance(value, (tuple, list)):
        if len(value) == rank:
            return tuple(value)
        if rank == 1:
            raise ValueError(f"For 1D input, `output_size` tuple must have length 1. Received: {value}")
    names = {1: "tuple of 1 integer", 2: "(height, width) tuple", 3: "(depth, height, width) tuple"}
    raise TypeError(f"`output_size` must be an integer or {names[rank]}. Received: {value} of type {type(value)}")


_ADAPTIVE_AVG = {1: ops.adaptive_avg_pool1d, 2: ops.adaptive_avg_pool2d, 3: pool3d.adaptive_avg_pool3d}
_ADAPTIVE_MAX = {1: ops.adaptive_max_pool1d, 2: ops.adaptive_max_pool2d, 3: pool3d.adaptive_max_pool3d}


class _AdaptivePoolingND(Layer):
    _rank = 1
    _ops = _ADAPTIVE_AVG

    def __init__(self, output_size, data_format=None, **kwargs) -> None:
        self.output_size = _output_size(output_size, self._rank)
        super().__init__(**kwargs)
        fmt = "channels_last" if data_format is None else data_format
        if fmt not in ("channels_first", "channels_last"):
            raise ValueError(f"Invalid data_format: {data_format}. Expected 'channels_first' or 'channels_last'.")
        self.data_format = fmt

    def call(self, inputs):
        r = self._rank
        _check_ndim(self, inputs, r + 2)
        x = channels_first(as_float(inputs), r, self.data_format)
        y = self._ops[r](x, self.output_size if r > 1 else self.output_size[0])
        return channels_last(y, r, self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "output_size": self.output_size, "data_format": self.data_format}


class AdaptiveAveragePooling1D(_AdaptivePoolingND):
    """Mean over ``output_size`` adaptive windows of the steps axis."""


class AdaptiveAveragePooling2D(_AdaptivePoolingND):
    """Mean over an ``output_size`` grid of adaptive windows."""
    _rank = 2


class AdaptiveAveragePooling3D(_AdaptivePoolingND):
    """Mean over an ``output_size`` (depth, height, width) grid of adaptive windows."""
    _rank = 3


class AdaptiveMaxPooling1D(_AdaptivePoolingND):
    """Max over ``output_size`` adaptive windows of the steps axis."""
    _ops = _ADAPTIVE_MAX


class AdaptiveMaxPooling2D(_AdaptivePoolingND):
    """Max over an ``output_size`` grid of adaptive windows."""
    _rank = 2
    _ops = _ADAPTIVE_MAX


class AdaptiveMaxPooling3D(_AdaptivePoolingND):
    """Max over an ``output_size`` (depth, height, width) grid of adaptive windows."""
    _rank = 3
    _ops = _ADAPTIVE_MAX


# Keras' aliases
MaxPool1D, MaxPool3D, AvgPool1D, AvgPool3D = MaxPooling1D, MaxPooling3D, AveragePooling1D, AveragePooling3D
GlobalAvgPool3D, GlobalMaxPool3D = GlobalAveragePooling3D, GlobalMaxPooling3D
