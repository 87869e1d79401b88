"""Linear algebra kernels in ``xp`` calls: the references of backend/cpu/linalg.py."""
from __future__ import annotations

import math


class LinalgKernels:
    def matmul(self, a, b):
        """a @ b for arrays of >= 2 dims with broadcasting batch dims (NumPy's matmul semantics)."""
        return self.xp.matmul(a, b)

    def gemm_into(self, a, b, out, alpha: float = 1.0, beta: float = 0.0):
        """out = alpha * (a @ b) + beta * out, for 2-D arrays, written into ``out``."""
        prod = self.xp.matmul(a, b)
        if alpha != 1.0:
            prod *= alpha
        if beta == 0.0:
            out[...] = prod
        else:
            if beta != 1.0:
                out *= beta
            out += prod

    def linear(self, x, w, b, epilogue: str = "none"):
        """epilogue(x @ w.T + b) over the last dim of x; epilogue is 'none', 'relu' or 'gelu' (erf form).

        A NaN stays NaN through 'relu' (maximum propagates it), as in PyTorch; inf and NaN inputs give IEEE
        results without warnings, as the native kernels do."""
        xp = self.xp
        if epilogue not in ("none", "relu", "gelu"):
            raise ValueError(f"linear(): unknown epilogue {epilogue!r}")
        with self.errstate(all="ignore"):
            y = xp.matmul(x, w.T)
            if b is not None:
                y += b
            if epilogue == "relu":
                y = xp.maximum(y, 0).astype(y.dtype, copy=False)
            elif epilogue == "gelu":
                y = y * (0.5 * (1 + self.erf(y * y.dtype.type(1 / math.sqrt(2)))))
        return y

    def erf(self, x):
        """The error function, element-wise (NumPy has none; Abramowitz-Stegun 7.1.26's 1e-7 absolute
        error is too coarse for float64 gradchecks, so a series and a continued fraction)."""
        xp = self.xp
        x = xp.asarray(x)
        return _erf_via_erfc(xp, x)


def _erf_via_erfc(xp, x):
    """erf(x) with relative error ~1e-7 in float32 and ~1e-13 in float64: a Taylor series for |x| < 2
    and the complementary function's continued fraction beyond (converges fast there)."""
    dt = x.dtype
    a = xp.abs(x).astype(xp.float64)
    small = a < 2.0
    s = xp.where(small, a, 0.0)
    # Taylor: erf(s) = 2/sqrt(pi) * sum_n (-1)^n s^(2n+1) / (n! (2n+1)); 40 terms reach 1e-16 at s = 2.
    term = s.copy()
    total = s.copy()
    s2 = s * s
    for n in range(1, 40):
        term = -term * s2 / n
        total = total + term / (2 * n + 1)
    series = total * (2.0 / math.sqrt(math.pi))
    # Continued fraction (Lentz) for erfc at a >= 2: erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + ...
    big = xp.where(small, 2.0, a)
    frac = xp.zeros_like(big)
    for k in range(60, 0, -1):
        frac = (k / 2.0) / (big + frac)
    erfc = xp.exp(-big * big) / math.sqrt(math.pi) / (big + frac)
    out = xp.where(small, series, 1.0 - erfc)
    return (xp.sign(x) * out).astype(dt, copy=False)
