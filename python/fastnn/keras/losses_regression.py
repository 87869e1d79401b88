"""keras.losses' regression family beyond MSE / MAE: percentage and log errors, cosine similarity, Huber
and log-cosh (Keras 3's formulas, on fastnn Tensor ops)."""
from __future__ import annotations

import math

import fastnn
from .loss_base import EPSILON, float_pair, squeeze_or_expand_to_same_rank
from .ops import nn as _kops_nn


def _pair(y_true, y_pred):
    return squeeze_or_expand_to_same_rank(*float_pair(y_true, y_pred))


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    diff = ((y_true - y_pred) / y_true.abs().clamp(min=EPSILON)).abs()
    return 100.0 * diff.mean(-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    d = (y_pred.clamp(min=EPSILON) + 1.0).log() - (y_true.clamp(min=EPSILON) + 1.0).log()
    return (d * d).mean(-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Minus the cosine similarity of the L2-normalised vectors along ``axis`` (-1 means aligned)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return -(_kops_nn.normalize(y_true, axis=axis) * _kops_nn.normalize(y_pred, axis=axis)).sum(axis)


def huber(y_true, y_pred, delta=1.0):
    """0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond; the mean over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    a = error.abs()
    delta = float(delta)
    return fastnn.where(a <= delta, 0.5 * error * error, delta * a - 0.5 * delta * delta).mean(-1)


def log_cosh(y_true, y_pred):
    """log(cosh(e)) computed as e + softplus(-2e) - log 2 (no overflow for large errors)."""
    y_true, y_pred = _pair(y_true, y_pred)
    x = y_pred - y_true
    return (x + _kops_nn.softplus(x * -2.0) - math.log(2.0)).mean(-1)
