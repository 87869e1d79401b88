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

    def pack_bf16(self, b):
        """b (k, n), uint16 bf16 bits or float32 (rounded to bf16, nearest even), prepared once for reuse as
        ``matmul_bf16``'s b (a weight across training steps): an opaque handle with ``.shape``."""
        if getattr(b, "ndim", None) != 2:
            raise ValueError(f"pack_bf16: expected b to be 2-D, got shape {tuple(getattr(b, 'shape', ()))}")
        return Bf16Packed(bf16_values(self.xp, b, "pack_bf16", "b"))

    def matmul_bf16(self, a, b, bias=None):
        """a @ b (+ bias) in bf16 with fp32 accumulation, returned as float32. a (..., m, k) and b (..., k, n)
        (batch dims broadcast, as matmul) or b a ``pack_bf16`` handle; each is uint16 bf16 bits or float32,
        rounded to bf16 (nearest even) first; bias float32 (n,). The bf16 products are exact in float32, which
        sums them (the kernels' contract; only the order of the sums differs)."""
        xp = self.xp
        av = bf16_values(xp, a, "matmul_bf16", "a")
        bv = b.values if isinstance(b, Bf16Packed) else bf16_values(xp, b, "matmul_bf16", "b")
        if av.ndim < 2 or bv.ndim < 2 or av.shape[-1] != bv.shape[-2]:
            raise ValueError(f"matmul_bf16: shapes {tuple(av.shape)} and {tuple(bv.shape)} cannot be multiplied")
        with self.errstate(all="ignore"):
            out = xp.matmul(av, bv)
            if bias is not None:
                if bias.dtype != xp.float32:
                    raise TypeError(f"matmul_bf16: expected bias to be float32, got {bias.dtype}")
                if bias.shape != (bv.shape[-1],):
                    raise ValueError(f"matmul_bf16: bias must be a 1-D array of length {bv.shape[-1]}, got shape "
                                     f"{tuple(bias.shape)}")
                out += bias
        return out

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


class Bf16Packed:
    """The composite backend's ``pack_bf16`` result: B's bf16 values, held as float32 (exact)."""

    def __init__(self, values):
        self.values = values
        self.shape = tuple(values.shape)


def bf16_values(xp, x, op, name):
    """x's bf16 values as float32: uint16 bits widened, float32 rounded to nearest even (NaN kept, quiet)."""
    if x.dtype == xp.uint16:
        return (x.astype(xp.uint32) << 16).view(xp.float32)
    if x.dtype != xp.float32:
        raise TypeError(f"{op}: expected {name} to be uint16 (bf16 bits) or float32, got {x.dtype}")
    u = xp.ascontiguousarray(x).view(xp.uint32)
    rounded = (u + xp.uint32(0x7FFF) + ((u >> 16) & xp.uint32(1))) & xp.uint32(0xFFFF0000)
    nan = (u & xp.uint32(0x7FFFFFFF)) > xp.uint32(0x7F800000)
    return xp.where(nan, (u | xp.uint32(0x00400000)) & xp.uint32(0xFFFF0000), rounded).view(xp.float32)
