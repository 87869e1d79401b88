"""keras.metrics' functions: ``fn(y_true, y_pred, ...)`` -> one value per sample (or per element, where Keras
returns that), as Keras 3 computes them. The loss-like ones are keras.losses' functions (fastnn.keras.losses);
sparse_categorical_crossentropy adds Keras' mask on its result for ``ignore_class``, which the metrics'
weighted means read.

Each computes with fastnn ops on the predictions' device (targets given as host data move there), so a
function also works as a differentiable loss."""
from __future__ import annotations

import fastnn

from . import losses as _losses
from .losses import (binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,  # noqa: F401
                     categorical_focal_crossentropy, categorical_hinge, hinge, huber, kl_divergence, log_cosh,
                     mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                     mean_squared_logarithmic_error, poisson, squared_hinge)
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


# ---- correlations (metric-only functions) ------------------------------------------------------------------
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


# ---- the loss functions ----------------------------------------------------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """keras.losses' function; with ``ignore_class`` its result carries Keras' mask of the kept entries."""
    res = _losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, ignore_class=ignore_class,
                                                  axis=axis)
    if ignore_class is not None:
        y_pred = _pred(y_pred)
        labels = as_tensor(y_true, like=y_pred)
        if labels.dim() == y_pred.dim() and labels.shape[axis] == 1:
            labels = labels.squeeze(axis)
        set_mask(res, (labels.to(y_pred.dtype) != ignore_class).reshape(tuple(res.shape)))
    return res


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
