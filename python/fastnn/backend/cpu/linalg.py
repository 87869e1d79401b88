"""Linear algebra on the native GEMM (csrc/cpu/gemm*.cpp); integer operands keep NumPy's exact matmul."""
from __future__ import annotations

import math

import numpy as np

from ... import _C

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class CpuLinalgKernels:
    def matmul(self, a, b):
        if a.dtype not in _FLOATS:
            return np.matmul(a, b)  # integer matmul has no native kernel; NumPy's is exact
        if a.ndim == 2 and b.ndim == 2:
            return _C.matmul(a, b)
        m, k = a.shape[-2:]
        n = b.shape[-1]
        if b.ndim == 2:
            # (..., m, k) @ (k, n) is one tall GEMM: the layers' usual case (a Linear over a sequence).
            # Rows are counted, not inferred with -1, which NumPy refuses for empty arrays (k == 0).
            return _C.matmul(a.reshape(math.prod(a.shape[:-1]), k), b).reshape(a.shape[:-2] + (m, n))
        batch = a.shape[:-2]
        if batch != b.shape[:-2]:
            batch = np.broadcast_shapes(batch, b.shape[:-2])
        return _C.matmul(_as_batch3(a, batch), _as_batch3(b, batch)).reshape(batch + (m, n))

    def gemm_into(self, a, b, out, alpha: float = 1.0, beta: float = 0.0):
        _C.gemm(a, b, out, alpha, beta)

    def linear(self, x, w, b, epilogue: str = "none"):
        lead = x.shape[:-1]
        rows = math.prod(lead)  # explicit: reshape(-1, 0) is ambiguous when there are no in-features
        out = _C.linear(x.reshape(rows, x.shape[-1]), w, b, epilogue)
        return out.reshape(lead + (w.shape[0],))

    def pack_bf16(self, b):
        return _C.pack_bf16(b)

    def matmul_bf16(self, a, b, bias=None):
        if isinstance(b, _C.Bf16PackedB) or (b.ndim == 2 and a.ndim >= 2):
            if a.ndim == 2:
                return _C.matmul_bf16(a, b, bias)
            lead = a.shape[:-1]  # (..., m, k) @ (k, n): one tall GEMM, rows counted (k may be 0)
            out = _C.matmul_bf16(a.reshape(math.prod(lead), a.shape[-1]), b, bias)
            return out.reshape(lead + (out.shape[1],))
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul_bf16: shapes {a.shape} and {b.shape} cannot be multiplied")
        # Batched b (attention-style products): one GEMM per matrix of the broadcast batch.
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a3, b3 = _as_batch3(a, batch), _as_batch3(b, batch)
        out = np.empty((a3.shape[0], a.shape[-2], b.shape[-1]), np.float32)
        for i in range(a3.shape[0]):
            out[i] = _C.matmul_bf16(a3[i], b3[i], bias)
        return out.reshape(batch + out.shape[1:])

    def erf(self, x):
        return _C.erf(np.asarray(x))  # a 0-d result of NumPy arithmetic is a scalar; the kernel takes arrays


def _as_batch3(x, batch):
    """x broadcast to ``batch`` and flattened to (prod(batch), rows, cols), without copying when the
    batch dims collapse into one stride (a broadcast operand keeps stride 0)."""
    # np.broadcast_to costs ~5 us in Python; an operand whose batch already matches needs none
    xb = x if x.shape[:-2] == batch else np.broadcast_to(x, batch + x.shape[-2:])
    if len(batch) == 1:
        return xb
    if len(batch) == 0:
        return xb[None]
    return xb.reshape((math.prod(batch),) + x.shape[-2:])  # counted: -1 is ambiguous for empty matrices
