"""ReLU and LeakyReLU as layers: Keras' arguments, computed with fastnn's ops exactly as Keras'
``activations.relu`` composes them (so the threshold / max_value / negative_slope corners agree)."""
from __future__ import annotations

from ... import ops
from .base import Layer
from .conv import as_float


class ReLU(Layer):
    """``max_value`` where x >= max_value, x where threshold < x < max_value, negative_slope * (x - threshold)
    otherwise."""
    _passes_masks = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError(f"max_value of a ReLU layer cannot be a negative value. Received: max_value={max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError(f"negative_slope of a ReLU layer cannot be None or a negative value. Received: "
                             f"negative_slope={negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError(f"threshold of a ReLU layer cannot be None or a negative value. Received: "
                             f"threshold={threshold}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs, training=None):
        x = as_float(inputs)
        slope, top, th = float(self.negative_slope), self.max_value, float(self.threshold)
        if slope != 0.0:
            if top is None and th == 0:
                return ops.leaky_relu(x, slope)
            negative = ops.relu(th - x) if th != 0 else ops.relu(-x)
        if th != 0:
            y = ops.where(ops.gt(x, th), x, 0.0)
        else:
            y = ops.relu(x)
        if top is not None:
            y = ops.clamp(y, 0.0, float(top))
        return y - slope * negative if slope != 0.0 else y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """x for x >= 0, negative_slope * x otherwise (Keras 3's default slope 0.3; ``alpha`` is its old name)."""
    _passes_masks = True

    def __init__(self, negative_slope=0.3, **kwargs) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"The negative_slope value of a Leaky ReLU layer cannot be None or negative value. "
                             f"Expected a float. Received: negative_slope={negative_slope}")
        self.negative_slope = negative_slope

    def call(self, inputs, training=None):
        return ops.leaky_relu(as_float(inputs), float(self.negative_slope))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}
