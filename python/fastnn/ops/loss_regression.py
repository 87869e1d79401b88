"""Regression losses of the difference d = input - target: mse_loss, l1_loss, huber_loss, smooth_l1_loss.

One op per loss, its point-wise formula beside its derivative in d; the shared ``_difference_loss``
broadcasts input and target as torch does (with its warning), applies the optional per-element
``weight`` and the reduction, and sends d(loss)/dd to input, -d(loss)/dd to target.
"""
from __future__ import annotations

from .. import amp_state
import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._loss_util import (check_reduction, float_operands, grad_to, legacy_reduction, reduced_grad)
from ._loss_util import reduce as _reduce
from ._util import as_tensor


def _difference_loss(op, node, input, target, reduction, weight, weighted_mean_by_sum, loss_of, grad_of):
    inp, tgt, x, y = float_operands(input, target, op)  # shapes first: torch broadcasts before it reads reduction
    check_reduction(reduction)
    d = x - y
    shape, dt = d.shape, d.dtype
    loss = loss_of(d)
    wt = w = None
    if weight is not None:
        wt = as_tensor(weight, op)
        if wt.shape != inp.shape:
            raise ValueError("Weights and input must have the same size.")
        w = wt._data.astype(dt, copy=False)
        wloss = loss * w
        if reduction == "mean" and weighted_mean_by_sum:  # torch: sum(w * loss) / sum(w)
            be = backend_of(w, d)
            w_sum = w.sum(dtype=np.float64)
            with be.errstate(divide="ignore", invalid="ignore"):
                out = be.xp.asarray(wloss.sum(dtype=np.float64) / w_sum, dtype=dt)
        else:
            out = _reduce(wloss, reduction)
    else:
        out = _reduce(loss, reduction)
    count = loss.size
    by_sum = w is not None and reduction == "mean" and weighted_mean_by_sum

    def backward(g):
        gl = g / g.dtype.type(w_sum) if by_sum else reduced_grad(g, reduction, count)
        gx = gy = gw = None
        if inp._requires_grad or tgt._requires_grad:
            gd = grad_of(d) * gl if w is None else grad_of(d) * w * gl
            gx = grad_to(gd, shape, inp.shape, dt) if inp._requires_grad else None
            gy = grad_to(-gd, shape, tgt.shape, dt) if tgt._requires_grad else None
        if wt is not None and wt._requires_grad:
            # d/dw_k of sum(w loss) / sum(w) is (loss_k - out) / sum(w); otherwise loss_k times the reduction's.
            gw = grad_to((loss - out) * gl if by_sum else loss * gl, shape, wt.shape, wt._data.dtype)
        return (gx, gy) if wt is None else (gx, gy, gw)

    inputs = (inp, tgt) if wt is None else (inp, tgt, wt)
    return record(Tensor._wrap(out), node, inputs, backward)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """torch.nn.functional.mse_loss: (input - target)^2; a weighted 'mean' is sum(w loss) / sum(w)."""
    if amp_state.ACTIVE:  # CPU autocast: float32 (torch's list); the one test outside it
        input, target, weight = amp_state.fp32(input, target, weight)
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return _difference_loss("mse_loss", "MseLossBackward0", input, target, reduction, weight, True,
                            lambda d: d * d, lambda d: 2 * d)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """torch.nn.functional.l1_loss: |input - target| (gradient sign(d), 0 where d == 0)."""
    if amp_state.ACTIVE:  # CPU autocast: float32 (torch's list); the one test outside it
        input, target, weight = amp_state.fp32(input, target, weight)
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return _difference_loss("l1_loss", "L1LossBackward0", input, target, reduction, weight, True,
                            abs, _sign)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """torch.nn.functional.huber_loss: 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); a
    weighted 'mean' is the plain mean of w * loss, as torch's."""
    delta = float(delta)
    if not delta > 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")

    def loss_of(d):
        a = abs(d)
        return backend_of(d).xp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)).astype(d.dtype, copy=False)

    return _difference_loss("huber_loss", "HuberLossBackward0", input, target, reduction, weight, False,
                            loss_of, lambda d: d.clip(-delta, delta))


@amp_state.fp32_op(2)  # torch's CPU autocast list
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """torch.nn.functional.smooth_l1_loss: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta == 0
    is the L1 loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    beta = float(beta)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return _difference_loss("smooth_l1_loss", "SmoothL1LossBackward0", input, target, reduction, None, False,
                                abs, _sign)

    def loss_of(d):
        a = abs(d)
        return backend_of(d).xp.where(a < beta, (0.5 / beta) * d * d, a - 0.5 * beta).astype(d.dtype, copy=False)

    return _difference_loss("smooth_l1_loss", "SmoothL1LossBackward0", input, target, reduction, None, False,
                            loss_of, lambda d: (d / d.dtype.type(beta)).clip(-1, 1))


def _sign(d):
    return backend_of(d).xp.sign(d)
