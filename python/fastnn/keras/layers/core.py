"""Core layers: Dense, Activation, Flatten, Dropout, Reshape."""
from __future__ import annotations

import math

from ... import ops
from .. import activations
from .base import Layer
from .seeded import dropout as seeded_dropout, make_stream, stream, uniform_like


class Dense(Layer):
    """activation(x · kernel + bias) on the last axis; ``kernel`` is (in, units) as in Keras. The bias and a
    ReLU run fused in the GEMM's epilogue."""
    _passes_masks = True

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._preset_weights(kernel=(kernel_regularizer, kernel_constraint), bias=(bias_regularizer, bias_constraint))
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. Received: "
                             f"units={units}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape) -> None:
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Dense {self.name}: the last dimension of the inputs must be known, got {input_shape}")
        self.kernel = self.add_weight("kernel", (in_dim, self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) if self.use_bias else None

    def call(self, inputs, training=None):
        if inputs.dtype.name != "float32" and inputs.dtype.name != "float64":
            inputs = inputs.float()
        fused = "relu" if self.activation is ops.relu else None
        y = ops.linear(inputs, self.kernel.t(), self.bias, activation=fused)
        return y if fused else self.activation(y)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": activations.name_of(self.activation),
                "use_bias": self.use_bias}


class Activation(Layer):
    _passes_masks = True
    def __init__(self, activation, **kwargs) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=None):
        return self.activation(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.name_of(self.activation)}


class Flatten(Layer):
    def call(self, inputs, training=None):
        return ops.reshape(inputs, inputs.shape[0], -1) if inputs.ndim != 2 else inputs


class Dropout(Layer):
    _passes_masks = True
    def __init__(self, rate: float, noise_shape=None, seed=None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate}")
        self.rate = rate
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        make_stream(self, seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        with stream(self):
            if self.noise_shape is None:
                return seeded_dropout(inputs, self.rate)
            # one keep/drop draw per entry of noise_shape (None: the input's size), broadcast over the rest
            shape = tuple(s if n is None else n for s, n in zip(inputs.shape, self.noise_shape))
            keep = uniform_like(shape, inputs, inputs.dtype.name) >= self.rate
            scale = 1.0 / (1.0 - self.rate) if self.rate < 1 else 0.0
            return inputs * (keep.to(inputs.dtype) * scale)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(1 for s in self.target_shape if s == -1) > 1:
            raise ValueError(f"There must be at most one unknown dimension (-1) in target_shape, got "
                             f"{self.target_shape}")

    def call(self, inputs, training=None):
        n = math.prod(inputs.shape[1:])
        known = math.prod(s for s in self.target_shape if s != -1)
        if (-1 not in self.target_shape and known != n) or (-1 in self.target_shape and (known == 0 or n % known)):
            raise ValueError(f"Reshape {self.name}: total size of the new array must be unchanged, input_shape = "
                             f"{list(inputs.shape[1:])}, output_shape = {list(self.target_shape)}")
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}
