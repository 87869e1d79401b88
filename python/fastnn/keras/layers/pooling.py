"""MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D on fastnn's NCHW pooling kernels.

'same' padding follows Keras' torch backend exactly: when every dim pads symmetrically the pad goes to the
kernel (average pooling then leaves the padding out of each window's count), otherwise the input is padded
by repeating its edge row/column ('replicate') and pooled unpadded."""
from __future__ import annotations

from ... import ops
from .base import Layer
from .conv import (as_float, from_channels_first, normalize_data_format, normalize_padding, normalize_tuple, pad_hw,
                   same_padding, to_channels_first)


class _Pooling2D(Layer):
    _op = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)

    def call(self, inputs, training=None):
        if inputs.ndim != 4:
            raise ValueError(f"{type(self).__name__} {self.name}: expected a 4-D input, got shape "
                             f"{tuple(inputs.shape)}")
        x = to_channels_first(as_float(inputs), self.data_format)
        pad = (0, 0)
        if self.padding == "same":
            pads = [same_padding(x.shape[2 + i], self.pool_size[i], self.strides[i]) for i in range(2)]
            if all(a == b for a, b in pads):
                pad = (pads[0][0], pads[1][0])
            else:
                x = pad_hw(x, pads, "replicate")
        elif any(x.shape[2 + i] < self.pool_size[i] for i in range(2)):
            raise ValueError(f"{type(self).__name__} {self.name}: pool_size {self.pool_size} is larger than the "
                             f"input's spatial size {tuple(x.shape[2:])} with padding='valid'")
        return from_channels_first(self._pool(x, pad), self.data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    def _pool(self, x, pad):
        return ops.max_pool2d(x, self.pool_size, self.strides, pad)


class AveragePooling2D(_Pooling2D):
    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)  # no default pool_size in Keras 3

    def _pool(self, x, pad):
        return ops.avg_pool2d(x, self.pool_size, self.strides, pad, count_include_pad=False)


class GlobalAveragePooling2D(Layer):
    """Mean over the spatial dims: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with ``keepdims``."""

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def call(self, inputs, training=None):
        if inputs.ndim != 4:
            raise ValueError(f"GlobalAveragePooling2D {self.name}: expected a 4-D input, got shape "
                             f"{tuple(inputs.shape)}")
        dims = (1, 2) if self.data_format == "channels_last" else (2, 3)
        return ops.mean(as_float(inputs), dims, keepdim=self.keepdims)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    def call(self, inputs, training=None):
        if inputs.ndim != 4:
            raise ValueError(f"GlobalMaxPooling2D {self.name}: expected a 4-D input, got shape {tuple(inputs.shape)}")
        dims = (1, 2) if self.data_format == "channels_last" else (2, 3)
        return ops.amax(as_float(inputs), dims, keepdim=self.keepdims)


# Keras' aliases
MaxPool2D, AvgPool2D, GlobalAvgPool2D, GlobalMaxPool2D = (MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
                                                          GlobalMaxPooling2D)
