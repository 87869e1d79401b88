"""keras.regularizers: penalties on weights (``kernel_regularizer=``) and on layer outputs
(``activity_regularizer=``); a layer's ``losses`` collects them and fit adds them to the loss."""
from __future__ import annotations

import math

from .. import creation
from . import _serial
from .layers.base import snake_case


def _non_negative(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isinf(value) or math.isnan(value) \
            or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float.Received: {name}={value}")
    return float(value)


class Regularizer:
    """A callable ``weight -> scalar penalty``; subclasses implement ``__call__`` and ``get_config``."""

    def __call__(self, x):
        return creation.zeros((), dtype=x.dtype, device=x.device)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self) -> dict:
        raise NotImplementedError(f"{self} does not implement get_config()")


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0) -> None:
        self.l1 = _non_negative(0.0 if l1 is None else l1, "l1")
        self.l2 = _non_negative(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        penalty = creation.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * (x * x).sum()
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    def __init__(self, l1=0.01) -> None:
        self.l1 = _non_negative(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return self.l1 * x.abs().sum()

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01) -> None:
        self.l2 = _non_negative(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return self.l2 * (x * x).sum()

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """factor/2 times the mean |cosine| between distinct rows (or columns) of a 2-D weight."""

    def __init__(self, factor=0.01, mode: str = "rows") -> None:
        self.factor = _non_negative(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError('Invalid value for argument `mode`. Expected one of {"rows", "columns"}. '
                             f"Received: mode={mode}")
        self.mode = mode

    def __call__(self, x):
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        v = x if self.mode == "rows" else x.t()
        # Keras' normalize: x / sqrt(max(sum(x^2), eps)), eps = 1e-12 squared-norm floor
        v = v / (v * v).sum(dim=1, keepdim=True).clamp(min=1e-12).sqrt()
        product = v @ v.t()
        size = v.shape[0]
        off_diagonal = product * (1.0 - creation.eye(size, dtype=x.dtype, device=x.device))
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * off_diagonal.abs().sum() / pairs

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer
_OBJECTS = {c.__name__: c for c in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
_OBJECTS.update({snake_case(k): v for k, v in list(_OBJECTS.items())})


def serialize(regularizer):
    return _serial.serialize(regularizer, "keras.regularizers")


def deserialize(config, custom_objects=None):
    return _serial.deserialize(config, _OBJECTS, "regularizer", custom_objects)


def get(identifier):
    """None, a name ('l2'), a serialized dict, a class, or any callable ``weight -> penalty``."""
    return _serial.get(identifier, deserialize, "regularizer")
