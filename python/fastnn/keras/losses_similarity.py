"""keras.losses for segmentation and metric learning: Dice, Tversky and Circle (Keras 3's formulas, on
fastnn Tensor ops)."""
from __future__ import annotations

import fastnn
from .loss_base import EPSILON, convert, float_pair, set_loss_mask
from .ops import nn as _kops_nn


def _sum(x, axis):
    if axis is None:
        return x.sum()
    return x.sum(tuple(axis) if isinstance(axis, (list, tuple)) else axis)


def dice(y_true, y_pred, axis=None):
    """1 - 2 |y ∩ p| / (|y| + |p|), the sums over ``axis`` (everything when None)."""
    y_true, y_pred = float_pair(y_true, y_pred)
    intersection = _sum(y_true * y_pred, axis)
    return 1.0 - 2.0 * intersection / (_sum(y_true, axis) + _sum(y_pred, axis) + EPSILON)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - TP / (TP + alpha FP + beta FN): Dice with false positives and negatives weighted apart."""
    y_true, y_pred = float_pair(y_true, y_pred)
    tp = _sum(y_true * y_pred, axis)
    fp = _sum((1.0 - y_pred) * y_true, axis)
    fn = _sum(y_pred * (1.0 - y_true), axis)
    return 1.0 - tp / (tp + fp * alpha + fn * beta + EPSILON)


def _pos_neg_masks(query_labels, key_labels, remove_diagonal: bool):
    q, k = query_labels.reshape(-1, 1), key_labels.reshape(-1, 1)
    positive = q == k.transpose(0, 1)
    negative = ~positive
    if remove_diagonal:
        eye = fastnn.eye(q.shape[0], k.shape[0], dtype=fastnn.bool, device=q.device)
        positive = positive & ~eye
    return positive, negative


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal: bool = True, gamma=80,
           margin=0.4):
    """Circle loss on (normalised) embeddings ``y_pred`` with integer labels ``y_true``: softplus of the
    log-sum-exp of weighted positive distances plus that of negative similarities, per query; only
    queries with a positive loss count in the reduction (Keras masks the rest)."""
    y_pred = convert(y_pred)
    labels = convert(y_true, like=y_pred).to(fastnn.int32)
    ref = y_pred if ref_embeddings is None else convert(ref_embeddings, y_pred.dtype, like=y_pred)
    ref_labels = labels if ref_labels is None else convert(ref_labels, like=y_pred).to(fastnn.int32)
    dist = (1.0 - y_pred @ ref.transpose(0, 1)).clamp(min=0.0)
    positive, negative = _pos_neg_masks(labels, ref_labels, remove_diagonal)
    pos_weights = ((margin + dist) * positive.to(dist.dtype)).clamp(min=0.0)
    neg_weights = ((1.0 + margin - dist) * negative.to(dist.dtype)).clamp(min=0.0)
    pos_w = -gamma * pos_weights * (margin - dist)
    neg_w = gamma * neg_weights * (1.0 - margin - dist)
    inf = float("-inf")
    p_loss = fastnn.logsumexp(fastnn.where(positive, pos_w, inf), dim=1)
    n_loss = fastnn.logsumexp(fastnn.where(negative, neg_w, inf), dim=1)
    loss = _kops_nn.softplus(p_loss + n_loss)
    set_loss_mask(loss, loss.detach() > 0)
    return loss
