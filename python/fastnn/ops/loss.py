"""Classification losses over class indices: cross_entropy on the fused native softmax + cross-entropy
kernel, and nll_loss on log-probabilities.

cross_entropy's forward makes one pass over the logits and keeps only the per-row logsumexp (N values);
backward writes d logits = g * (softmax - onehot) in one more pass, recomputing the softmax from that
logsumexp, so the (N, C) softmax is never stored. Class weights stay on the kernel: the weighted loss
of a row is its target's weight times the kernel's loss, so they enter as the kernel's per-row gradient
scale; with label smoothing too, one matrix-vector product (forward) and one rank-1 update (backward)
add the weighted smoothing term. Class-probability targets live in loss_prob.py.
"""
from __future__ import annotations

from .. import amp_state
import math

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._loss_util import class_last as _class_last
from ._loss_util import restore_class_dim as _restore_class_dim
from ._loss_util import check_reduction, class_weight, legacy_reduction
from ._loss_util import reduce as _reduce
from ._util import as_tensor
from .arg_checks import check_int
from .loss_prob import cross_entropy_probs


def _check(logits: Tensor, reduction: str, label_smoothing: float, op: str = "cross_entropy"):
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}(): label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if logits._data.dtype.kind not in "fV":
        raise TypeError(f"{op}(): expected input of dtype float32 or float64, got {logits.dtype}")
    if logits.ndim == 0:
        raise ValueError(f"{op}(): input must have at least 1 dimension (classes), got a 0-d tensor")


def _index_targets(logits: Tensor, target: Tensor, op: str):
    """(x, t, unbatched): input as (N, C, ...) and int64 targets as (N, ...), checked against each other."""
    x, t = logits._data, target._data
    unbatched = x.ndim == 1
    if unbatched:
        if target.ndim != 0:
            raise ValueError(f"{op}(): for unbatched input of shape {tuple(logits.shape)} the target "
                             f"must be 0-d, got shape {tuple(target.shape)}")
        x, t = x[None], t.reshape(1)
    if t.ndim == 0 or t.shape[0] != x.shape[0]:
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 0}).")
    want = (x.shape[0],) + x.shape[2:]
    if t.shape != want:
        raise ValueError(f"Expected target size {list(want)}, got {list(t.shape)}: {op}() target of shape "
                         f"{tuple(target.shape)} does not match input of shape {tuple(logits.shape)}")
    return x, t, unbatched


def _target_weights(xp, t1, w, ignore_index: int, n_classes: int):
    """Per-row weight of the target class (0 where ignored); checks the range as the kernel would."""
    keep = t1 != ignore_index
    bad = keep & ((t1 < 0) | (t1 >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(t1[bad][0])} is out of bounds.")
    return xp.where(keep, w[xp.where(keep, t1, 0)], w.dtype.type(0)), keep


_STEM = {"float32": "Float", "float64": "Double", "float16": "Half"}


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """torch.nn.functional.cross_entropy: ``input`` holds unnormalised logits of shape (C,), (N, C) or
    (N, C, d1, ..., dk); ``target`` holds int64 class indices of shape (), (N,) or (N, d1, ..., dk)
    (positions whose target is ``ignore_index`` contribute nothing), or class probabilities of input's
    shape and dtype. ``weight`` (C,) rescales each class; a weighted 'mean' divides by the summed
    weights of the non-ignored targets, as torch does."""
    if amp_state.ACTIVE:  # CPU autocast: float32 (torch's list); the one test outside it
        input, target, weight = amp_state.fp32(input, target, weight)
    ignore_index = check_int(ignore_index, "cross_entropy", "ignore_index")  # 1.5 would truncate to 1
    logits, target = as_tensor(input, "cross_entropy"), as_tensor(target, "cross_entropy")
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    label_smoothing = float(label_smoothing)
    _check(logits, reduction, label_smoothing)
    n_classes = logits.shape[0 if logits.ndim == 1 else 1]
    if target.dtype.is_floating_point and target.shape != logits.shape:
        # not probabilities (those have the logits' shape): class indices, which torch wants as integers,
        # after its shape checks (in torch's order and words)
        if logits.ndim <= 2 and target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if logits.ndim == 2 and target.shape[0] != logits.shape[0]:
            raise ValueError(f"Expected input batch_size ({logits.shape[0]}) to match target batch_size "
                             f"({target.shape[0]}).")
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_STEM.get(target.dtype.name, 'Float')}")
    w = class_weight(weight, n_classes, logits._data.dtype, "nll_loss_forward")
    if target.dtype.is_floating_point:
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return cross_entropy_probs(logits, target, w, reduction, label_smoothing)
    if target._data.dtype != np.int64:
        raise TypeError(f"cross_entropy(): expected target of dtype int64 (class indices) or {logits.dtype} "
                        f"(class probabilities), got {target.dtype}")
    x, t, unbatched = _index_targets(logits, target, "cross_entropy")
    if w is not None:
        return _cross_entropy_weighted(logits, target, x, t, unbatched, w, int(ignore_index), reduction,
                                       label_smoothing)
    ii, ls = int(ignore_index), label_smoothing
    x2 = _class_last(x)
    t1 = t.reshape(-1)
    be = backend_of(x2, t1)
    losses, lse = be.cross_entropy_rows(x2, t1, ii, ls)
    count = int(be.xp.count_nonzero(t1 != ii))
    if reduction == "none":
        out = losses.reshape(() if unbatched else t.shape)
    else:
        total = losses.sum(dtype=np.float64)
        if reduction == "mean":
            total = total / count if count else math.nan  # PyTorch: 0/0 when every target is ignored
        out = be.xp.asarray(total, dtype=x.dtype)

    def backward(g):
        if reduction == "none":
            g2 = be.cross_entropy_rows_backward(x2, t1, lse, g.reshape(-1), 1.0, ii, ls)
        else:
            scale = float(g) / count if (reduction == "mean" and count) else float(g)
            g2 = be.cross_entropy_rows_backward(x2, t1, lse, None, scale, ii, ls)
        gx = _restore_class_dim(g2, x.shape)
        return (gx.reshape(logits.shape), None)

    return record(Tensor._wrap(out), "NllLossBackward0", (logits, target), backward)


def _cross_entropy_weighted(logits, target, x, t, unbatched, w, ii, reduction, s):
    """Row i (target t, not ignored) costs (1-s) w_t (lse_i - x_it) + (s/C) sum_c w_c (lse_i - x_ic).

    The kernel (run without smoothing) gives nll_i = lse_i - x_it and lse_i; the smoothing sum is
    -(log_softmax(x_i) @ w), one log_softmax and one matrix-vector product (not W lse_i - x_i @ w, which
    cancels at large logits: 0 instead of W log C at logits of 3.4e38)."""
    x2 = _class_last(x)
    t1 = t.reshape(-1)
    n_classes = x2.shape[1]
    be = backend_of(x2, t1, w)
    xp = be.xp
    nll, lse = be.cross_entropy_rows(x2, t1, ii, 0.0)
    tw, keep = _target_weights(xp, t1, w, ii, n_classes)
    w_all = w.sum(dtype=np.float64)
    # IEEE results at extreme logits, as torch's (a weighted loss of 3e38 is inf), without warnings; inf - inf
    # in a row holding +inf is NaN, as torch's loss is.
    with be.errstate(all="ignore"):
        losses = (1.0 - s) * tw * nll
        if s:
            logp = be.softmax_last(x2, log=True)
            smooth = -be.matmul(logp, w.astype(x2.dtype, copy=False)[:, None])[:, 0].astype(np.float64)
            losses = (losses + xp.where(keep, (s / n_classes) * smooth, 0.0)).astype(x.dtype)
        losses = losses.astype(x.dtype, copy=False)
    denom = float(tw.sum(dtype=np.float64))
    if reduction == "none":
        out = losses.reshape(() if unbatched else t.shape)
    else:
        out = _reduce(losses, reduction, denom)  # a weighted mean divides by the summed target weights

    def backward(g):
        if reduction == "none":
            gr = g.reshape(-1).astype(np.float64)
        else:
            gr = xp.full(t1.shape, float(g) / denom if (reduction == "mean" and denom) else float(g))
        # g_i [A_i softmax_i - (1-s) w_t e_t - (s/C) w] with A_i = (1-s) w_t + (s/C) W: the kernel writes
        # g_i A_i (softmax_i - e_t); the rest is g_i (s/C)(W e_t - w), a rank-1 update and a scatter.
        a = gr * ((1.0 - s) * tw + xp.where(keep, s / n_classes * w_all, 0.0))
        g2 = be.cross_entropy_rows_backward(x2, t1, lse, a.astype(x.dtype), 1.0, ii, 0.0)
        if s:
            c = xp.where(keep, gr * (s / n_classes), 0.0)
            g2 -= xp.outer(c, w).astype(x.dtype)
            rows = keep.nonzero()[0]
            g2[rows, t1[rows]] += (c[rows] * w_all).astype(x.dtype)
        return (_restore_class_dim(g2, x.shape).reshape(logits.shape), None)

    return record(Tensor._wrap(out), "NllLossBackward0", (logits, target), backward)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean") -> Tensor:
    """torch.nn.functional.nll_loss: ``input`` holds log-probabilities (C,), (N, C) or (N, C, d1, ...);
    loss = -weight[t] * input[t] per position; a 'mean' divides by the summed weights of the non-ignored
    targets."""
    if amp_state.ACTIVE:  # CPU autocast: float32 (torch's list); the one test outside it
        input, target, weight = amp_state.fp32(input, target, weight)
    ignore_index = check_int(ignore_index, "nll_loss", "ignore_index")
    logp, target = as_tensor(input, "nll_loss"), as_tensor(target, "nll_loss")
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    _check(logp, reduction, 0.0, "nll_loss")
    if target._data.dtype != np.int64:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {target.dtype} (nll_loss takes "
                           "int64 class indices)")
    n_classes = logp.shape[0 if logp.ndim == 1 else 1]
    w = class_weight(weight, n_classes, logp._data.dtype, "nll_loss_forward")
    x, t, unbatched = _index_targets(logp, target, "nll_loss")
    ii = int(ignore_index)
    xp = backend_of(x, t, w).xp
    tw, keep = _target_weights(xp, t, xp.ones(n_classes, x.dtype) if w is None else w, ii, n_classes)
    idx = xp.expand_dims(xp.where(keep, t, 0), 1)
    picked = xp.take_along_axis(x, idx, axis=1)[:, 0]
    losses = xp.where(keep, -tw * picked, x.dtype.type(0)).astype(x.dtype, copy=False)
    denom = float(tw.sum(dtype=np.float64))
    if reduction == "none":
        out = losses.reshape(()) if unbatched else losses
    else:
        out = _reduce(losses, reduction, denom)

    def backward(g):
        if reduction == "none":
            gr = g.reshape(t.shape)
        else:
            gr = g / g.dtype.type(denom) if (reduction == "mean" and denom) else g
        gx = xp.zeros_like(x)
        xp.put_along_axis(gx, idx, xp.expand_dims(-tw * gr, 1).astype(x.dtype), axis=1)
        return (gx.reshape(logp.shape), None)

    return record(Tensor._wrap(out), "NllLossBackward0", (logp, target), backward)
