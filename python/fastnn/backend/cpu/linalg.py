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
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        return _C.matmul(_as_batch3(a, batch), _as_batch3(b, batch)).reshape(batch + (m, n))

    def gemm_into(self, a, b, out, alpha: float = 1.0, beta: float = 0.0):
        _C.gemm(a, b, out, alpha, beta)

    def linear(self, x, w, b, epilogue: str = "none"):
        lead = x.shape[:-1]
        rows = math.prod(lead)  # explicit: reshape(-1, 0) is ambiguous when there are no in-features
        out = _C.linear(x.reshape(rows, x.shape[-1]), w, b, epilogue)
        return out.reshape(lead + (w.shape[0],))

    def erf(self, x):
        return _C.erf(np.asarray(x))  # a 0-d result of NumPy arithmetic is a scalar; the kernel takes arrays


def _as_batch3(x, batch):
    """x broadcast to ``batch`` and flattened to (prod(batch), rows, cols), without copying when the
    batch dims collapse into one stride (a broadcast operand keeps stride 0)."""
    xb = np.broadcast_to(x, batch + x.shape[-2:])
    if len(batch) == 1:
        return xb
    if len(batch) == 0:
        return xb[None]
    return xb.reshape((math.prod(batch),) + x.shape[-2:])  # counted: -1 is ambiguous for empty matrices
