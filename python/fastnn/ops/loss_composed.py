"""The remaining torch.nn.functional losses, composed from differentiable ops (autograd records each
step): ranking and embedding losses (margin_ranking, cosine_embedding, triplet_margin and its
distance-function form, soft_margin), the multi-label ones, and the Poisson and Gaussian negative
log-likelihoods. They are cheap next to the model that feeds them, so the clarity of the composition
is worth more than one fused node.
"""
from __future__ import annotations

from .. import amp_state
import math

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from . import elementwise as ew
from ._loss_util import check_reduction, legacy_reduction
from ._util import as_tensor
from .activation_extra import logsigmoid
from .similarity import pairwise_distance


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    return check_reduction(reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _float(t, op: str) -> Tensor:
    t = as_tensor(t, op)
    if not t.dtype.is_floating_point:
        raise RuntimeError(f"{op}(): expected a floating point input, got {t.dtype}")
    return t


def _promoted(t, op: str) -> Tensor:
    """An input torch also takes as an integer or bool tensor, computing in float32 (poisson_nll_loss,
    cosine_embedding_loss, triplet_margin_loss of int64 are float32 in torch)."""
    t = as_tensor(t, op)
    return t if t.dtype.is_floating_point else t.to(dtypes.default_float)


@amp_state.fp32_op(3)  # torch's CPU autocast list
def margin_ranking_loss(input1, input2, target, margin: float = 0, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2, y = (as_tensor(t, "margin_ranking_loss") for t in (input1, input2, target))
    if not (x1.ndim == x2.ndim == y.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {tuple(x1.shape)}, input2: {tuple(x2.shape)}, target: {tuple(y.shape)} ")
    return _reduce(ew.clamp(-y * (x1 - x2) + margin, min=0), reduction)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _float(input, "soft_margin_loss"), as_tensor(target, "soft_margin_loss")
    return _reduce(-logsigmoid(y * x), reduction)  # log(1 + exp(-y x)), stable for large |x|


_COSINE_EPS = 1e-12  # torch's EPSILON inside cosine_embedding_loss


@amp_state.fp32_op(3)  # torch's CPU autocast list
def cosine_embedding_loss(input1, input2, target, margin: float = 0, size_average=None, reduce=None,
                          reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    x1, x2 = _promoted(input1, "cosine_embedding_loss"), _promoted(input2, "cosine_embedding_loss")
    y = as_tensor(target, "cosine_embedding_loss")
    if x1.shape != x2.shape:
        raise RuntimeError(f"cosine_embedding_loss: input1 and input2 must have the same shape, got "
                           f"{tuple(x1.shape)} and {tuple(x2.shape)}")
    if x1.ndim not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss: 1D target tensor expects 2D input tensors, but found inputs "
                           f"with sizes {list(x1.shape)} and {list(x2.shape)}.")
    dim = x1.ndim - 1
    prod = (x1 * x2).sum(dim)
    mag = ((x1 * x1).sum(dim) + _COSINE_EPS) * ((x2 * x2).sum(dim) + _COSINE_EPS)
    cos = prod / ew.sqrt(mag)
    zeros = cos * 0
    pos = ew.where(y == 1, 1 - cos, zeros)
    neg = ew.where(y == -1, ew.clamp(cos - margin, min=0), zeros)
    return _reduce(pos + neg, reduction)


@amp_state.fp32_op(3)  # torch's CPU autocast list
def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    a, pos, neg = (_promoted(t, "triplet_margin_loss") for t in (anchor, positive, negative))
    if not (a.ndim == pos.ndim == neg.ndim):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a.ndim}D, positive {pos.ndim}D, and negative "
                           f"{neg.ndim}D inputs")
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: expected margin to be greater than 0, got {margin} instead")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = ew.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(ew.clamp(margin + d_pos - d_neg, min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: expected margin to be greater than 0, got {margin} "
                         "instead")
    a, pos, neg = (as_tensor(t, "triplet_margin_with_distance_loss") for t in (anchor, positive, negative))
    dist = distance_function if distance_function is not None else (
        pairwise_distance)
    d_pos, d_neg = dist(a, pos), dist(a, neg)
    if swap:
        d_neg = ew.minimum(d_neg, dist(pos, neg))
    return _reduce(ew.clamp(margin + d_pos - d_neg, min=0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _float(input, "multilabel_soft_margin_loss"), as_tensor(target, "multilabel_soft_margin_loss")
    loss = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * as_tensor(weight, "multilabel_soft_margin_loss")
    class_dim = x.ndim - 1
    loss = loss.sum(class_dim) / x.shape[class_dim]
    return _reduce(loss, reduction)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C per sample; a
    sample's target classes are the entries of its target row before the first -1."""
    reduction = _reduction(size_average, reduce, reduction)
    op = "multilabel_margin_loss"
    inp, tgt = _float(input, op), as_tensor(target, op)
    if inp.ndim > 2 or inp.shape != tgt.shape:
        raise RuntimeError(f"{op}: inconsistent target size: {list(tgt.shape)} for input of size "
                           f"{list(inp.shape)}")
    if tgt.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a target of integer dtype (int64), got {tgt.dtype}")
    x = inp._data.reshape(1, -1) if inp.ndim <= 1 else inp._data
    t = tgt._data.reshape(x.shape)
    be = backend_of(x, t)
    xp = be.xp
    n, c = x.shape
    if c and (t.min() < -1 or t.max() >= c):
        raise RuntimeError(f"{op}: target index out of range: valid targets are -1 (end of list) and 0..{c - 1}")
    # valid[n, k]: entry k of the row comes before the row's first -1
    valid = xp.cumprod(t != -1, axis=1).astype(bool)
    is_target = xp.zeros((n, c), bool)
    rows = xp.broadcast_to(xp.arange(n)[:, None], t.shape)
    is_target[rows[valid], t[valid]] = True
    # margins[n, j, i] for target j (with multiplicity of its listing) against non-target i
    xt = xp.take_along_axis(x, xp.where(valid, t, 0), axis=1)  # x at each listed target
    m = 1 - (xt[:, :, None] - x[:, None, :])
    active = valid[:, :, None] & ~is_target[:, None, :] & (m > 0)
    loss = (xp.where(active, m, 0).sum(axis=(1, 2)) / x.dtype.type(c or 1)).astype(x.dtype)

    def backward(g):
        gl = g.reshape(-1) if g.ndim else xp.broadcast_to(g, (n,))
        w = active * (gl[:, None, None] / x.dtype.type(c or 1))
        gx = w.sum(axis=1)  # +1 for each non-target i
        gt = -w.sum(axis=2)  # -1 for each listed target j
        xp.add.at(gx, (rows, xp.where(valid, t, 0)), xp.where(valid, gt, 0))
        return (gx.reshape(inp.shape).astype(x.dtype, copy=False), None)

    out = record(Tensor._wrap(loss.reshape(inp.shape[:-1]) if inp.ndim else loss.reshape(())),
                 "MultilabelMarginLossBackward0", (inp, tgt), backward)
    return _reduce(out, reduction)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    x, y = _promoted(input, "poisson_nll_loss"), as_tensor(target, "poisson_nll_loss")
    if log_input:
        loss = ew.exp(x) - y * x
    else:
        loss = x - y * ew.log(x + eps)
    if full:  # Stirling's approximation of log(target!), counted only where target > 1 (as torch)
        # Differentiable ops, so a target that requires grad gets torch's gradient, log(t) + 0.5 / t where
        # t > 1. The masked places see t = 2 instead (torch computes log(0) there and its gradient is NaN
        # at target == 0; here it is the mask's 0, with no inf * 0 in the backward).
        t = y if y.dtype is loss.dtype else y.to(loss.dtype)
        counted = t > 1
        ts = ew.where(counted, t, 2.0)
        stirling = ts * ew.log(ts) - ts + 0.5 * ew.log(2 * math.pi * ts)
        loss = loss + ew.where(counted, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    check_reduction(reduction)
    x, y = _float(input, "gaussian_nll_loss"), as_tensor(target, "gaussian_nll_loss")
    v = as_tensor(var, "gaussian_nll_loss") if not isinstance(var, (int, float)) else None
    if v is None:  # a scalar variance, broadcast to the input
        v = x.detach() * 0 + float(var)
    if v.shape != x.shape:
        if tuple(x.shape[:-1]) == tuple(v.shape):  # one variance per sample: unsqueeze the last dim
            v = v.unsqueeze(-1)
        elif not (tuple(x.shape[:-1]) == tuple(v.shape[:-1]) and v.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if bool((v < 0).any()):
        raise ValueError("var has negative entry/entries")
    # torch clamps a copy of var in place under no_grad: the value is clamped, its gradient passes as is
    clamped = ew.clamp(v.detach(), min=eps)
    v = v + (clamped - v.detach())
    loss = 0.5 * (ew.log(v) + (x - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
