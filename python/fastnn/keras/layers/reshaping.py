"""RepeatVector and UpSampling2D (nearest by repetition, bilinear on fastnn's NCHW interpolate)."""
from __future__ import annotations

from ... import ops
from .base import Layer
from .conv import as_float, from_channels_first, normalize_data_format, normalize_tuple, to_channels_first


class RepeatVector(Layer):
    """(N, F) -> (N, n, F)."""

    def __init__(self, n, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`, got {type(n)}.")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = n

    def call(self, inputs, training=None):
        if inputs.ndim != 2:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected ndim=2, "
                             f"found ndim={inputs.ndim}. Full shape received: {tuple(inputs.shape)}")
        return ops.repeat_interleave(inputs.unsqueeze(1), self.n, dim=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


class UpSampling2D(Layer):
    """Repeats rows and columns ``size`` times ('nearest'), or resizes bilinearly to size * (H, W) (half-pixel
    centres, no antialiasing: Keras' ``ops.image.resize`` on the torch backend)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format)
        self.size = normalize_tuple(size, 2, "size")
        self.interpolation = str(interpolation).lower()
        if self.interpolation not in ("nearest", "bilinear"):
            raise NotImplementedError(f"UpSampling2D: interpolation={interpolation!r} is not supported by "
                                      "fastnn.keras (use 'nearest' or 'bilinear')")

    def call(self, inputs, training=None):
        if inputs.ndim != 4:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected ndim=4, "
                             f"found ndim={inputs.ndim}. Full shape received: {tuple(inputs.shape)}")
        if self.interpolation == "nearest":
            h, w = (1, 2) if self.data_format == "channels_last" else (2, 3)
            y = ops.repeat_interleave(inputs, self.size[0], dim=h) if self.size[0] > 1 else inputs
            return ops.repeat_interleave(y, self.size[1], dim=w) if self.size[1] > 1 else y
        x = to_channels_first(as_float(inputs), self.data_format)
        out = (x.shape[2] * self.size[0], x.shape[3] * self.size[1])
        y = ops.interpolate(x, size=out, mode="bilinear", align_corners=False)
        return from_channels_first(y, self.data_format)

    def compute_output_shape(self, input_shape):
        s = list(input_shape)
        h, w = (1, 2) if self.data_format == "channels_last" else (2, 3)
        s[h] = None if s[h] is None else s[h] * self.size[0]
        s[w] = None if s[w] is None else s[w] * self.size[1]
        return tuple(s)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}
