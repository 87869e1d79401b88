"""Weight penalties over many tensors as one op: sum_k sum |p_k| (L1) or sum_k sum p_k^2 (L2).

One node for the whole parameter list instead of an abs/square, a sum and an add per tensor: a model
with a hundred parameter tensors adds one graph node, and backward writes each gradient in one pass."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor


def norm_penalty(tensors, kind: str) -> Tensor:
    """sum of |t| (kind 'l1') or t^2 (kind 'l2') over every element of every tensor, in the widest float
    dtype among them (accumulated in float64); 0-d 0.0 for an empty list."""
    if kind not in ("l1", "l2"):
        raise ValueError(f"norm_penalty(): kind must be 'l1' or 'l2', got {kind!r}")
    ts = list(tensors)
    for t in ts:
        if not isinstance(t, Tensor):
            raise TypeError(f"{kind}_penalty(): expected Tensors (parameters), got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"{kind}_penalty(): expected floating-point tensors, got {t.dtype}")
    dt = np.result_type(*[t._data.dtype for t in ts]) if ts else np.dtype(np.float32)
    xp = backend_of(*[t._data for t in ts]).xp  # the CPU's for an empty list
    total = 0.0
    for t in ts:
        x = t._data
        flat = x.reshape(-1)
        total += float(abs(flat).sum(dtype=np.float64) if kind == "l1"
                       else xp.einsum("i,i->", flat, flat, dtype=np.float64))
    out = xp.asarray(total, dtype=dt)

    def backward(g):
        gs = float(g)
        if kind == "l1":
            return tuple(xp.sign(t._data) * t._data.dtype.type(gs) if t._requires_grad else None for t in ts)
        return tuple(t._data * t._data.dtype.type(2 * gs) if t._requires_grad else None for t in ts)

    return record(Tensor._wrap(out), "L1PenaltyBackward0" if kind == "l1" else "L2PenaltyBackward0", tuple(ts),
                  backward)
