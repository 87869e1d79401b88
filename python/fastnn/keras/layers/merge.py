"""Merge layers for the functional API, called on a list of tensors: Concatenate, Add, Subtract, Multiply,
Average, Maximum, Minimum (and Keras' lowercase functional forms ``concatenate([a, b])`` etc.)."""
from __future__ import annotations

from functools import reduce

import numpy as np

from ... import creation, ops
from ..._tensor import Tensor
from ..masking import all_of
from ..device_scope import get_device
from .base import Layer


def _tensors(inputs, name: str, exactly: int | None = None):
    if not isinstance(inputs, (list, tuple)):
        raise ValueError(f"A merge layer should be called on a list of inputs. Received: inputs={inputs} (not a "
                         "list of tensors)")
    if exactly is not None and len(inputs) != exactly:
        raise ValueError(f"A `{name}` layer should be called on exactly {exactly} inputs. Received: "
                         f"inputs={len(inputs)}")
    if len(inputs) < 1:
        raise ValueError(f"A `{name}` layer should be called on a list of at least 1 input. Received: "
                         f"input_shape={inputs}")
    return [t if isinstance(t, Tensor) else creation.tensor(np.asarray(t), device=get_device()) for t in inputs]


class _Merge(Layer):
    _arity = None

    def compute_mask(self, inputs, previous_mask=None):
        """Keras: a step is kept when every input that has a mask keeps it."""
        return all_of(previous_mask) if isinstance(previous_mask, list) else previous_mask

    def call(self, inputs, training=None):
        xs = _tensors(inputs, type(self).__name__, self._arity)
        shapes = {tuple(x.shape[1:]) for x in xs}
        if len(shapes) > 1:
            try:
                np.broadcast_shapes(*shapes)
            except ValueError:
                raise ValueError(f"Inputs have incompatible shapes. Received shapes {sorted(shapes)}") from None
        return self._merge(xs)


class Add(_Merge):
    def _merge(self, xs):
        return reduce(ops.add, xs)


class Subtract(_Merge):
    _arity = 2

    def _merge(self, xs):
        return ops.sub(xs[0], xs[1])


class Multiply(_Merge):
    def _merge(self, xs):
        return reduce(ops.mul, xs)


class Average(_Merge):
    def _merge(self, xs):
        return reduce(ops.add, xs) * (1.0 / len(xs))


class Maximum(_Merge):
    def _merge(self, xs):
        return reduce(ops.maximum, xs)


class Minimum(_Merge):
    def _merge(self, xs):
        return reduce(ops.minimum, xs)


class Concatenate(Layer):
    """Joins the inputs along ``axis`` (the last by default); all other dims must match."""

    def __init__(self, axis: int = -1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs, training=None):
        xs = _tensors(inputs, "Concatenate")
        ndim = xs[0].ndim
        axis = self.axis % ndim if -ndim <= self.axis < ndim else None
        if axis is None:
            raise ValueError(f"Concatenate {self.name}: invalid axis {self.axis} for inputs of rank {ndim}")
        for x in xs:
            if x.ndim != ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape)) if i != axis):
                raise ValueError(f"A `Concatenate` layer requires inputs with matching shapes except for the "
                                 f"concatenation axis. Received: input_shape={[tuple(t.shape) for t in xs]}")
        if len({x.dtype.name for x in xs}) > 1:
            xs = [x.float() for x in xs]
        return ops.cat(xs, axis)

    def compute_mask(self, inputs, previous_mask=None):
        # Keras: joining features keeps a step where every masked input keeps it (a per-step mask)
        return all_of(previous_mask) if isinstance(previous_mask, list) else previous_mask

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis: int = -1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)
