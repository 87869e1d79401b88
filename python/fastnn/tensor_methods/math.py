"""Tensor methods: trigonometric, rounding, special functions, binary math, scans, norms.

Declared on a plain class with PyTorch's signatures, each delegating to its op; ``tensor_methods.attach``
copies them onto ``Tensor`` when ``_tensor`` has finished importing, so they live in ``Tensor.__dict__``
exactly as if written there (no lookup through a base class)."""
from __future__ import annotations

from ..ops import arithmetic as _arith
from ..ops import binary_math as _binary_math
from ..ops import complex_parts as _complex_parts
from ..ops import cumulative as _cumulative
from ..ops import float_bits as _float_bits
from ..ops import norms as _norms
from ..ops import rounding as _rounding
from ..ops import special_math as _special_math
from ..ops import stats as _stats
from ..ops import trig as _trig
from .._tensor import Tensor


class MathMethods:
    # (ops/trig.py, rounding.py, special_math.py, binary_math.py, cumulative.py, stats.py, norms.py)
    def tan(self) -> "Tensor":
        return _trig.tan(self)

    def asin(self) -> "Tensor":
        return _trig.asin(self)

    def acos(self) -> "Tensor":
        return _trig.acos(self)

    def atan(self) -> "Tensor":
        return _trig.atan(self)

    def sinh(self) -> "Tensor":
        return _trig.sinh(self)

    def cosh(self) -> "Tensor":
        return _trig.cosh(self)

    def asinh(self) -> "Tensor":
        return _trig.asinh(self)

    def acosh(self) -> "Tensor":
        return _trig.acosh(self)

    def atanh(self) -> "Tensor":
        return _trig.atanh(self)

    def arcsin(self) -> "Tensor":
        return _trig.arcsin(self)

    def arccos(self) -> "Tensor":
        return _trig.arccos(self)

    def arctan(self) -> "Tensor":
        return _trig.arctan(self)

    def arcsinh(self) -> "Tensor":
        return _trig.arcsinh(self)

    def arccosh(self) -> "Tensor":
        return _trig.arccosh(self)

    def arctanh(self) -> "Tensor":
        return _trig.arctanh(self)

    def expm1(self) -> "Tensor":
        return _trig.expm1(self)

    def exp2(self) -> "Tensor":
        return _trig.exp2(self)

    def log2(self) -> "Tensor":
        return _trig.log2(self)

    def log10(self) -> "Tensor":
        return _trig.log10(self)

    def reciprocal(self) -> "Tensor":
        return _trig.reciprocal(self)

    def sinc(self) -> "Tensor":
        return _trig.sinc(self)

    def deg2rad(self) -> "Tensor":
        return _trig.deg2rad(self)

    def rad2deg(self) -> "Tensor":
        return _trig.rad2deg(self)

    def erfc(self) -> "Tensor":
        return _special_math.erfc(self)

    def erfinv(self) -> "Tensor":
        return _special_math.erfinv(self)

    def lgamma(self) -> "Tensor":
        return _special_math.lgamma(self)

    def digamma(self) -> "Tensor":
        return _special_math.digamma(self)

    def i0(self) -> "Tensor":
        return _special_math.i0(self)

    def logit(self, eps=None) -> "Tensor":
        return _special_math.logit(self, eps)

    def floor(self) -> "Tensor":
        return _rounding.floor(self)

    def ceil(self) -> "Tensor":
        return _rounding.ceil(self)

    def trunc(self) -> "Tensor":
        return _rounding.trunc(self)

    def fix(self) -> "Tensor":
        return _rounding.fix(self)

    def frac(self) -> "Tensor":
        return _rounding.frac(self)

    def sgn(self) -> "Tensor":
        return _rounding.sgn(self)

    def signbit(self) -> "Tensor":
        return _rounding.signbit(self)

    def positive(self) -> "Tensor":
        return _rounding.positive(self)

    def negative(self) -> "Tensor":
        return _rounding.negative(self)

    def isinf(self) -> "Tensor":
        return _rounding.isinf(self)

    def isposinf(self) -> "Tensor":
        return _rounding.isposinf(self)

    def isneginf(self) -> "Tensor":
        return _rounding.isneginf(self)

    def isreal(self) -> "Tensor":
        return _rounding.isreal(self)

    def round(self, *, decimals: int = 0) -> "Tensor":
        return _rounding.round(self, decimals=decimals)

    def nan_to_num(self, nan: float = 0.0, posinf=None, neginf=None) -> "Tensor":
        return _rounding.nan_to_num(self, nan, posinf, neginf)

    def logical_and(self, other) -> "Tensor":
        return _rounding.logical_and(self, other)

    def logical_or(self, other) -> "Tensor":
        return _rounding.logical_or(self, other)

    def logical_xor(self, other) -> "Tensor":
        return _rounding.logical_xor(self, other)

    def bitwise_left_shift(self, other) -> "Tensor":
        return _rounding.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other) -> "Tensor":
        return _rounding.bitwise_right_shift(self, other)

    def bitwise_and(self, other) -> "Tensor":
        return _arith.bitwise_and(self, other)

    def bitwise_or(self, other) -> "Tensor":
        return _arith.bitwise_or(self, other)

    def bitwise_xor(self, other) -> "Tensor":
        return _arith.bitwise_xor(self, other)

    def bitwise_not(self) -> "Tensor":
        return _arith.bitwise_not(self)

    def remainder(self, other) -> "Tensor":
        return _binary_math.remainder(self, other)

    def fmod(self, other) -> "Tensor":
        return _binary_math.fmod(self, other)

    def floor_divide(self, other) -> "Tensor":
        return _binary_math.floor_divide(self, other)

    def atan2(self, other) -> "Tensor":
        return _binary_math.atan2(self, other)

    def arctan2(self, other) -> "Tensor":
        return _binary_math.arctan2(self, other)

    def hypot(self, other) -> "Tensor":
        return _binary_math.hypot(self, other)

    def copysign(self, other) -> "Tensor":
        return _binary_math.copysign(self, other)

    def logaddexp(self, other) -> "Tensor":
        return _binary_math.logaddexp(self, other)

    def logaddexp2(self, other) -> "Tensor":
        return _binary_math.logaddexp2(self, other)

    def xlogy(self, other) -> "Tensor":
        return _binary_math.xlogy(self, other)

    def fmax(self, other) -> "Tensor":
        return _binary_math.fmax(self, other)

    def fmin(self, other) -> "Tensor":
        return _binary_math.fmin(self, other)

    def heaviside(self, values) -> "Tensor":
        return _binary_math.heaviside(self, values)

    def float_power(self, exponent) -> "Tensor":
        return _binary_math.float_power(self, exponent)

    def clamp_min(self, min) -> "Tensor":  # noqa: A002
        return _binary_math.clamp_min(self, min)

    def clamp_max(self, max) -> "Tensor":  # noqa: A002
        return _binary_math.clamp_max(self, max)

    def divide(self, other, *, rounding_mode=None) -> "Tensor":
        return _binary_math.div(self, other, rounding_mode=rounding_mode)

    def lerp(self, end, weight) -> "Tensor":
        return _binary_math.lerp(self, end, weight)

    def addcmul(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return _binary_math.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return _binary_math.addcdiv(self, tensor1, tensor2, value=value)

    def isclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> "Tensor":
        return _binary_math.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
        return _binary_math.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other) -> bool:
        return _binary_math.equal(self, other)

    def __floordiv__(self, other) -> "Tensor":
        return _binary_math.floor_divide(self, other)

    def __rfloordiv__(self, other) -> "Tensor":
        return _binary_math.floor_divide(other, self)

    def __mod__(self, other) -> "Tensor":
        return _binary_math.remainder(self, other)

    def __rmod__(self, other) -> "Tensor":
        return _binary_math.remainder(other, self)

    def __ifloordiv__(self, other) -> "Tensor":
        return self._inplace("__ifloordiv__", _binary_math.floor_divide(self, other))

    def __imod__(self, other) -> "Tensor":
        return self._inplace("__imod__", _binary_math.remainder(self, other))

    def cumsum(self, dim, *, dtype=None) -> "Tensor":
        return _cumulative.cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim, *, dtype=None) -> "Tensor":
        return _cumulative.cumprod(self, dim, dtype=dtype)

    def cummax(self, dim):
        return _cumulative.cummax(self, dim)

    def cummin(self, dim):
        return _cumulative.cummin(self, dim)

    def logcumsumexp(self, dim) -> "Tensor":
        return _cumulative.logcumsumexp(self, dim)

    def nansum(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        return _stats.nansum(self, dim, keepdim, dtype=dtype)

    def nanmean(self, dim=None, keepdim: bool = False, *, dtype=None) -> "Tensor":
        return _stats.nanmean(self, dim, keepdim, dtype=dtype)

    def count_nonzero(self, dim=None) -> "Tensor":
        return _stats.count_nonzero(self, dim)

    def aminmax(self, *, dim=None, keepdim: bool = False):
        return _stats.aminmax(self, dim=dim, keepdim=keepdim)

    def norm(self, p="fro", dim=None, keepdim: bool = False, dtype=None) -> "Tensor":
        return _norms.norm(self, p, dim, keepdim, dtype=dtype)

    def polygamma(self, n: int) -> "Tensor":
        return _special_math.polygamma(n, self)

    def mvlgamma(self, p: int) -> "Tensor":
        return _special_math.mvlgamma(self, p)

    def gcd(self, other) -> "Tensor":
        return _float_bits.gcd(self, other)

    def lcm(self, other) -> "Tensor":
        return _float_bits.lcm(self, other)

    def ldexp(self, other) -> "Tensor":
        return _float_bits.ldexp(self, other)

    def frexp(self):
        return _float_bits.frexp(self)

    def nextafter(self, other) -> "Tensor":
        return _float_bits.nextafter(self, other)

    def angle(self) -> "Tensor":
        return _complex_parts.angle(self)

    def conj(self) -> "Tensor":
        return self

    def conj_physical(self) -> "Tensor":
        return self

    def resolve_conj(self) -> "Tensor":
        return self

    def resolve_neg(self) -> "Tensor":
        return self

    @property
    def real(self) -> "Tensor":
        return self  # a real tensor is its own real part, as in PyTorch

    @property
    def imag(self) -> "Tensor":
        return _complex_parts.imag(self)

    def dist(self, other, p=2) -> "Tensor":
        return _norms.dist(self, other, p)

    def renorm(self, p, dim: int, maxnorm) -> "Tensor":
        return _norms.renorm(self, p, dim, maxnorm)

    # In-place forms for tensors outside the graph (as the other in-place updates above): the op's result
    # written back through _inplace, which refuses tensors that need a gradient.
    def floor_(self) -> "Tensor":
        return self._inplace("floor_", _rounding.floor(self))

    def ceil_(self) -> "Tensor":
        return self._inplace("ceil_", _rounding.ceil(self))

    def trunc_(self) -> "Tensor":
        return self._inplace("trunc_", _rounding.trunc(self))

    def round_(self, *, decimals: int = 0) -> "Tensor":
        return self._inplace("round_", _rounding.round(self, decimals=decimals))

    def nan_to_num_(self, nan: float = 0.0, posinf=None, neginf=None) -> "Tensor":
        return self._inplace("nan_to_num_", _rounding.nan_to_num(self, nan, posinf, neginf))

    def clamp_min_(self, min) -> "Tensor":  # noqa: A002
        return self._inplace("clamp_min_", _binary_math.clamp_min(self, min))

    def clamp_max_(self, max) -> "Tensor":  # noqa: A002
        return self._inplace("clamp_max_", _binary_math.clamp_max(self, max))

    def lerp_(self, end, weight) -> "Tensor":
        return self._inplace("lerp_", _binary_math.lerp(self, end, weight))

    def addcmul_(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return self._inplace("addcmul_", _binary_math.addcmul(self, tensor1, tensor2, value=value))

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> "Tensor":
        return self._inplace("addcdiv_", _binary_math.addcdiv(self, tensor1, tensor2, value=value))
