"""keras.constraints: projections applied to a weight after each optimizer update
(``kernel_constraint=``). A weight's constraint is recorded by ``Layer.add_weight``; the Keras optimizers
apply it after their step (``apply_constraints``)."""
from __future__ import annotations

import weakref

from ..autograd.grad_mode import no_grad
from . import _serial
from .layers.base import snake_case

_EPSILON = 1e-7  # keras.config.epsilon(): keeps the rescale finite on an all-zero column


def _norms(w, axis):
    dims = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return (w * w).sum(dim=dims, keepdim=True).sqrt()


class Constraint:
    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return w * (norms.clamp(0, self.max_value) / (_EPSILON + norms))

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return w.clamp(min=0)


class UnitNorm(Constraint):
    def __init__(self, axis=0) -> None:
        self.axis = axis

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0) -> None:
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self) -> dict:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
_OBJECTS = {c.__name__: c for c in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_OBJECTS.update({snake_case(k): v for k, v in list(_OBJECTS.items())})


def serialize(constraint):
    return _serial.serialize(constraint, "keras.constraints")


def deserialize(config, custom_objects=None):
    return _serial.deserialize(config, _OBJECTS, "constraint", custom_objects)


def get(identifier):
    return _serial.get(identifier, deserialize, "constraint")


# A weight's constraint, keyed by the weight's identity (fastnn Parameters are PyTorch's and carry no Keras
# attributes); the entry goes when the weight does.
_of_weight: dict[int, Constraint] = {}


def attach(weight, constraint) -> None:
    if constraint is None:
        return
    key = id(weight)
    _of_weight[key] = constraint
    weakref.finalize(weight, _of_weight.pop, key, None)


def constraint_of(weight):
    return _of_weight.get(id(weight))


def apply_constraints(weights) -> None:
    """Projects each constrained weight in place (after an optimizer step, as Keras' optimizers do)."""
    if not _of_weight:
        return
    with no_grad():
        for w in weights:
            c = _of_weight.get(id(w))
            if c is not None:
                w.copy_(c(w))
