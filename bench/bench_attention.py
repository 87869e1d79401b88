"""Scaled dot-product attention, B4 H8 D64: forward and forward+backward, causal and not, L = 512 and 2048.

fastnn runs its autograd op (the fused kernel), torch F.scaled_dot_product_attention, NumPy the naive
softmax(q k^T / sqrt d) v with in-place softmax (one L x L float32 matrix per head; its backward, naive too,
only at L = 512, where its L x L matrices still fit comfortably). Flops: 4 B H L^2 D for the forward
(halved for causal), backward 2.5x that, so fwd+bwd rows count 3.5x. Forward rows' labels end with the
peak extra bytes of fastnn's kernel against the naive path's L x L scores ("3M/1G"); every row carries
both in its JSON (extra_bytes, naive_extra_bytes).
"""
from __future__ import annotations

import math
import os

import numpy as np

from common import median_time

B, H, D = 4, 8, 64
CASES = [(L, causal, phase) for L in (512, 2048) for causal in (False, True) for phase in ("fwd", "fwd+bwd")]
QUICK = {(512, False, "fwd"), (512, True, "fwd+bwd"), (2048, False, "fwd")}


def _round_up(x, m):
    return (x + m - 1) // m * m


def fastnn_extra_bytes(L: int, phase: str, threads: int, item: int = 4) -> int:
    """Peak scratch of the fused kernel beyond its inputs and outputs, from its buffers (fp32, AVX-512 tiles:
    attention_forward.cpp / attention_backward.cpp): the saved lse, and per thread one head's packed k^T (and
    for the backward q^T, dO^T, k^T, v^T, dQ) plus the query/key tiles."""
    lse = B * H * L * item
    fwd = D * _round_up(L, 32) + D * 48 + 48 * 272 + 48 * D + 19 * 48  # k^T, q tile, scores, O, row state
    if phase == "fwd":
        return lse + threads * fwd * item
    ld_q = _round_up(L, 96)
    bwd = 2 * D * ld_q + 2 * D * _round_up(L, 32) + 2 * ld_q + 2 * 96 * 272 + 2 * 264 * D + ld_q * D
    return lse + threads * max(fwd, bwd) * item


def naive_extra_bytes(L: int, phase: str, item: int = 4) -> int:
    """The naive path's L x L matrices: the scores/probabilities (forward), plus dP and dS (backward)."""
    return B * H * L * L * item * (1 if phase == "fwd" else 3)


def _fmt_bytes(n: int) -> str:
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.0f}{unit}"
    return f"{n}B"


def naive_forward(q, k, v, causal, tril):
    s = q @ np.swapaxes(k, -1, -2)
    s *= np.float32(1 / math.sqrt(q.shape[-1]))
    if causal:
        s[..., ~tril] = -np.inf
    s -= s.max(-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(-1, keepdims=True)
    return s @ v, s


def naive_forward_backward(q, k, v, g, causal, tril):
    out, p = naive_forward(q, k, v, causal, tril)
    dv = np.swapaxes(p, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    dp -= (dp * p).sum(-1, keepdims=True)
    dp *= p
    dp *= np.float32(1 / math.sqrt(q.shape[-1]))
    return out, dp @ k, np.swapaxes(dp, -1, -2) @ q, dv


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    # The labels carry fastnn's scratch, which grows with its threads: every library's worker labels alike.
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    if lib == "fastnn":
        import fastnn
    elif lib == "torch":
        import torch
        import torch.nn.functional as F
    rows = []
    for L, causal, phase in CASES:
        if quick and (L, causal, phase) not in QUICK:
            continue
        if lib == "numpy" and phase == "fwd+bwd" and L > 512:
            continue  # 3 x 512 MiB of L x L matrices per call: skipped, see the docstring
        q, k, v, g = (rng.standard_normal((B, H, L, D), dtype=np.float32) for _ in range(4))
        if lib == "fastnn":
            if phase == "fwd":
                tq, tk, tv = (fastnn.tensor(x) for x in (q, k, v))
                fn = lambda: fastnn.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)  # noqa: E731
            else:
                tq, tk, tv = (fastnn.tensor(x, requires_grad=True) for x in (q, k, v))
                tg = fastnn.tensor(g)

                def fn():
                    fastnn.scaled_dot_product_attention(tq, tk, tv, is_causal=causal).backward(tg)
        elif lib == "torch":
            grad = phase != "fwd"
            tq, tk, tv = (torch.from_numpy(x).requires_grad_(grad) for x in (q, k, v))
            tg = torch.from_numpy(g)
            if grad:
                def fn():
                    F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal).backward(tg)
            else:
                def fn():
                    with torch.no_grad():
                        F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
        else:
            tril = np.tril(np.ones((L, L), bool))
            if phase == "fwd":
                fn = lambda: naive_forward(q, k, v, causal, tril)  # noqa: E731
            else:
                fn = lambda: naive_forward_backward(q, k, v, g, causal, tril)  # noqa: E731
        t = median_time(fn, repeats=3 if quick else 5, warmup=1)
        flops = 4.0 * B * H * L * L * D * (0.5 if causal else 1.0) * (1.0 if phase == "fwd" else 3.5)
        extra, naive = fastnn_extra_bytes(L, phase, threads), naive_extra_bytes(L, phase)
        label = f"L{L}{' causal' if causal else ''} {phase}"
        if phase == "fwd":
            label += f" {_fmt_bytes(extra)}/{_fmt_bytes(naive)}"
        rows.append({"kernel": "attention", "case": label, "seconds": t, "flops": flops, "extra_bytes": extra,
                     "naive_extra_bytes": naive})
    return rows
