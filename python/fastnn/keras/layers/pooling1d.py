"""GlobalAveragePooling1D / GlobalMaxPooling1D: a mean / max over the steps axis of (N, steps, C)."""
from __future__ import annotations

from ... import ops
from .base import Layer
from .conv import as_float, normalize_data_format


class GlobalAveragePooling1D(Layer):
    """(N, steps, C) -> (N, C) (or (N, 1, C) with ``keepdims``); channels_first input is (N, C, steps)."""

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.keepdims = bool(keepdims)

    def _check(self, inputs):
        if inputs.ndim != 3:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected ndim=3, "
                             f"found ndim={inputs.ndim}. Full shape received: {tuple(inputs.shape)}")
        return 1 if self.data_format == "channels_last" else 2

    def call(self, inputs, training=None, mask=None):
        axis = self._check(inputs)
        x = as_float(inputs)
        if mask is None:
            return ops.mean(x, axis, keepdim=self.keepdims)
        # Keras: the mean over the kept steps only (mask is (batch, steps))
        keep = mask.to(x.dtype).unsqueeze(2 if axis == 1 else 1)
        return ops.sum(x * keep, axis, keepdim=self.keepdims) / ops.sum(keep, axis, keepdim=self.keepdims)

    def compute_mask(self, inputs, previous_mask=None):
        return None  # the steps axis is gone

    def compute_output_shape(self, input_shape):
        axis = 1 if self.data_format == "channels_last" else 2
        s = list(input_shape)
        if self.keepdims:
            s[axis] = 1
        else:
            del s[axis]
        return tuple(s)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(GlobalAveragePooling1D):
    def call(self, inputs, training=None):
        axis = self._check(inputs)  # Keras' max pooling ignores masks
        return ops.amax(as_float(inputs), axis, keepdim=self.keepdims)


GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D  # Keras' aliases
