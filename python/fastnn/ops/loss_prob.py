"""Losses between distributions: cross-entropy against class probabilities, and kl_div."""
from __future__ import annotations

from .. import amp_state
import math
import warnings

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._loss_util import check_reduction, float_operands, grad_to, legacy_reduction, reduced_grad
from ._loss_util import class_last as _class_last
from ._loss_util import restore_class_dim as _restore_class_dim
from ._loss_util import reduce as _reduce


def cross_entropy_probs(logits: Tensor, target: Tensor, w, reduction: str, label_smoothing: float) -> Tensor:
    """Class-probability targets: loss = -sum_c w_c q_c log_softmax(x)_c over the class dim, with
    q = (1 - s) p + s / C; a 'mean' divides by the number of positions (torch ignores the weights there)."""
    x, p = logits._data, target._data
    if p.shape != x.shape:
        raise ValueError(f"cross_entropy(): probability target of shape {tuple(target.shape)} must match input "
                         f"of shape {tuple(logits.shape)}")
    if p.dtype != x.dtype:
        raise TypeError(f"cross_entropy(): probability target dtype {target.dtype} must match input dtype "
                        f"{logits.dtype}")
    be = backend_of(x, p, w)
    xs = x[None] if x.ndim == 1 else x
    x2, p2 = _class_last(xs), _class_last(p[None] if p.ndim == 1 else p)
    keep = 1.0 - label_smoothing
    if label_smoothing:
        p2 = p2 * keep + label_smoothing / x2.shape[1]
    q2 = p2 if w is None else p2 * w  # the weight rides along the class (last) axis
    logp = be.softmax_last(x2, log=True)
    losses = -(q2 * logp).sum(axis=1)
    rows = losses.shape[0]
    if reduction == "none":
        out = losses.reshape(xs.shape[:1] + xs.shape[2:] if x.ndim > 1 else ())
    else:
        out = _reduce(losses, reduction)

    def backward(g):
        if reduction == "none":
            gr = g.reshape(-1, 1).astype(x.dtype, copy=False)
        else:
            gr = x.dtype.type(float(g) / rows if reduction == "mean" and rows else float(g))
        gx = gp = None
        if logits._requires_grad:  # d/dx of -sum q log_softmax(x) = softmax(x) * sum(q) - q
            g2 = gr * (be.xp.exp(logp) * q2.sum(axis=1, keepdims=True) - q2)
            gx = _restore_class_dim(g2, xs.shape).reshape(logits.shape)
        if target._requires_grad:
            gt = -keep * gr * logp if w is None else -keep * gr * logp * w
            gp = _restore_class_dim(gt, xs.shape).reshape(target.shape)
        return gx, gp

    return record(Tensor._wrap(out), "CrossEntropyBackward0", (logits, target), backward)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:
    """torch.nn.functional.kl_div: ``input`` holds log-probabilities; the point-wise loss is
    target * (log(target) - input) (0 where target == 0, as xlogy), or exp(target) * (target - input)
    with ``log_target``. 'batchmean' divides the sum by the batch size (input.size(0))."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    check_reduction(reduction, ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    inp, tgt, x, y = float_operands(input, target, "kl_div", warn_shape=False)
    be = backend_of(x, y)
    xp = be.xp
    with be.errstate(divide="ignore", invalid="ignore"):
        if log_target:
            ey = xp.exp(y)
            pointwise = ey * (y - x)
        else:
            pointwise = xp.where(y == 0, 0, y * xp.log(xp.where(y == 0, 1, y))) - y * x
    pointwise = xp.asarray(pointwise, dtype=x.dtype)
    shape = np.broadcast_shapes(x.shape, y.shape)
    if reduction == "batchmean":
        batch = inp.shape[0] if inp.ndim else 1
        total = pointwise.sum(dtype=np.float64)
        out = xp.asarray(total / batch if batch else math.nan, dtype=x.dtype)
    else:
        out = _reduce(pointwise, reduction)
    count = math.prod(shape)

    def backward(g):
        if reduction == "batchmean":
            gl = g / g.dtype.type(batch or 1)
        else:
            gl = reduced_grad(g, reduction, count)
        gx = gy = None
        with be.errstate(divide="ignore", invalid="ignore"):
            if inp._requires_grad:
                gx = grad_to(-(ey if log_target else y) * gl, shape, inp.shape, x.dtype)
            if tgt._requires_grad:
                # xlogy(y, y)' = log(y) + y / y: NaN at y == 0, as torch's xlogy derivative gives there.
                if log_target:
                    local = ey * (y - x + 1)
                else:
                    local = xp.where(y == 0, 0, xp.log(xp.where(y == 0, 1, y))) + y / y - x
                gy = grad_to(local * gl, shape, tgt.shape, x.dtype)
        return gx, gy

    return record(Tensor._wrap(out), "KlDivBackward0" if reduction == "none" else "SumBackward0", (inp, tgt),
                  backward)

