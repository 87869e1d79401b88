"""attention kernels in ``xp`` calls: the references of backend/cpu/attention.py (csrc/cpu/attention_*.cpp).

Scaled dot-product attention over 4-D (batch, heads, length, dim) float arrays, any strides (0 for a
broadcast operand). This one builds the whole (Lq, Lk) score matrix per head, which the fused native
kernel never does; the results are the same.

    S = q k^T * scale (+ mask),  P = softmax_rows(S),  out = P v,  lse = logsumexp_rows(S)

scale None means 1/sqrt(d) (1 when d = 0). A bool mask keeps the keys that are True (False sets the score
to -inf), a float mask (q's dtype) is added to the scores; either broadcasts to (B, H, Lq, Lk) from up to
4 trailing dims. ``is_causal`` keeps key j for query i when j <= i, aligned top-left when Lq != Lk; it and
a mask exclude each other. A row with no key left ("dead": every score -inf) has output 0 and lse -inf,
and gets zero gradients. The arithmetic runs under ``errstate(all="ignore")``: like the native kernels,
these return IEEE results (inf, NaN) without warnings.
"""
from __future__ import annotations

import math

import numpy as np

_FLOAT_KINDS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_qkv(q, k, v, op):
    if q.dtype not in _FLOAT_KINDS:
        raise TypeError(f"{op}: expected query to be float32 or float64, got {q.dtype}")
    if k.dtype != q.dtype or v.dtype != q.dtype:
        raise TypeError(f"{op}: query, key and value must share a dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"{op}: expected 4-D query, key and value (batch, heads, length, dim), got shapes "
                         f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}")
    if k.shape[:2] != q.shape[:2] or v.shape[:2] != q.shape[:2] or k.shape[3] != q.shape[3] or \
            v.shape[2] != k.shape[2]:
        raise ValueError(f"{op}: shapes query {tuple(q.shape)}, key {tuple(k.shape)}, value {tuple(v.shape)} "
                         "do not fit (B, H, Lq, D), (B, H, Lk, D), (B, H, Lk, Dv)")


def _scale_of(scale, d, op):
    if scale is None:
        return 1.0 / math.sqrt(d) if d > 0 else 1.0
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"{op}: scale must be finite")
    return scale


def _check_mask(mask, is_causal, q, target, op):
    if mask is None:
        return
    if is_causal:
        raise ValueError(f"{op}: an explicit attn_mask should not be set when is_causal=True")
    if mask.dtype != np.bool_ and mask.dtype != q.dtype:
        raise TypeError(f"{op}: attn_mask must be bool or the query's dtype ({q.dtype}), got {mask.dtype}")
    if mask.ndim > 4:
        raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} has more than 4 dims")
    # Broadcast one way only: a mask dim may be 1 or the target's, never widen the target.
    if any(m != t and m != 1 for m, t in zip(mask.shape[::-1], target[::-1])):
        raise ValueError(f"{op}: attn_mask of shape {tuple(mask.shape)} cannot be broadcast to {target}")


def check_backward(grad_out, q, k, v, out, lse, mask, is_causal, scale):
    """attention_backward's argument checks (every backend's): returns (b, h, lq, d, lk, dv, scale)."""
    op = "attention_backward"
    _check_qkv(q, k, v, op)
    b, h, lq, d = q.shape
    lk, dv = k.shape[2], v.shape[3]
    for a in (grad_out, out, lse):
        if a.dtype != q.dtype:
            raise TypeError(f"{op}: grad_out, out and lse must have the query's dtype {q.dtype}, got {a.dtype}")
    if out.shape != (b, h, lq, dv) or grad_out.shape != (b, h, lq, dv) or lse.shape != (b, h, lq):
        raise ValueError(f"{op}: out {tuple(out.shape)}, grad_out {tuple(grad_out.shape)} and lse "
                         f"{tuple(lse.shape)} do not match query {tuple(q.shape)} and value {tuple(v.shape)}")
    _check_mask(mask, is_causal, q, (b, h, lq, lk), op)
    return b, h, lq, d, lk, dv, _scale_of(scale, d, op)


class AttentionKernels:
    def _scores(self, q, k, mask, is_causal: bool, scale: float):
        """S = q k^T * scale with the mask and the causal rule applied: (B, H, Lq, Lk) in q's dtype."""
        xp = self.xp
        s = xp.matmul(q, k.swapaxes(-1, -2)) * q.dtype.type(scale)
        if mask is not None:
            s = xp.where(mask, s, -xp.inf) if mask.dtype == np.bool_ else s + mask
        if is_causal:
            lq, lk = s.shape[-2:]
            s = xp.where(xp.arange(lk)[None, :] <= xp.arange(lq)[:, None], s, -xp.inf)
        return s

    def attention_forward(self, q, k, v, mask, is_causal: bool, scale):
        """softmax(S) v and each row's logsumexp of S (S as in the module docstring). q (B, H, Lq, D),
        k (B, H, Lk, D), v (B, H, Lk, Dv). Returns (out (B, H, Lq, Dv), lse (B, H, Lq)) in q's dtype; a
        dead row has out 0 and lse -inf."""
        xp = self.xp
        op = "attention_forward"
        _check_qkv(q, k, v, op)
        b, h, lq, d = q.shape
        lk, dv = k.shape[2], v.shape[3]
        _check_mask(mask, is_causal, q, (b, h, lq, lk), op)
        sc = _scale_of(scale, d, op)
        if lk == 0:  # no keys: every row is dead (and a max over no scores is undefined)
            return xp.zeros((b, h, lq, dv), q.dtype), xp.full((b, h, lq), -xp.inf, q.dtype)
        with self.errstate(all="ignore"):
            s = self._scores(q, k, mask, is_causal, sc)
            m = s.max(axis=-1, keepdims=True)
            dead = m == -xp.inf
            # Exponents relative to 0 on a dead row: exp(-inf) = 0 everywhere, not exp(-inf + inf) = NaN.
            p = xp.exp(s - xp.where(dead, 0, m))
            total = p.sum(axis=-1, keepdims=True)
            live = total > 0
            out = xp.matmul(p, v) / xp.where(live, total, 1)
            lse = xp.where(live, m + xp.log(total), -xp.inf)[..., 0]  # log(0) = -inf on a dead row is the answer
        return out.astype(q.dtype, copy=False), lse.astype(q.dtype, copy=False)

    def attention_backward(self, grad_out, q, k, v, out, lse, mask, is_causal: bool, scale):
        """Gradients (dq, dk, dv) of attention_forward from its out and lse (same mask, causal flag and
        scale). With P = exp(S - lse) recomputed (0 on dead rows), dP = dO v^T and D = rowsum(dO * out):

            dS = P (dP - D) scale,   dq = dS k,   dk = dS^T q,   dv = P^T dO

        Returns arrays of q's, k's and v's full 4-D shapes (broadcast operands are not summed back)."""
        xp = self.xp
        b, h, lq, d, lk, dv, sc = check_backward(grad_out, q, k, v, out, lse, mask, is_causal, scale)
        if lk == 0:
            return xp.zeros(q.shape, q.dtype), xp.zeros(k.shape, q.dtype), xp.zeros(v.shape, q.dtype)
        with self.errstate(all="ignore"):
            s = self._scores(q, k, mask, is_causal, sc)
            # A dead row subtracts +inf: every P of it is exactly 0 (S - inf = -inf), no NaN from -inf - -inf.
            lse_use = xp.where(lse == -xp.inf, xp.inf, lse)[..., None]
            p = xp.exp(s - lse_use)
            dp = xp.matmul(grad_out, v.swapaxes(-1, -2))
            delta = (grad_out * out).sum(axis=-1, keepdims=True)
            ds = p * (dp - delta) * q.dtype.type(sc)
            dq = xp.matmul(ds, k)
            dk = xp.matmul(ds.swapaxes(-1, -2), q)
            dv_ = xp.matmul(p.swapaxes(-1, -2), grad_out)
        return (dq.astype(q.dtype, copy=False), dk.astype(q.dtype, copy=False), dv_.astype(q.dtype, copy=False))
