"""Exact GELU on the native kernels (csrc/cpu/gelu.cpp): one pass each way instead of NumPy's ~9
(float32 / float64; other dtypes take the composite formula)."""
from __future__ import annotations

import numpy as np

from ... import _C
from .layout import dense

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


class CpuActivationKernels:
    def gelu_forward(self, x):
        if x.dtype not in _NATIVE:
            return super().gelu_forward(x)
        return _C.gelu_forward(dense(np.asarray(x)))  # a 0-d result of NumPy arithmetic is a scalar

    def gelu_backward(self, g, x, cdf):
        if x.dtype not in _NATIVE or g.dtype != x.dtype or g.shape != x.shape:
            return super().gelu_backward(g, x, cdf)
        return _C.gelu_backward(dense(np.asarray(g)), dense(np.asarray(x)), dense(np.asarray(cdf)))
