"""Keras' accuracy metrics: the running (weighted) mean of keras.metrics' accuracy functions."""
from __future__ import annotations

from . import metrics_functions as fns
from .metrics_base import MeanMetricWrapper


class _Wrapped(MeanMetricWrapper):
    """A MeanMetricWrapper whose config is its name, dtype and the attributes named in ``_config``."""

    _config: tuple = ()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, **{k: getattr(self, k) for k in self._config}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Accuracy(_Wrapped):
    """How often predictions equal the labels."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(fn=fns.accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_Wrapped):
    """How often thresholded predictions (``> threshold``) equal binary labels."""

    _config = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(fn=fns.binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_Wrapped):
    """How often the predictions' argmax equals the one-hot labels' argmax."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(fn=fns.categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_Wrapped):
    """How often the predictions' argmax equals integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(fn=fns.sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_Wrapped):
    """How often the one-hot label is among the ``k`` highest predictions."""

    _config = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(fn=fns.top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_Wrapped):
    """How often the integer label is among the ``k`` highest predictions (or, with ``from_sorted_ids``,
    among the first ``k`` of the predicted ids)."""

    _config = ("k",)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        super().__init__(fn=fns.sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self) -> dict:
        config = super().get_config()
        if self.from_sorted_ids:  # Keras writes the flag only when it is set
            config["from_sorted_ids"] = True
        return config


def compile_accuracy(identifier: str, loss_name: str, output_shape) -> MeanMetricWrapper:
    """compile's 'accuracy' / 'acc': binary, sparse categorical or categorical accuracy, named ``identifier``.
    Keras decides from the targets' and outputs' shapes; the loss and output shape give a first choice,
    and the first batch's targets settle it as Keras' rule does."""
    if (output_shape and output_shape[-1] == 1) or (not output_shape and ("binary" in loss_name
                                                                           or "hinge" in loss_name)):
        m = BinaryAccuracy(name=identifier)
    elif "sparse" in loss_name:
        m = SparseCategoricalAccuracy(name=identifier)
    else:
        m = CategoricalAccuracy(name=identifier)
    m._on_first_update = _settle_accuracy
    return m


def _settle_accuracy(metric, y_true, y_pred) -> None:
    """Keras' rule: binary when the output has one unit, sparse when the targets have a lower rank (or one
    unit against several outputs), categorical otherwise."""
    t_shape = tuple(fns.as_tensor(y_true).shape)
    p_shape = tuple(fns.as_tensor(y_pred).shape)
    if p_shape[-1] == 1:
        cls, fn, kwargs = BinaryAccuracy, fns.binary_accuracy, {"threshold": 0.5}
        metric.threshold = 0.5
    elif len(t_shape) < len(p_shape) or (t_shape[-1] == 1 and p_shape[-1] > 1):
        cls, fn, kwargs = SparseCategoricalAccuracy, fns.sparse_categorical_accuracy, {}
    else:
        cls, fn, kwargs = CategoricalAccuracy, fns.categorical_accuracy, {}
    metric.__class__, metric._fn, metric._fn_kwargs = cls, fn, kwargs
