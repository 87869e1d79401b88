"""Keras' probabilistic and hinge metrics: the running (weighted) mean of the loss functions of the same
names (crossentropies, KL divergence, Poisson, hinges)."""
from __future__ import annotations

from . import metrics_functions as fns
from .metrics_accuracy import _Wrapped


class BinaryCrossentropy(_Wrapped):
    _config = ("from_logits", "label_smoothing")

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(fns.binary_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(_Wrapped):
    _config = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(fns.categorical_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_Wrapped):
    """With ``ignore_class``, entries of that label count as 0 and, when sample weights are given, weigh
    nothing (Keras masks them)."""

    _config = ("from_logits", "ignore_class", "axis")

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(fns.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


class KLDivergence(_Wrapped):
    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(fn=fns.kl_divergence, name=name, dtype=dtype)


class Poisson(_Wrapped):
    def __init__(self, name="poisson", dtype=None):
        super().__init__(fn=fns.poisson, name=name, dtype=dtype)


class Hinge(_Wrapped):
    def __init__(self, name="hinge", dtype=None):
        super().__init__(fn=fns.hinge, name=name, dtype=dtype)


class SquaredHinge(_Wrapped):
    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(fn=fns.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_Wrapped):
    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(fn=fns.categorical_hinge, name=name, dtype=dtype)
