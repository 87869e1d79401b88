"""scaled_dot_product_attention with dropout_p > 0: the composite path (torch's math reference).

The fused kernel has no dropout, so with dropout_p > 0 the attention is spelled out with differentiable ops:
scores = q k^T * scale (+ float mask, or -inf where a bool / causal mask excludes), P = softmax(scores),
dropout on P (the device's generator; always applied, as torch's function has no training flag: modules pass
dropout_p=0.0 in eval), out = P v. A query row that no key takes part in gets 0 (as the fused kernel)."""
from __future__ import annotations

import math

from .._tensor import Tensor
from ..backend import backend_of
from . import activation as _act
from . import arithmetic as _arith
from . import elementwise as _elem
from . import shape as _shape
from .dropout import dropout
from .linalg import matmul


def sdpa_with_dropout(q: Tensor, k: Tensor, v: Tensor, attn_mask, dropout_p: float, is_causal: bool,
                      scale) -> Tensor:
    xp = backend_of(q._data).xp
    d = q.shape[-1]
    lq, lk = q.shape[-2], k.shape[-2]
    sc = (1 / math.sqrt(d) if d else 1.0) if scale is None else float(scale)
    scores = _arith.mul(matmul(q, _shape.transpose(k, -2, -1)), sc)
    keep = None
    if is_causal:
        keep = Tensor._wrap(xp.tril(xp.ones((lq, lk), bool)))
    elif attn_mask is not None:
        m = attn_mask if isinstance(attn_mask, Tensor) else Tensor._wrap(xp.asarray(attn_mask))
        if m.dtype.name == "bool":
            keep = m
        else:
            scores = _arith.add(scores, m.to(q.dtype))
    if keep is not None:
        scores = _elem.where(keep, scores, float("-inf"))
    probs = _act.softmax(scores, -1)
    dead = Tensor._wrap(xp.isnan(probs._data))  # all keys excluded: softmax of -inf everywhere
    if bool(dead._data.any()):
        probs = _elem.where(dead, 0.0, probs)
    return matmul(dropout(probs, dropout_p, True), v)
