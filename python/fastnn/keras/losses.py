"""Keras losses: each maps (y_true, y_pred) to one loss per sample (the mean over the last axis where Keras
takes it); the model reduces them 'sum_over_batch_size' with optional sample weights. Probabilities are
clipped to [1e-7, 1 - 1e-7] before the log, as Keras does.

Targets are often host data (NumPy batches); they become tensors on the predictions' device."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import backend_of
from ..creation import tensor as _tensor
from .._tensor import Tensor

EPSILON = 1e-7


def _float_target(y_true, y_pred) -> Tensor:
    if not isinstance(y_true, Tensor):
        y_true = _tensor(np.asarray(y_true), device=y_pred.device)
    if y_true.dtype is not y_pred.dtype:
        y_true = y_true.to(y_pred.dtype)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        if y_true.numel() == y_pred.numel():  # (N,) targets against (N, 1) outputs, as Keras squeezes
            y_true = y_true.reshape(tuple(y_pred.shape))
        else:
            raise ValueError(f"Arguments `target` and `output` must have the same shape. Received: "
                             f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    return y_true


def _mean_last(x: Tensor) -> Tensor:
    return x.mean(-1) if x.ndim > 1 else x


def mean_squared_error(y_true, y_pred):
    y = _float_target(y_true, y_pred)
    d = y_pred - y
    return _mean_last(d * d)


def mean_absolute_error(y_true, y_pred):
    y = _float_target(y_true, y_pred)
    return _mean_last((y_pred - y).abs())


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0):
    y = _float_target(y_true, y_pred)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        # max(x, 0) - x·y + log(1 + exp(-|x|)): never overflows
        x = y_pred
        per = ops.relu(x) - x * y + ops.log(1.0 + ops.exp(-x.abs()))
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        per = -(y * p.log() + (1.0 - y) * (1.0 - p).log())
    return _mean_last(per)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1):
    y = _float_target(y_true, y_pred)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    if from_logits:
        return -(y * ops.log_softmax(y_pred, axis)).sum(axis)
    p = y_pred / y_pred.sum(axis, keepdim=True)
    return -(y * p.clamp(EPSILON, 1.0 - EPSILON).log()).sum(axis)


def _class_indices(y_true, y_pred):
    """The labels as an int64 array on the predictions' backend, checked against their shape and classes."""
    arr = y_true._data if isinstance(y_true, Tensor) else backend_of(y_pred._data).asarray(y_true)
    if arr.ndim == y_pred.ndim and arr.shape[-1] == 1:
        arr = arr.reshape(arr.shape[:-1])
    if arr.dtype.kind == "f":
        arr = arr.astype(np.int64)
    if arr.shape != tuple(y_pred.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy: labels of shape {arr.shape} do not match predictions "
                         f"of shape {tuple(y_pred.shape)} (expected {tuple(y_pred.shape[:-1])})")
    classes = y_pred.shape[-1]
    if arr.size and (arr.min() < 0 or arr.max() >= classes):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {classes}), got values in "
                         f"[{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, ignore_class=None, axis=-1):
    labels = _class_indices(y_true, y_pred)
    if from_logits:
        # The fused native softmax + cross-entropy: one pass over the logits, forward and backward. The
        # labels are copied: they may be the caller's own array.
        logits = y_pred.reshape(-1, y_pred.shape[-1])
        per = ops.cross_entropy(logits, Tensor._wrap(labels.reshape(-1).copy()), reduction="none")
        return per.reshape(tuple(y_pred.shape[:-1]))
    xp = backend_of(y_pred._data, labels).xp
    one_hot = (labels[..., None] == xp.arange(y_pred.shape[-1])).astype(y_pred._data.dtype)
    return categorical_crossentropy(Tensor._wrap(one_hot), y_pred)


def hinge(y_true, y_pred):
    y = _float_target(y_true, y_pred)
    arr = y._data
    if arr.size and ((arr == 0) | (arr == 1)).all():  # Keras maps 0/1 labels to -1/1
        y = y * 2.0 - 1.0
    return _mean_last(ops.relu(1.0 - y * y_pred))


def squared_hinge(y_true, y_pred):
    h = ops.relu(1.0 - _hinge_labels(y_true, y_pred) * y_pred)
    return _mean_last(h * h)


def _hinge_labels(y_true, y_pred):
    y = _float_target(y_true, y_pred)
    arr = y._data
    return y * 2.0 - 1.0 if arr.size and ((arr == 0) | (arr == 1)).all() else y


class Loss:
    """A configured loss: ``Loss()(y_true, y_pred)`` gives the batch mean; the model calls ``per_sample``."""

    fn = None

    def __init__(self, name: str | None = None, reduction: str = "sum_over_batch_size", **config) -> None:
        if reduction not in ("sum_over_batch_size", "sum", "none", "mean"):
            raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.config = config

    def per_sample(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self.config)

    def __call__(self, y_true, y_pred, sample_weight=None):
        per = self.per_sample(y_true, y_pred)
        if sample_weight is not None:
            weights = np.asarray(sample_weight, per._data.dtype).reshape(tuple(per.shape))  # host data
            per = per * _tensor(weights, device=per.device)
        if self.reduction == "none":
            return per
        total = per.sum()
        return total if self.reduction == "sum" else total / max(per.numel(), 1)


def _snake(name: str) -> str:
    from .layers.base import snake_case

    return snake_case(name)


def _loss_class(fn, class_name: str):
    return type(class_name, (Loss,), {"fn": staticmethod(fn)})


MeanSquaredError = _loss_class(mean_squared_error, "MeanSquaredError")
MeanAbsoluteError = _loss_class(mean_absolute_error, "MeanAbsoluteError")
BinaryCrossentropy = _loss_class(binary_crossentropy, "BinaryCrossentropy")
CategoricalCrossentropy = _loss_class(categorical_crossentropy, "CategoricalCrossentropy")
SparseCategoricalCrossentropy = _loss_class(sparse_categorical_crossentropy, "SparseCategoricalCrossentropy")
Hinge = _loss_class(hinge, "Hinge")
SquaredHinge = _loss_class(squared_hinge, "SquaredHinge")

_BY_NAME = {"mse": mean_squared_error, "mean_squared_error": mean_squared_error,
            "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error,
            "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
            "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "hinge": hinge,
            "squared_hinge": squared_hinge}
MSE, MAE = mean_squared_error, mean_absolute_error


def get(identifier) -> Loss:
    """A Loss from a name, a Loss instance, or a function (y_true, y_pred) -> per-sample losses."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _BY_NAME:
            raise ValueError(f"Unknown loss function: '{identifier}' (known: {', '.join(sorted(_BY_NAME))})")
        return _loss_class(_BY_NAME[key], identifier)(name=identifier)
    if callable(identifier):
        return _loss_class(identifier, "CustomLoss")(name=getattr(identifier, "__name__", "loss"))
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def canonical_name(loss: Loss) -> str:
    """The underlying function's name, to pick the right 'accuracy' variant."""
    fn = type(loss).fn
    return getattr(fn, "__name__", "")
