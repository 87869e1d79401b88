"""Special functions NumPy lacks, in ``xp`` calls (so every backend runs them): erfc, erfinv, lgamma,
digamma (and trigamma for its gradient), logit, entr, ndtr, log_ndtr, i0.

Methods (all evaluated in float64, then cast to the input's float dtype):
- erfc: 1 - erf(x) (the backend's erf kernel) for |x| < 2, where erfc >= 4.7e-3 keeps the subtraction's
  relative error ~1e-14; beyond, the continued fraction erfc(a) = exp(-a^2)/sqrt(pi) / (a + 1/2/(a + 1/(a +
  3/2/(a + ...)))) (60 terms, evaluated backwards), which also gives log(erfc) without underflow (log_ndtr).
- erfinv: M. Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single-precision
  polynomial as the start, then three Newton steps on erf(z) = y (on erfc(|z|) = 1 - |y| where |y| > 0.5, whose
  residual keeps full relative precision near +-1).
- lgamma: Lanczos' approximation (g = 7, 9 terms; relative error ~1e-15) for x >= 0.5, the reflection formula
  lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x) below (sin of the argument reduced to [-1/2, 1/2]).
- digamma / trigamma: the recurrences psi(x) = psi(x + 1) - 1/x, psi'(x) = psi'(x + 1) + 1/x^2 up to x >= 10,
  then their asymptotic series to the x^-14 term (error < 1e-17 there); reflection below x = 0.5.
The achieved accuracies are measured against torch in tests/test_special.py.
"""
from __future__ import annotations

import math

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, float_data
from .trig import float_unary
from .arithmetic import add, sub
from .binary_math import _float_operands, _not_differentiable

_SQRT_PI = math.sqrt(math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _f64(x):
    return x if x.dtype.itemsize == 8 else x.astype("float64")


def _erfc_cf(xp, a):
    """The continued-fraction denominator d(a) with erfc(a) = exp(-a^2) / (sqrt(pi) d(a)), for a >= 2."""
    frac = xp.zeros_like(a)
    for k in range(60, 0, -1):
        frac = (k / 2.0) / (a + frac)
    return a + frac


def erfc64(be, x):
    """erfc of a float64 array (see the module docstring)."""
    xp = be.xp
    a = xp.abs(x)
    big = a >= 2.0
    tail = xp.exp(-a * a) / (_SQRT_PI * _erfc_cf(xp, xp.where(big, a, 2.0)))  # erfc(|x|) for |x| >= 2
    pos = xp.where(big, tail, 1.0 - be.erf(a))  # erfc(|x|)
    return xp.where(x < 0, 2.0 - pos, pos)


def _erfc_forward(be, x):
    return erfc64(be, _f64(x)).astype(x.dtype, copy=False)


def _erfc_derivative(be, x, y):
    return x.dtype.type(-2 / _SQRT_PI) * be.xp.exp(-(x * x))


erfc = float_unary("erfc", "ErfcBackward0", _erfc_forward, _erfc_derivative,
                   "The complementary error function 1 - erf(x), accurate in the tails (torch.erfc).")


def _giles(xp, ay, w):
    """Giles' single-precision erfinv polynomial (relative error ~4e-7 over float32's range) at |y| = ay, given
    w = -log((1 - ay)(1 + ay))."""
    central = w < 5.0
    v = xp.where(central, w - 2.5, xp.sqrt(xp.where(central, 5.0, w)) - 3.0)
    pc = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
          -0.00417768164, 0.246640727, 1.50140941)
    pt = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
          0.00943887047, 1.00167406, 2.83297682)
    p1 = xp.full(ay.shape, pc[0])
    p2 = xp.full(ay.shape, pt[0])
    for c1, c2 in zip(pc[1:], pt[1:]):
        p1 = c1 + p1 * v
        p2 = c2 + p2 * v
    return xp.where(central, p1, p2) * ay


def _log_erfc_pos(be, a):
    """log erfc(a) for a >= 0, without underflow (the continued fraction's logarithm from a = 2)."""
    xp = be.xp
    big = a >= 2.0
    ab = xp.where(big, a, 2.0)
    return xp.where(big, -ab * ab - xp.log(_SQRT_PI * _erfc_cf(xp, ab)), xp.log(1.0 - be.erf(xp.where(big, 0.0, a))))


def _erfinv_abs(be, ay, q):
    """erfinv(ay) for 0 <= ay < 1, given q = 1 - ay exactly (the caller may know q better than ay: ndtri)."""
    xp = be.xp
    w = -xp.log(q * (1.0 + ay))
    az = _giles(xp, ay, w)
    # Past float32's range (w > 16, 1 - |y| < 1e-7) Giles' polynomial is extrapolating: start from the tail's
    # asymptotics instead, erfc(z) ~ exp(-z^2) / (z sqrt(pi)), i.e. z^2 = -log q - log(z sqrt(pi)).
    deep = w > 16.0
    mlq = -xp.log(xp.where(deep, q, 1e-8))
    az = xp.where(deep, xp.sqrt(mlq - xp.log(_SQRT_PI * xp.sqrt(mlq))), az)
    tail = ay > 0.5
    log_q = xp.log(xp.where(tail, q, 1.0))
    for _ in range(4):
        # Centre: Newton on erf(z) = |y|. Tail: Newton on log erfc(z) = log(1 - |y|), nearly linear in z^2
        # there, so it converges from Giles' float32-range start even at 1 - |y| = 1e-300.
        central = be.erf(az) - ay
        log_e = _log_erfc_pos(be, az)
        step_c = central / ((2.0 / _SQRT_PI) * xp.exp(-az * az))
        step_t = (log_e - log_q) / (-(2.0 / _SQRT_PI) * xp.exp(-az * az - log_e))
        az = az - xp.where(tail, step_t, step_c)
    return az


def erfinv64(be, y):
    xp = be.xp
    inside = xp.abs(y) < 1.0
    ay = xp.abs(xp.where(inside, y, 0.0))
    az = _erfinv_abs(be, ay, 1.0 - ay)  # 1 - |y| is exact for |y| > 0.5 (Sterbenz)
    z = xp.where(y < 0, -az, az)
    out = xp.where(inside, z, xp.where(xp.abs(y) == 1.0, xp.sign(y) * xp.inf, xp.nan))
    return xp.where(y == 0, y, out)  # keeps -0.0


def ndtri64(be, p):
    """The standard normal quantile: sqrt(2) erfinv(2p - 1), with q = 2 min(p, 1 - p) passed exactly so
    that p = 1e-20 gives -9.26, not -inf (2p - 1 would round to -1)."""
    xp = be.xp
    lower = p < 0.5
    q = xp.where(lower, 2.0 * p, 2.0 * (1.0 - p))
    inside = (p > 0) & (p < 1)
    qs = xp.where(inside, q, 1.0)
    z = math.sqrt(2.0) * _erfinv_abs(be, 1.0 - qs, qs)
    z = xp.where(lower, -z, z)
    edge = xp.where(p == 0, -xp.inf, xp.where(p == 1, xp.inf, xp.nan))
    return xp.where(inside, z, edge)


def _erfinv_forward(be, x):
    return erfinv64(be, _f64(x)).astype(x.dtype, copy=False)


def _erfinv_derivative(be, x, y):
    return x.dtype.type(_SQRT_PI / 2) * be.xp.exp(y * y)


erfinv = float_unary("erfinv", "ErfinvBackward0", _erfinv_forward, _erfinv_derivative,
                     "The inverse error function on (-1, 1); +-inf at +-1, NaN outside (torch.erfinv).")

_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)


def _sin_pi(xp, x):
    """sin(pi x) with x reduced to [-1/2, 1/2] first (exact zeros at the integers)."""
    n = xp.rint(x)
    r = x - n
    odd = xp.remainder(n, 2.0) != 0
    s = xp.sin(math.pi * r)
    return xp.where(odd, -s, s)


def _lgamma_pos(xp, x):
    """Lanczos for x >= 0.5."""
    z = x - 1.0
    acc = xp.full(x.shape, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        acc = acc + c / (z + i)
    t = z + 7.5
    return _LOG_SQRT_2PI + (z + 0.5) * xp.log(t) - t + xp.log(acc)


def lgamma64(be, x):
    xp = be.xp
    low = x < 0.5
    pos = _lgamma_pos(xp, xp.where(low, 1.0 - x, x))  # lgamma(x) or lgamma(1 - x)
    refl = xp.log(math.pi / xp.abs(_sin_pi(xp, x))) - pos
    out = xp.where(low, refl, pos)
    return xp.where(xp.isinf(x), xp.inf, out)  # lgamma(+-inf) = inf


def _digamma_pos(xp, x, order: int):
    """psi (order 0) or psi' (order 1) for x >= 0.5: recurrence up to 10, then the asymptotic series."""
    acc = xp.zeros_like(x)
    z = x
    for _ in range(10):
        m = z < 10.0
        step = 1.0 / z if order == 0 else 1.0 / (z * z)
        acc = acc + xp.where(m, step, 0.0)
        z = xp.where(m, z + 1.0, z)
    r = 1.0 / (z * z)
    if order == 0:
        series = r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r * (1 / 132 - r * (691 / 32760
                                                                                          - r / 12))))))
        return xp.log(z) - 0.5 / z - series - acc
    # psi'(z) = 1/z + 1/(2 z^2) + sum_k B_2k / z^(2k+1)
    series = r * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r * (1 / 30 - r * (5 / 66 - r * (691 / 2730 - r * 7 / 6))))))
    return 1.0 / z + 0.5 * r + series / z + acc


def digamma64(be, x):
    xp = be.xp
    low = x < 0.5
    pos = _digamma_pos(xp, xp.where(low, 1.0 - x, x), 0)
    n = xp.rint(x)
    # pi / tan(pi x), with the argument reduced (tan has period pi); NaN at the poles x = 0, -1, -2 ...
    refl = pos - math.pi / xp.tan(math.pi * (x - n))
    out = xp.where(low, refl, pos)
    out = xp.where(low & (x == n), xp.nan, out)
    out = xp.where(x == 0, -1.0 / x, out)  # psi(+0) = -inf, psi(-0) = +inf, as in PyTorch
    return xp.where(x == xp.inf, xp.inf, out)


def trigamma64(be, x):
    xp = be.xp
    low = x < 0.5
    pos = _digamma_pos(xp, xp.where(low, 1.0 - x, x), 1)
    s = _sin_pi(xp, x)
    return xp.where(low, math.pi ** 2 / (s * s) - pos, pos)


def _via64(fn):
    return lambda be, x: fn(be, _f64(x)).astype(x.dtype, copy=False)


lgamma = float_unary("lgamma", "LgammaBackward0", _via64(lgamma64),
                     lambda be, x, y: _via64(digamma64)(be, x),
                     "log|Gamma(x)| (torch.lgamma); inf at the poles 0, -1, -2 ...")
digamma = float_unary("digamma", "DigammaBackward0", _via64(digamma64),
                      lambda be, x, y: _via64(trigamma64)(be, x),
                      "The digamma function psi = d/dx lgamma (torch.digamma); -inf at +0, NaN at negative integers.")


def logit(input, eps: float | None = None) -> Tensor:  # noqa: A002
    """log(p / (1 - p)); with ``eps``, p is clamped to [eps, 1 - eps] first (zero gradient outside)."""
    a = as_tensor(input, "logit")
    x = float_data(a)
    be = backend_of(x)
    xp = be.xp
    z = x if eps is None else xp.clip(x, x.dtype.type(eps), x.dtype.type(1 - eps))
    with be.errstate(all="ignore"):
        y = xp.log(z / (1 - z))

    def backward(g):
        with be.errstate(all="ignore"):
            d = g / (x * (1 - x))
            if eps is None:
                d = xp.where((x < 0) | (x > 1), xp.nan, d)
            else:
                d = xp.where((x < eps) | (x > 1 - eps), 0, d)
            return (d.astype(g.dtype, copy=False),)

    return record(Tensor._wrap(y), "LogitBackward0", (a,), backward)


def _entr(be, x):
    xp = be.xp
    safe = xp.where(x > 0, x, x.dtype.type(1))
    y = xp.where(x > 0, -x * xp.log(safe), x.dtype.type(0))
    return xp.where(x < 0, -xp.inf, xp.where(xp.isnan(x), x, y)).astype(x.dtype, copy=False)


entr = float_unary("entr", "SpecialEntrBackward0", _entr, lambda be, x, y: -(be.xp.log(x) + 1),
                   "-x log x for x > 0, 0 at 0, -inf below (torch.special.entr).")

def erfcx64(be, x):
    """exp(x^2) erfc(x): 1 / (sqrt(pi) d(x)) from the continued fraction for x >= 2 (no overflow or
    underflow), the product below (which overflows to inf for x < -26.6, as the function does)."""
    xp = be.xp
    big = x >= 2.0
    xb = xp.where(big, x, 2.0)
    xs = xp.where(big, 0.0, x)
    return xp.where(big, 1.0 / (_SQRT_PI * _erfc_cf(xp, xb)), xp.exp(xs * xs) * erfc64(be, xs))


erfcx = float_unary("erfcx", "SpecialErfcxBackward0", _via64(erfcx64),
                    lambda be, x, y: 2 * x * y - x.dtype.type(2 / _SQRT_PI),
                    "The scaled complementary error function exp(x^2) erfc(x) (torch.special.erfcx).")

_SQRT_HALF = math.sqrt(0.5)


def _ndtr(be, x):
    return (0.5 * erfc64(be, -_SQRT_HALF * _f64(x))).astype(x.dtype, copy=False)


def _ndtr_derivative(be, x, y):
    return be.xp.exp(-0.5 * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))


ndtr = float_unary("ndtr", "SpecialNdtrBackward0", _ndtr, _ndtr_derivative,
                   "The standard normal CDF (torch.special.ndtr).")


def log_ndtr64(be, x):
    """log Phi(x): log1p(-Phi(-x)) for x > 0, log(erfc(-x/sqrt 2)/2) for moderate x < 0 and the continued
    fraction's logarithm below -2 sqrt(2) (no underflow: log_ndtr(-40) = -804.6)."""
    xp = be.xp
    a = -_SQRT_HALF * x  # ndtr(x) = erfc(a) / 2
    far = a >= 2.0
    af = xp.where(far, a, 2.0)
    log_far = -af * af - xp.log(_SQRT_PI * _erfc_cf(xp, af)) - math.log(2.0)
    near = xp.where(far, 0.0, x)
    upper = xp.log1p(-0.5 * erfc64(be, _SQRT_HALF * near))  # x > 0: 1 - Phi(-x) kept precise
    lower = xp.log(0.5 * erfc64(be, -_SQRT_HALF * near))
    return xp.where(far, log_far, xp.where(x > 0, upper, lower))


def _log_ndtr_derivative(be, x, y):
    # phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x)) / sqrt(2 pi): no 0/0 in the far left tail.
    return be.xp.exp(-0.5 * x * x - y) * x.dtype.type(1 / math.sqrt(2 * math.pi))


log_ndtr = float_unary("log_ndtr", "SpecialLogNdtrBackward0", _via64(log_ndtr64), _log_ndtr_derivative,
                       "log of the standard normal CDF, accurate in both tails (torch.special.log_ndtr).")
ndtri = float_unary("ndtri", "SpecialNdtriBackward0", _via64(ndtri64),
                    lambda be, x, y: be.xp.exp(0.5 * y * y) * x.dtype.type(math.sqrt(2 * math.pi)),
                    "The standard normal quantile, ndtr's inverse (torch.special.ndtri).")


i0 = float_unary("i0", "I0Backward0", lambda be, x: be.xp.i0(x),
                 lambda be, x, y: _via64(_i1_64_full)(be, x),
                 "The modified Bessel function of the first kind, order 0 (torch.i0).")


# ---- Hurwitz zeta and polygamma --------------------------------------------------------------------------
# zeta(s, q) = sum_k (q + k)^-s: the first terms summed directly until q + k >= min(s + 20, 120), then Euler-Maclaurin's
# tail a^(1-s)/(s-1) + a^-s/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) a^(-s-2j+1) with 10 Bernoulli terms, whose
# j-th term is below 1e-17 of the leading one for a >= s + 20. Domain as Cephes' (and so PyTorch's): s == 1
# gives inf, s < 1 NaN; q a non-positive integer gives inf, a negative non-integer q needs an integer s.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798, -174611 / 330)
_EM_COEF = tuple(b / math.factorial(2 * j) for j, b in enumerate(_BERNOULLI, start=1))


def zeta64(be, s, q):
    xp = be.xp
    s, q = xp.broadcast_arrays(s, q)
    bad_q = (q <= 0) & (q == xp.floor(q))
    nan = (s < 1) | ((q < 0) & (s != xp.floor(s)) & ~bad_q) | xp.isnan(s) | xp.isnan(q)
    ok = ~(nan | bad_q | (s == 1))
    s_ = xp.where(ok, s, 2.0)
    a = xp.where(ok, q, 1.0)
    acc = xp.zeros_like(a)
    # Shift to a >= s + 20, but never past 120: where s > 100 the tail term a^(1-s) is either negligible
    # beside the direct terms or the whole value is within a few hundred orders of magnitude of underflow,
    # and the series' j-th term, (s / (2 pi a))^(2j) relative, stays below 1e-14 there.
    limit = xp.minimum(s_ + 20.0, 120.0)
    while bool(xp.any(a < limit)):  # a data-dependent count: at most |q| + 120 steps
        m = a < limit
        acc = acc + xp.where(m, a ** -s_, 0.0)
        a = xp.where(m, a + 1.0, a)
    tail = a ** (1.0 - s_) / (s_ - 1.0) + 0.5 * a ** -s_
    rising = s_.copy()  # s (s+1) ... (s+2j-2)
    power = a ** (-s_ - 1.0)
    for j, c in enumerate(_EM_COEF, start=1):
        tail = tail + c * rising * power
        rising = rising * (s_ + 2 * j - 1) * (s_ + 2 * j)
        power = power / (a * a)
    out = acc + tail
    out = xp.where(nan, xp.nan, out)
    return xp.where(~nan & (bad_q | (s == 1)), xp.inf, out)


def zeta(input, other) -> Tensor:  # noqa: A002
    """The Hurwitz zeta function sum_k (other + k)^-input (torch.special.zeta; no derivative in PyTorch)."""
    ta, tb, xa, xb, be = _float_operands(input, other, "zeta", ints="promote")
    with be.errstate(all="ignore"):
        y = zeta64(be, _f64(be.xp.asarray(xa)), _f64(be.xp.asarray(xb))).astype(xa.dtype, copy=False)
    return record(Tensor._wrap(y), "SpecialZetaBackward0", (ta, tb), _not_differentiable("special_zeta"))


def polygamma64(be, n: int, x):
    if n == 0:
        return digamma64(be, x)
    if n == 1:
        return trigamma64(be, x)
    xp = be.xp
    return (-1.0) ** (n + 1) * math.factorial(n) * zeta64(be, xp.full(x.shape, n + 1.0), x)


def polygamma(n: int, input) -> Tensor:  # noqa: A002
    """The n-th derivative of digamma (torch.polygamma(n, input)); differentiable (its derivative is order n+1)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    op = float_unary("polygamma", "PolygammaBackward0", _via64(lambda be, x: polygamma64(be, n, x)),
                     lambda be, x, y: _via64(lambda b, v: polygamma64(b, n + 1, v))(be, x))
    return op(input)


# ---- modified Bessel functions of the first kind, orders 0 and 1, and their exponentially scaled forms ----
def _bessel_i_scaled(xp, x, nu: int):
    """exp(-|x|) I_nu(|x|) for nu = 0, 1: the power series up to |x| = 30 (positive terms, no cancellation),
    the asymptotic expansion 1/sqrt(2 pi a) sum_k (-1)^k prod_i (4nu^2 - (2i-1)^2) / (k! (8a)^k) beyond."""
    a = xp.abs(x)
    small = a <= 30.0
    h = xp.where(small, a, 0.0) / 2.0
    term = xp.ones_like(h) if nu == 0 else h.copy()
    total = term.copy()
    h2 = h * h
    for k in range(1, 90):
        term = term * h2 / (k * (k + nu))
        total = total + term
    series = total * xp.exp(-xp.where(small, a, 0.0))
    b = xp.where(small, 31.0, a)
    mu = 4.0 * nu * nu
    coef = 1.0
    asym = xp.ones_like(b)
    inv = 1.0 / (8.0 * b)
    for k in range(1, 12):
        coef = -coef * (mu - (2 * k - 1) ** 2) / k
        asym = asym + coef * inv ** k
    asym = asym / xp.sqrt(2 * math.pi * b)
    return xp.where(small, series, asym)


def _i0e64(be, x):
    return _bessel_i_scaled(be.xp, x, 0)


def _i1e64(be, x):
    return be.xp.sign(x) * _bessel_i_scaled(be.xp, x, 1)


def _i1_64_full(be, x):
    return _i1e64(be, x) * be.xp.exp(be.xp.abs(x))


def _i1_derivative(be, x, y):
    # I1'(x) = I0(x) - I1(x)/x, 1/2 at 0
    xp = be.xp
    x64 = _f64(x)
    safe = xp.where(x64 == 0, 1.0, x64)
    d = xp.where(x64 == 0, 0.5, xp.i0(x64) - _i1_64_full(be, x64) / safe)
    return d.astype(x.dtype, copy=False)


def _i0e_derivative(be, x, y):
    # d/dx exp(-|x|) I0(x) = i1e(x) - sign(x) i0e(x)
    x64 = _f64(x)
    return (_i1e64(be, x64) - be.xp.sign(x64) * _i0e64(be, x64)).astype(x.dtype, copy=False)


def _i1e_derivative(be, x, y):
    # d/dx exp(-|x|) I1(x) = i0e(x) - i1e(x) (sign(x) + 1/x), 1/2 at 0
    xp = be.xp
    x64 = _f64(x)
    safe = xp.where(x64 == 0, 1.0, x64)
    i1e_ = _i1e64(be, x64)
    d = xp.where(x64 == 0, 0.5, _i0e64(be, x64) - i1e_ * (xp.sign(x64) + 1.0 / safe))
    return d.astype(x.dtype, copy=False)


i0e = float_unary("i0e", "SpecialI0EBackward0", _via64(_i0e64), _i0e_derivative,
                  "exp(-|x|) I0(x) (torch.special.i0e).")
i1 = float_unary("i1", "SpecialI1Backward0", _via64(_i1_64_full), _i1_derivative,
                 "The modified Bessel function of the first kind, order 1 (torch.special.i1).")
i1e = float_unary("i1e", "SpecialI1EBackward0", _via64(_i1e64), _i1e_derivative,
                  "exp(-|x|) I1(x) (torch.special.i1e).")


def _no_derivative_unary(name, forward, doc):
    def op(input) -> Tensor:  # noqa: A002
        a = as_tensor(input, name)
        x = float_data(a)
        be = backend_of(x)
        with be.errstate(all="ignore"):
            y = forward(be, x)
        return record(Tensor._wrap(y), f"Special{name.title().replace('_', '')}Backward0", (a,),
                      _not_differentiable(f"special_{name}"))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


modified_bessel_i0 = _no_derivative_unary("modified_bessel_i0", lambda be, x: be.xp.i0(x),
                                          "I0 (torch.special.modified_bessel_i0; no derivative in PyTorch).")
modified_bessel_i1 = _no_derivative_unary("modified_bessel_i1", _via64(_i1_64_full),
                                          "I1 (torch.special.modified_bessel_i1; no derivative in PyTorch).")


def _spherical_j0(be, x):
    xp = be.xp
    safe = xp.where(x == 0, x.dtype.type(1), x)
    return xp.where(x == 0, x.dtype.type(1), xp.sin(safe) / safe)


spherical_bessel_j0 = _no_derivative_unary("spherical_bessel_j0", _spherical_j0,
                                           "sin(x)/x, 1 at 0 (torch.special.spherical_bessel_j0).")


def mvlgamma(input, p: int) -> Tensor:  # noqa: A002
    """The multivariate log-gamma sum_{i<p} lgamma(x - i/2) + p(p-1)/4 log(pi) (torch.mvlgamma)."""
    a = as_tensor(input, "mvlgamma")
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = float_data(a)
    if bool(backend_of(x).xp.any(x <= (p - 1) / 2)):
        raise RuntimeError("All elements must be greater than (p-1)/2")
    if not a.dtype.is_floating_point:
        a = Tensor._wrap(x)
    out = lgamma(a)
    for i in range(1, p):
        out = add(out, lgamma(sub(a, i / 2)))
    return add(out, p * (p - 1) / 4 * math.log(math.pi))
