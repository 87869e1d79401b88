"""scaled_dot_product_attention on the backend's fused attention kernel: forward and backward side by side.

out = softmax(q k^T * scale + mask) v over the last two dims, with PyTorch's semantics: ``is_causal`` keeps
key j for query i when j <= i (top-left aligned when Lq != Lk); a boolean ``attn_mask`` keeps the entries
that are True, a float one is added to the scaled scores; masks broadcast over the batch dims. A query row
that no key takes part in gets output 0 and zero gradients (PyTorch 2.x does the same).

A float ``attn_mask`` that requires grad gets one, as in PyTorch: it is the gradient of the scores,
P * (dP - rowsum(dO * O)), summed over its broadcast dims; that one is recomputed with array math and costs
O(Lq Lk), the mask's own size. The fused kernel serves everything else.

The CPU kernel never builds the Lq x Lk matrix: it walks key tiles with an online softmax and saves each
row's logsumexp, from which the backward recomputes the probabilities tile by tile (extra memory O(L d)).
"""
from __future__ import annotations

from .. import amp_state
import math

import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, unbroadcast
from .attention_dropout import sdpa_with_dropout

_OP = "scaled_dot_product_attention"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64), dtypes.bfloat16.np)  # bfloat16: widened by its backend


def _as4(xp, x, batch, tail):
    """x broadcast to batch + tail, as a 4-D (B, H, rows, cols) array: a view when batch has <= 2 dims
    (broadcast dims keep stride 0), a copy only when more batch dims cannot merge into one stride."""
    xb = xp.broadcast_to(x, batch + tail)
    if len(batch) <= 2:
        return xb.reshape((1,) * (2 - len(batch)) + xb.shape)
    return xb.reshape((-1, batch[-1]) + tail)


def _mask_array(be, attn_mask, dtype, batch, lq, lk):
    """attn_mask (a Tensor, or array-like data) as a 4-D array of ``be``: bool as it is, a float one cast to
    the scores' dtype; RuntimeError when it is neither or does not broadcast to (*batch, lq, lk)."""
    m = attn_mask._data if isinstance(attn_mask, Tensor) else be.asarray(attn_mask)
    if m.dtype != np.bool_:
        if m.dtype.kind not in "fV":
            raise RuntimeError(f"{_OP}(): expected attn_mask dtype to be bool or float, got {m.dtype}")
        m = m.astype(dtype, copy=False)
    target = batch + (lq, lk)
    try:
        ok = m.ndim <= len(target) and np.broadcast_shapes(m.shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{_OP}(): attn_mask of shape {tuple(m.shape)} cannot be broadcast to the attention "
                           f"weights' shape {target}")
    return _as4(be.xp, m, batch, (lq, lk))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
                                 scale=None) -> Tensor:
    if amp_state.ACTIVE:  # CPU autocast (torch's list): bf16 q, k, v and float mask; the one test outside it
        query, key, value, attn_mask = amp_state.lower(query, key, value, attn_mask)
    q, k, v = (as_tensor(x, _OP) for x in (query, key, value))
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{_OP}(): dropout probability has to be between 0 and 1, but got {dropout_p}")
    x, y, z = q._data, k._data, v._data
    # The mask's device joins the check: a mask Tensor on another device is refused here, as in PyTorch.
    be = backend_of(x, y, z, attn_mask._data if isinstance(attn_mask, Tensor) else None)
    if x.dtype not in _FLOATS or y.dtype != x.dtype or z.dtype != x.dtype:
        raise RuntimeError(f"{_OP}(): expected query, key and value to have the same dtype, float32 or float64, "
                           f"but got query.dtype: {x.dtype}, key.dtype: {y.dtype} and value.dtype: {z.dtype}")
    if min(x.ndim, y.ndim, z.ndim) < 2:
        raise RuntimeError(f"{_OP}(): expected query, key and value to have at least 2 dims, got shapes "
                           f"{tuple(x.shape)}, {tuple(y.shape)} and {tuple(z.shape)}")
    (lq, d), (lk, dk), (lv, dv) = x.shape[-2:], y.shape[-2:], z.shape[-2:]
    try:
        batch = np.broadcast_shapes(x.shape[:-2], y.shape[:-2], z.shape[:-2])
    except ValueError:
        batch = None
    if dk != d or lv != lk or batch is None:
        raise RuntimeError(f"{_OP}(): shapes query {tuple(x.shape)}, key {tuple(y.shape)} and value "
                           f"{tuple(z.shape)} do not fit (..., Lq, D), (..., Lk, D), (..., Lk, Dv)")
    if attn_mask is not None and is_causal:
        raise RuntimeError(f"{_OP}(): explicit attn_mask should not be set when is_causal=True")
    if scale is not None:
        scale = float(scale)
        if not math.isfinite(scale):
            raise ValueError(f"{_OP}(): scale must be finite, got {scale}")
    if dropout_p != 0.0:  # the fused kernel has no dropout: the composite path (ops/attention_dropout.py)
        if attn_mask is not None:
            _mask_array(be, attn_mask, x.dtype, batch, lq, lk)  # the same mask checks as the fused path
        return sdpa_with_dropout(q, k, v, attn_mask, float(dropout_p), bool(is_causal), scale)
    xp = be.xp
    q4, k4, v4 = _as4(xp, x, batch, (lq, d)), _as4(xp, y, batch, (lk, d)), _as4(xp, z, batch, (lk, dv))
    m4 = None if attn_mask is None else _mask_array(be, attn_mask, x.dtype, batch, lq, lk)
    out4, lse = be.attention_forward(q4, k4, v4, m4, bool(is_causal), scale)
    out = out4.reshape(batch + (lq, dv))
    mask_t = attn_mask if isinstance(attn_mask, Tensor) and attn_mask._requires_grad else None

    def backward(g):
        g4 = g.reshape(out4.shape)
        dq, dk_, dv_ = be.attention_backward(g4, q4, k4, v4, out4, lse, m4, bool(is_causal), scale)
        return (unbroadcast(dq.reshape(batch + (lq, d)), x.shape) if q._requires_grad else None,
                unbroadcast(dk_.reshape(batch + (lk, d)), y.shape) if k._requires_grad else None,
                unbroadcast(dv_.reshape(batch + (lk, dv)), z.shape) if v._requires_grad else None,
                None if mask_t is None else _mask_grad(be, q4, k4, v4, m4, out4, lse, g4, scale, batch, mask_t.shape))

    return record(Tensor._wrap(out), "ScaledDotProductFlashAttentionForCpuBackward0", (q, k, v, mask_t), backward)


def _mask_grad(be, q4, k4, v4, m4, out4, lse, g4, scale, batch, shape):
    """d loss / d attn_mask: P (dP - rowsum(dO O)), with P recomputed from the saved logsumexp."""
    d = q4.shape[-1]
    sc = (1 / math.sqrt(d) if d else 1.0) if scale is None else scale
    xp = be.xp
    s = be.matmul(q4, k4.swapaxes(-1, -2)) * q4.dtype.type(sc) + m4
    dead = xp.isneginf(lse)[..., None]  # rows no key takes part in: P = 0
    with be.errstate(invalid="ignore"):
        p = xp.where(dead, 0, xp.exp(s - xp.where(dead, 0, lse[..., None])))
    dp = be.matmul(g4, v4.swapaxes(-1, -2))
    ds = p * (dp - (g4 * out4).sum(axis=-1, keepdims=True))
    return unbroadcast(ds.reshape(batch + ds.shape[-2:]).astype(q4.dtype, copy=False), shape)
