"""The cross-entropy of probabilities at integer labels, as Keras computes it (``from_logits=False``):
-log(clip(p[label] / sum(p), eps, 1 - eps)) per sample, as one node. Written out it is nine small ops and
their nodes per batch (gather, sum, divide, clamp, log, ...); as one it is a few array passes, with the
backward in closed form: with s = sum(p) and q = p[label] / s, d/dp_j = (1 - [j = label] / q) / s where
the clip is inactive, 0 where it clips (as clamp's gradient)."""
from __future__ import annotations

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor


def sparse_probs_crossentropy(probs: Tensor, labels, eps: float) -> Tensor:
    """``probs`` (..., C) floating, ``labels`` an int array of shape (...) on the same backend, in [0, C)
    (the caller checks the range)."""
    p = probs._data
    be = backend_of(p, labels)
    xp = be.xp
    s = p.sum(-1)
    picked = xp.take_along_axis(p, labels[..., None], -1)[..., 0]
    with be.errstate(divide="ignore", invalid="ignore"):  # an all-zero row gives NaN, as p / sum(p) does
        q = picked / s
    lo, hi = p.dtype.type(eps), p.dtype.type(1.0 - eps)
    out = -xp.log(xp.clip(q, lo, hi))

    def backward(g):
        active = (q >= lo) & (q <= hi)
        with be.errstate(divide="ignore", invalid="ignore"):
            coef = xp.where(active, g / s, p.dtype.type(0))[..., None]
        at_label = xp.arange(p.shape[-1]) == labels[..., None]
        safe_q = xp.where(active, q, p.dtype.type(1))[..., None]
        return (coef * (1 - at_label / safe_q)).astype(p.dtype, copy=False),

    return record(Tensor._wrap(out.astype(p.dtype, copy=False)), "SparseProbsCrossentropyBackward", (probs,),
                  backward)
