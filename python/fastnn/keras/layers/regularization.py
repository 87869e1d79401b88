"""Regularization layers: SpatialDropout1D/2D/3D (whole channels), GaussianNoise, GaussianDropout, AlphaDropout
and ActivityRegularization, with Keras' arguments. The random layers are the identity at inference; in
training they draw their noise from fastnn's generator (a private, seeded one when ``seed`` is given, as
Keras' SeedGenerator) and compute with fastnn ops, so gradients flow through the kept values."""
from __future__ import annotations

import math

from ... import creation
from ...random import Generator
from .base import Layer
from .conv import check_input_rank, normalize_data_format


def _check_rate(rate, name: str = "rate") -> None:
    if not 0 <= rate <= 1:
        raise ValueError(f"Invalid value received for argument `{name}`. Expected a float value between 0 and 1. "
                         f"Received: {name}={rate}")


class _RandomLayer(Layer):
    """Holds the layer's random stream: a private Generator seeded with ``seed``, or fastnn's global one."""

    def _make_stream(self, seed) -> None:
        self.supports_masking = True  # the noise keeps every step: masks pass through, as in Keras
        self.seed = seed
        self.__dict__["_generator"] = None if seed is None else Generator().manual_seed(int(seed))

    def _draw(self, kind: str, shape, like):
        draw = creation.rand if kind == "uniform" else creation.randn
        noise = draw(*shape, generator=self.__dict__["_generator"], dtype=like.dtype.name)
        return noise if noise.device == like.device else noise.to(like.device)


class _SpatialDropout(_RandomLayer):
    """Drops whole channels: one keep/drop draw per (sample, channel), broadcast over the other axes; the kept
    values are scaled by 1 / (1 - rate)."""

    _rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        _check_rate(rate)
        self.rate = rate
        self._make_stream(seed)
        self.data_format = "channels_last"

    def call(self, inputs, training=False):
        check_input_rank(self, inputs.shape, self._rank + 2)
        if not training or self.rate == 0:
            return inputs
        shape = [1] * inputs.ndim
        shape[0] = inputs.shape[0]
        channel = 1 if self.data_format == "channels_first" else inputs.ndim - 1
        shape[channel] = inputs.shape[channel]
        keep = self._draw("uniform", shape, inputs) >= self.rate
        scale = 0.0 if self.rate == 1 else 1.0 / (1.0 - self.rate)
        return inputs * (keep.to(inputs.dtype) * scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {"rate": self.rate, "seed": self.seed, "name": self.name}


class SpatialDropout1D(_SpatialDropout):
    _rank = 1


class _ChannelsDropout(_SpatialDropout):
    """SpatialDropout2D/3D: the channel axis given by ``data_format``."""

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None) -> None:
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = normalize_data_format(data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout2D(_ChannelsDropout):
    _rank = 2


class SpatialDropout3D(_ChannelsDropout):
    _rank = 3


class GaussianNoise(_RandomLayer):
    """inputs + N(0, stddev^2) noise in training."""

    def __init__(self, stddev, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        _check_rate(stddev, "stddev")
        self.stddev = stddev
        self._make_stream(seed)

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            return inputs + self._draw("normal", inputs.shape, inputs) * float(self.stddev)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_RandomLayer):
    """inputs * N(1, rate / (1 - rate)) noise in training."""

    def __init__(self, rate, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        _check_rate(rate)
        self.rate = rate
        self._make_stream(seed)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            return inputs * (self._draw("normal", inputs.shape, inputs) * stddev + 1.0)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(_RandomLayer):
    """SELU-preserving dropout: dropped values become -alpha * scale, then a x + b restores the mean and
    variance (Keras' formula). ``noise_shape`` entries of None take the input's size."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        _check_rate(rate)
        self.rate = rate
        self.noise_shape = noise_shape
        self._make_stream(seed)

    def call(self, inputs, training=False):
        if not (training and self.rate > 0):
            return inputs
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        kept = (self._draw("uniform", shape, inputs) >= self.rate).to(inputs.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        x = inputs * kept + (1.0 - kept) * alpha_p
        return x * a + b

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}


class ActivityRegularization(Layer):
    """The identity, with an L1L2(l1, l2) activity regularizer: each call adds (l1 * sum|x| + l2 * sum x^2) /
    batch_size to the layer's ``losses`` (the base layer's activity-regularizer path, as Keras')."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs) -> None:
        from .. import regularizers

        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1, self.l2 = l1, l2
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
