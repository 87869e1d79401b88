"""Exact (erf) GELU in ``xp`` calls: the references of backend/cpu/activation.py (csrc/cpu/gelu.cpp)."""
from __future__ import annotations

import math

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class ActivationKernels:
    def gelu_forward(self, x):
        """(y, cdf): y = x * cdf, cdf = (1 + erf(x / sqrt 2)) / 2, which the backward reuses."""
        dt = x.dtype.type
        cdf = dt(0.5) * (1 + self.erf(x * dt(_SQRT1_2)))
        return x * cdf, cdf

    def gelu_backward(self, g, x, cdf):
        """dx = g * (cdf + x * exp(-x^2 / 2) / sqrt(2 pi)): GELU's derivative from x and the saved cdf."""
        dt = x.dtype.type
        return g * (cdf + x * self.xp.exp(dt(-0.5) * x * x) * dt(_INV_SQRT_2PI))
