"""Losses: cross_entropy on the fused native softmax + cross-entropy kernel.

Forward makes one pass over the logits and keeps only the per-row logsumexp (N values); backward
writes d logits = g * (softmax - onehot) in one more pass, recomputing the softmax from that
logsumexp, so the (N, C) softmax is never stored.
"""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import cpu_nn
from ..tensor import Tensor
from ._util import as_tensor

_REDUCTIONS = ("mean", "sum", "none")


def _class_last(x: np.ndarray) -> np.ndarray:
    """(N, C, d1, ..., dk) -> (N * d1 * ... * dk, C): the class dim moved last, one row per position."""
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _restore_class_dim(g2: np.ndarray, shape) -> np.ndarray:
    if len(shape) == 2:
        return g2
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g2.reshape(moved), -1, 1)


def _check(logits: Tensor, target: Tensor, reduction: str, label_smoothing: float):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if logits._data.dtype not in cpu_nn.FLOATS:
        raise TypeError(f"cross_entropy(): expected input of dtype float32 or float64, got {logits.dtype}")
    if logits.ndim == 0:
        raise ValueError("cross_entropy(): input must have at least 1 dimension (classes), got a 0-d tensor")


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """torch.nn.functional.cross_entropy: ``input`` holds unnormalised logits of shape (C,), (N, C) or
    (N, C, d1, ..., dk); ``target`` holds int64 class indices of shape (), (N,) or (N, d1, ..., dk)
    (rows whose target is ``ignore_index`` contribute nothing), or class probabilities of input's
    shape and dtype. Class ``weight`` is not supported."""
    logits, target = as_tensor(input, "cross_entropy"), as_tensor(target, "cross_entropy")
    if weight is not None:
        raise NotImplementedError("cross_entropy(): class weights are not supported")
    label_smoothing = float(label_smoothing)
    _check(logits, target, reduction, label_smoothing)
    if target.dtype.is_floating_point:
        return _cross_entropy_probs(logits, target, reduction, label_smoothing)
    if target._data.dtype != np.int64:
        raise TypeError(f"cross_entropy(): expected target of dtype int64 (class indices) or {logits.dtype} "
                        f"(class probabilities), got {target.dtype}")
    x, t = logits._data, target._data
    unbatched = x.ndim == 1
    if unbatched:
        x = x[None]
        t = t.reshape(1) if t.ndim == 0 else t
        if target.ndim != 0:
            raise ValueError(f"cross_entropy(): for unbatched input of shape {tuple(logits.shape)} the target "
                             f"must be 0-d, got shape {tuple(target.shape)}")
    if t.ndim == 0 or t.shape[0] != x.shape[0]:
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 0}).")
    if t.shape != (x.shape[0],) + x.shape[2:]:
        raise ValueError(f"cross_entropy(): target of shape {tuple(target.shape)} does not match input of shape "
                         f"{tuple(logits.shape)} (expected target shape {(x.shape[0],) + x.shape[2:]})")
    ii, ls = int(ignore_index), label_smoothing
    x2 = _class_last(x)
    t1 = t.reshape(-1)
    losses, lse = cpu_nn.cross_entropy_rows(x2, t1, ii, ls)
    count = int(np.count_nonzero(t1 != ii))
    if reduction == "none":
        out = losses.reshape(() if unbatched else t.shape)
    else:
        total = losses.sum(dtype=np.float64)
        if reduction == "mean":
            total = total / count if count else np.nan  # PyTorch: 0/0 when every target is ignored
        out = np.asarray(total, dtype=x.dtype)

    def backward(g):
        if reduction == "none":
            g2 = cpu_nn.cross_entropy_rows_backward(x2, t1, lse, g.reshape(-1), 1.0, ii, ls)
        else:
            scale = float(g) / count if (reduction == "mean" and count) else float(g)
            g2 = cpu_nn.cross_entropy_rows_backward(x2, t1, lse, None, scale, ii, ls)
        gx = _restore_class_dim(g2, x.shape)
        return (gx.reshape(logits.shape), None)

    return record(Tensor._wrap(out), "NllLossBackward0", (logits, target), backward)


def _cross_entropy_probs(logits: Tensor, target: Tensor, reduction: str, label_smoothing: float) -> Tensor:
    """Class-probability targets: loss = -sum_c p_c * log_softmax(x)_c over the class dim."""
    x, p = logits._data, target._data
    if p.shape != x.shape:
        raise ValueError(f"cross_entropy(): probability target of shape {tuple(target.shape)} must match input "
                         f"of shape {tuple(logits.shape)}")
    if p.dtype != x.dtype:
        raise TypeError(f"cross_entropy(): probability target dtype {target.dtype} must match input dtype "
                        f"{logits.dtype}")
    xs = x[None] if x.ndim == 1 else x
    x2, p2 = _class_last(xs), _class_last(p[None] if p.ndim == 1 else p)
    keep = 1.0 - label_smoothing
    if label_smoothing:
        p2 = p2 * keep + label_smoothing / x2.shape[1]
    logp = cpu_nn.softmax_last(x2, log=True)
    losses = -(p2 * logp).sum(axis=1)
    rows = losses.shape[0]
    if reduction == "none":
        out = losses.reshape(xs.shape[:1] + xs.shape[2:] if x.ndim > 1 else ())
    elif reduction == "sum":
        out = np.asarray(losses.sum(dtype=np.float64), dtype=x.dtype)
    else:
        out = np.asarray(losses.sum(dtype=np.float64) / rows if rows else np.nan, dtype=x.dtype)

    def backward(g):
        if reduction == "none":
            gr = g.reshape(-1, 1).astype(x.dtype, copy=False)
        else:
            gr = x.dtype.type(float(g) / rows if reduction == "mean" else float(g))
        gx = gp = None
        if logits._requires_grad:  # d/dx of -sum p log_softmax(x) = softmax(x) * sum(p) - p
            g2 = gr * (np.exp(logp) * p2.sum(axis=1, keepdims=True) - p2)
            gx = _restore_class_dim(g2, xs.shape).reshape(logits.shape)
        if target._requires_grad:
            gp = _restore_class_dim(-keep * gr * logp, xs.shape).reshape(target.shape)
        return gx, gp

    return record(Tensor._wrap(out), "CrossEntropyBackward0", (logits, target), backward)
