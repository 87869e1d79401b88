"""bf16 GEMM (fp32 accumulation) beside fp32: squares and a training shape. fastnn's matmul_bf16 takes bf16 bits
(as torch takes bf16 tensors), float32 (rounded while packing: what autocast feeds it, timed with torch's
conversions for the same row) or a B packed once (a weight reused across steps); the fp32 rows are both
libraries' float32 matmul. Rows are % of the bf16 peak the limits probe measured (vdpbf16ps / tdpbf16ps)."""
from __future__ import annotations

import numpy as np

from common import median_time

SHAPES = [("1024^3", 1024, 1024, 1024), ("2048^3", 2048, 2048, 2048), ("256x784x512", 256, 784, 512)]
QUICK = {"1024^3", "256x784x512"}
# (variant, precision): bits = bf16 operands in memory; f32in = float32 operands, converted in the call;
# prepack = bf16 A with B packed beforehand (torch: its bf16 tensors, which have no separate packing step).
VARIANTS = [("bf16", "bf16"), ("bf16 f32in", "bf16"), ("bf16 prepack", "bf16"), ("fp32", "fp32")]


def _to_bf16_bits(x):
    u = x.view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)  # finite inputs


def _calls(lib, a, b):
    """variant -> a zero-argument call, for the library (None where it has no such call)."""
    if lib == "fastnn":
        from fastnn import _C

        ab, bb = _to_bf16_bits(a), _to_bf16_bits(b)
        packed = _C.pack_bf16(bb)
        return {"bf16": lambda: _C.matmul_bf16(ab, bb), "bf16 f32in": lambda: _C.matmul_bf16(a, b),
                "bf16 prepack": lambda: _C.matmul_bf16(ab, packed), "fp32": lambda: _C.matmul(a, b)}
    if lib == "torch":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        ha, hb = ta.bfloat16(), tb.bfloat16()
        return {"bf16": lambda: torch.matmul(ha, hb), "bf16 f32in": lambda: torch.matmul(ta.bfloat16(), tb.bfloat16()),
                "bf16 prepack": lambda: torch.matmul(ha, hb), "fp32": lambda: torch.matmul(ta, tb)}
    return {"fp32": lambda: np.matmul(a, b)}


def run(lib: str, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for label, m, k, n in SHAPES:
        if quick and label not in QUICK:
            continue
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        calls = _calls(lib, a, b)
        for variant, precision in VARIANTS:
            if variant not in calls:
                continue
            t = median_time(calls[variant], repeats=3 if quick else 5)
            rows.append({"kernel": "gemm_bf16", "case": f"{label} {variant}", "precision": precision, "seconds": t,
                         "flops": 2.0 * m * k * n})
    return rows
