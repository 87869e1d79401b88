"""keras.metrics' functions: ``fn(y_true, y_pred, ...)`` -> one value per sample (or per element, where Keras
returns that), as Keras 3 computes them. The loss-like ones equal keras.losses' functions of the same name.

Each computes with fastnn ops on the predictions' device (targets given as host data move there), so a
function also works as a differentiable loss."""
from __future__ import annotations

import math
import warnings

import fastnn
import fastnn.nn.functional as F

from .masking import set_mask
from .metrics_base import EPSILON, as_tensor, squeeze_or_expand_to_same_rank
from .ops import nn as ops_nn

_FLOATX = fastnn.float32


def _pred(y_pred):
    return as_tensor(y_pred)


def _true(y_true, y_pred, dtype="pred"):
    return as_tensor(y_true, y_pred.dtype if dtype == "pred" else dtype, like=y_pred)


def _pair(y_true, y_pred):
    """Predictions as given, targets in their dtype, ranks reconciled (Keras' squeeze_or_expand)."""
    y_pred = _pred(y_pred)
    return squeeze_or_expand_to_same_rank(_true(y_true, y_pred), y_pred)


def _same_shape(y_true, y_pred):
    """Keras' binary / categorical crossentropy ops refuse targets of another shape (even (N,) against
    (N, 1): keras.metrics does not reshape them, unlike the losses)."""
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError("Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    return y_true


def _mean_last(x):
    return x.mean(-1)


# ---- accuracies ------------------------------------------------------------------------------------------
def accuracy(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return (y_true == y_pred).to(_FLOATX)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, like=y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = (y_pred > threshold).to(y_true.dtype)
    return (y_true == y_pred).to(_FLOATX)


def categorical_accuracy(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, like=y_pred).argmax(-1).to(y_pred.dtype)
    shape = tuple(y_true.shape)
    reshape = y_true.dim() == y_pred.dim()
    if reshape:
        y_true = y_true.squeeze(-1)
    labels = y_pred.argmax(-1).to(y_true.dtype)
    matches = (y_true == labels).to(_FLOATX)
    return matches.reshape(shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    shape = tuple(y_true.shape)
    reshape = y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1
    if reshape:
        y_true = y_true.squeeze(-1)
    labels = y_pred.argmax(-1).to(y_true.dtype)
    matches = (y_true == labels).to(_FLOATX)
    if reshape:
        matches = matches.reshape(shape)
    if matches.dim() > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def _flat_top_k(y_true, y_pred):
    shape = tuple(y_true.shape)
    if y_pred.dim() > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.dim() > 1
    if reshape:
        y_true = y_true.reshape(-1)
    return y_true, y_pred, (shape if reshape else None)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred).argmax(-1)
    y_true, y_pred, shape = _flat_top_k(y_true, y_pred)
    matches = ops_nn.in_top_k(y_true, y_pred, k).to(_FLOATX)
    return matches if shape is None else matches.reshape(shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred, y_pred.dtype if from_sorted_ids else "int32")
    y_true, y_pred, shape = _flat_top_k(y_true, y_pred)
    if from_sorted_ids:  # y_pred holds class ids, best first: any of the first k equal to the label
        matches = (y_true.unsqueeze(1) == y_pred[:, :k]).any(1)
    else:
        matches = ops_nn.in_top_k(y_true, y_pred, k)
    matches = matches.to(_FLOATX)
    return matches if shape is None else matches.reshape(shape)


# ---- hinge -------------------------------------------------------------------------------------------------
def _hinge_labels(y_true):
    """0/1 labels become -1/1 (Keras decides over the whole batch: all entries 0 or 1)."""
    binary = ((y_true == 0) | (y_true == 1)).all()
    return fastnn.where(binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _hinge_labels(_true(y_true, y_pred))
    return _mean_last(F.relu(1.0 - y_true * y_pred))


def squared_hinge(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _hinge_labels(_true(y_true, y_pred))
    return _mean_last(F.relu(1.0 - y_true * y_pred).square())


def categorical_hinge(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    pos = (y_true * y_pred).sum(-1)
    neg = ((1.0 - y_true) * y_pred).amax(-1)
    return F.relu(neg - pos + 1.0)


# ---- regression ------------------------------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last((y_true - y_pred).square())


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last((y_true - y_pred).abs())


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    diff = ((y_true - y_pred) / y_true.abs().clamp_min(EPSILON)).abs()
    return 100.0 * _mean_last(diff)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    first = (y_pred.clamp_min(EPSILON) + 1.0).log()
    second = (y_true.clamp_min(EPSILON) + 1.0).log()
    return _mean_last((first - second).square())


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = error.abs()
    quadratic = 0.5 * error.square()
    linear = delta * abs_error - 0.5 * delta * delta
    return _mean_last(fastnn.where(abs_error <= delta, quadratic, linear))


def log_cosh(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    return _mean_last(x + F.softplus(-2.0 * x) - math.log(2.0))


def cosine_similarity(y_true, y_pred, axis=-1):
    """The cosine similarity of the l2-normalized vectors along ``axis`` (the metric's sign: +1 is best;
    keras.losses.cosine_similarity is its negative)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return (ops_nn.normalize(y_true, axis=axis) * ops_nn.normalize(y_pred, axis=axis)).sum(axis)


def pearson_correlation(y_true, y_pred, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    t = y_true - y_true.mean(axis, keepdim=True)
    p = y_pred - y_pred.mean(axis, keepdim=True)
    t = t / t.std(axis, correction=0, keepdim=True)
    p = p / p.std(axis, correction=0, keepdim=True)
    return (t * p).mean(axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    t_mean = y_true.mean(axis, keepdim=True)
    p_mean = y_pred.mean(axis, keepdim=True)
    t_var = (y_true - t_mean).var(axis, correction=0, keepdim=True)
    p_var = (y_pred - p_mean).var(axis, correction=0, keepdim=True)
    covar = (y_true - p_mean) * (y_pred - p_mean)  # Keras centres y_true on the predictions' mean
    norm = t_var + p_var + (t_mean - p_mean).square()
    return (2.0 * covar / (norm + EPSILON)).mean(axis)


# ---- probabilistic ---------------------------------------------------------------------------------------
def kl_divergence(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred).clamp(EPSILON, 1.0)
    y_pred = y_pred.clamp(EPSILON, 1.0)
    return (y_true * (y_true / y_pred).log()).sum(-1)


def poisson(y_true, y_pred):
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    return _mean_last(y_pred - y_true * (y_pred + EPSILON).log())


def _check_axis(axis):
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")


def _warn_one_class(name, y_pred):
    if y_pred.shape[-1] == 1:
        warnings.warn(f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with num_classes > 1. "
                      f"Received: y_pred.shape={tuple(y_pred.shape)}. Consider using 'binary_crossentropy' if you "
                      "only have 2 classes.", SyntaxWarning, stacklevel=3)


def _smooth_categorical(y_true, label_smoothing):
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return y_true


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    _check_axis(axis)
    y_pred = _pred(y_pred)
    y_true = _same_shape(_true(y_true, y_pred), y_pred)
    _warn_one_class("categorical_crossentropy", y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    return ops_nn.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    _check_axis(axis)
    y_pred = _pred(y_pred)
    y_true = _true(y_true, y_pred)
    _warn_one_class("categorical_focal_crossentropy", y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        y_pred = fastnn.softmax(y_pred, axis)
    out = (y_pred / y_pred.sum(axis, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
    cce = -y_true * out.log()
    return (alpha * (1.0 - out).pow(gamma) * cce).sum(axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    y_pred = _pred(y_pred)
    y_true = as_tensor(y_true, like=y_pred)
    if y_true.dim() == y_pred.dim() and y_true.shape[axis] == 1:
        y_true = y_true.squeeze(axis)
    valid = None
    if ignore_class is not None:
        valid = sparse_valid_mask(y_true, ignore_class, y_pred.dtype)
        y_true = fastnn.where(valid, y_true, fastnn.zeros_like(y_true))
        y_pred = fastnn.where(valid.unsqueeze(axis), y_pred, fastnn.zeros_like(y_pred))
    res = ops_nn.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        valid = valid.reshape(tuple(res.shape))
        res = fastnn.where(valid, res, fastnn.zeros_like(res))
        set_mask(res, valid)  # Keras' mask on the result: weighted means leave these entries out
    return res


def sparse_valid_mask(y_true, ignore_class, dtype):
    """Where the labels are not ``ignore_class`` (compared in the predictions' dtype, as Keras)."""
    return y_true.to(dtype) != ignore_class


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = _pred(y_pred)
    y_true = _same_shape(_true(y_true, y_pred), y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return ops_nn.binary_crossentropy(y_true, y_pred, from_logits=from_logits).mean(axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    y_pred = _pred(y_pred)
    y_true = _same_shape(_true(y_true, y_pred), y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = fastnn.sigmoid(y_pred)
    bce = ops_nn.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = (1.0 - p_t).pow(gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return focal.mean(axis)


# Keras' short aliases of the function names
MSE = mse = mean_squared_error
MAE = mae = mean_absolute_error
MAPE = mape = mean_absolute_percentage_error
MSLE = msle = mean_squared_logarithmic_error
KLD = kld = kl_divergence
logcosh = log_cosh

FUNCTIONS = {f.__name__: f for f in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, hinge, squared_hinge, categorical_hinge, mean_squared_error,
    mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, huber, log_cosh,
    cosine_similarity, pearson_correlation, concordance_correlation, kl_divergence, poisson,
    categorical_crossentropy, categorical_focal_crossentropy, sparse_categorical_crossentropy, binary_crossentropy,
    binary_focal_crossentropy)}
