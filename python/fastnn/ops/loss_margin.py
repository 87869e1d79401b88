"""Hinge losses: multi_margin_loss (multi-class hinge) and hinge_embedding_loss."""
from __future__ import annotations

from .. import amp_state
import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._loss_util import check_reduction, constant_weight, grad_to, legacy_reduction, reduced_grad, scalar_name
from ._loss_util import reduce as _reduce
from ._util import as_tensor


@amp_state.fp32_op(2)  # torch's CPU autocast list
def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None, size_average=None,
                      reduce=None, reduction: str = "mean") -> Tensor:
    """torch.nn.functional.multi_margin_loss: for row x with target class y,
    sum_{j != y} w_y max(0, margin - x_y + x_j)^p / C."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    op = "multi_margin_loss"
    if weight is not None and getattr(weight, "ndim", None) != 1:  # torch checks it first, in Python
        raise ValueError("weight must be one-dimensional")
    inp, tgt = as_tensor(input, op), as_tensor(target, op)
    x = inp._data
    if x.dtype.kind not in "fV":
        raise TypeError(f"{op}(): expected a floating-point input, got {inp.dtype}")
    if x.ndim > 2 or (x.ndim and x.shape[-1] == 0):  # a 0-dim input is one sample of one class, as torch
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(x.shape)}")
    if tgt._data.dtype != np.int64:
        raise RuntimeError(f"{op}(): expected target of dtype int64 (class indices), got {tgt.dtype}")
    x2 = x.reshape(1, -1) if x.ndim <= 1 else x
    n, c = x2.shape
    t = tgt._data
    if (x.ndim <= 1 and t.size != 1) or (x.ndim == 2 and (t.ndim != 1 or t.shape[0] != n)):
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{n}], but got {list(t.shape)}. Input has "
                           f"shape {list(x.shape)}.")
    t = t.reshape(-1)
    backend_of(x, t)  # one device (several CUDA devices: it becomes the current one)
    if ((t < 0) | (t >= c)).any():
        raise RuntimeError("target out of range")
    w = None
    if weight is not None:
        w = constant_weight(weight, op)
        if w.ndim != 1:
            raise ValueError("weight must be one-dimensional")
        if w.shape[0] != c:
            raise RuntimeError(f"inconsistent weight size, expected {c} but got {list(w.shape)}")
        if w.dtype != x.dtype:
            raise RuntimeError(f"expected scalar type {scalar_name(x.dtype)} but found {scalar_name(w.dtype)} "
                               f"({op}: weight must have the input's dtype)")
    xp = backend_of(x, t, w).xp
    rows = xp.arange(n)
    z = margin - x2[rows, t][:, None] + x2
    active = z > 0
    active[rows, t] = False  # the target's own term is skipped, not clamped
    h = xp.where(active, z if p == 1 else z * z, 0).astype(x.dtype, copy=False)
    scale = xp.full(n, 1.0 / c) if w is None else w[t] / c
    losses = (h.sum(axis=1) * scale).astype(x.dtype, copy=False)
    if reduction == "none":
        out = losses.reshape(()) if x.ndim <= 1 else losses
    else:
        out = _reduce(losses, reduction)

    def backward(g):
        gr = reduced_grad(g, reduction, n).reshape(-1) * scale  # (n,) or (1,), per-row scale
        local = active if p == 1 else 2 * xp.where(active, z, 0)
        gz = (local * gr[:, None]).astype(x.dtype, copy=False)
        gz[rows, t] -= gz.sum(axis=1)
        return (gz.reshape(x.shape), None)

    return record(Tensor._wrap(out), "MultiMarginLossBackward0", (inp, tgt), backward)


@amp_state.fp32_op(2)  # torch's CPU autocast list
def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """torch.nn.functional.hinge_embedding_loss: x where target == 1, max(0, margin - x) where target == -1
    (other target values get both terms, exactly as torch computes it)."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    check_reduction(reduction)
    op = "hinge_embedding_loss"
    inp, tgt = as_tensor(input, op), as_tensor(target, op)
    x, y = inp._data, tgt._data
    if x.dtype.kind not in "fV":
        raise TypeError(f"{op}(): expected a floating-point input, got {inp.dtype}")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise RuntimeError(f"{op}: input of shape {list(x.shape)} and target of shape {list(y.shape)} do not "
                           "broadcast") from None
    xp = backend_of(x, y).xp
    not_pos, not_neg = y != 1, y != -1
    gap = margin - x
    loss = (xp.where(not_pos, xp.maximum(gap, 0), 0) + xp.where(not_neg, x, 0)).astype(x.dtype, copy=False)
    loss = xp.broadcast_to(loss, shape)
    out = _reduce(loss, reduction)
    if reduction == "none":
        out = xp.array(out)  # a writeable result, not a broadcast view
    count = loss.size

    def backward(g):
        # clamp_min passes the gradient where margin - x >= 0 (boundary included), as torch's.
        local = xp.where(not_neg, 1, 0) - xp.where(not_pos & (gap >= 0), 1, 0)
        return (grad_to(local * reduced_grad(g, reduction, count), shape, x.shape, x.dtype), None)

    return record(Tensor._wrap(out), "HingeEmbeddingLossBackward0", (inp, tgt), backward)
