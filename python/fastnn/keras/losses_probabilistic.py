"""keras.losses' probabilistic family beyond the plain crossentropies: the focal crossentropies, the
generalized crossentropy, KL divergence and Poisson (Keras 3's formulas, on fastnn Tensor ops)."""
from __future__ import annotations

from .. import ops
from .loss_base import EPSILON, check_axis, float_pair, same_shape, smooth_labels, warn_one_class
from .ops import nn as _kops_nn


def kl_divergence(y_true, y_pred):
    y_true, y_pred = float_pair(y_true, y_pred)
    y_true, y_pred = y_true.clamp(EPSILON, 1.0), y_pred.clamp(EPSILON, 1.0)
    return (y_true * (y_true / y_pred).log()).sum(-1)


def poisson(y_true, y_pred):
    y_true, y_pred = float_pair(y_true, y_pred)
    return (y_pred - y_true * (y_pred + EPSILON).log()).mean(-1)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing: bool = False, alpha: float = 0.25,
                              gamma: float = 2.0, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1):
    """(1 - p_t)^gamma * crossentropy, p_t the probability given to the true label; with
    ``apply_class_balancing`` weighted alpha for positives and 1 - alpha for negatives."""
    y_true, y_pred = float_pair(y_true, y_pred)
    y_true = smooth_labels(y_true, label_smoothing, 2.0)
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    same_shape(y_true, y_pred)
    bce = _kops_nn.binary_crossentropy(y_true, y_pred)
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = (1.0 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return focal.mean(axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                                   label_smoothing: float = 0.0, axis=-1):
    """sum over classes of alpha * (1 - p)^gamma * -y log p, p renormalised and clipped as Keras does."""
    check_axis(axis)
    y_true, y_pred = float_pair(y_true, y_pred)
    warn_one_class("categorical_focal_crossentropy", y_pred)
    if label_smoothing:
        y_true = smooth_labels(y_true, label_smoothing, y_true.shape[-1])
    if from_logits:
        y_pred = ops.softmax(y_pred, axis)
    p = (y_pred / y_pred.sum(axis, keepdim=True)).clamp(EPSILON, 1.0 - EPSILON)
    cce = -y_true * p.log()
    return ((1.0 - p) ** gamma * alpha * cce).sum(axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """(1 - p^q) / q, p the probability of the integer label (robust to noisy labels; q in (0, 1))."""
    y_true, y_pred = float_pair(y_true, y_pred)
    one_hot = _kops_nn.one_hot(y_true.long(), y_pred.shape[-1], dtype=y_pred.dtype)
    p = (y_pred * one_hot).sum(-1)
    return (1.0 - p ** q) / q
