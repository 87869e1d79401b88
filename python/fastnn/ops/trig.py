"""Element-wise trigonometric, hyperbolic, exponential and logarithmic functions beyond elementwise.py's
(tan, asin ... atanh, expm1, exp2, log2, log10, reciprocal, rsqrt, square, sinc, deg2rad, rad2deg).

Each op is one forward formula and one derivative formula (dy/dx in terms of x and y) handed to
``float_unary``; integer and bool inputs compute in float32, as PyTorch promotes them."""
from __future__ import annotations

import math

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, float_data
from .arithmetic import mul, pow


def float_unary(name: str, node: str, forward, derivative, doc: str = ""):
    """An op computing ``forward(be, x)`` on x's float data and recording ``g * derivative(be, x, y)``.
    Floating-point warnings are silenced: out-of-domain inputs give NaN/inf as in PyTorch."""

    def op(input) -> Tensor:  # noqa: A002  (PyTorch's argument name)
        a = as_tensor(input, name)
        x = float_data(a)
        be = backend_of(x)
        with be.errstate(all="ignore"):
            y = forward(be, x)

        def backward(g):
            with be.errstate(all="ignore"):
                return ((g * derivative(be, x, y)).astype(g.dtype, copy=False),)

        return record(Tensor._wrap(y), node, (a,), backward)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc or f"Element-wise {name} (PyTorch's torch.{name}); integer inputs give float32."
    return op


def _c(x, value):
    """``value`` as a scalar of x's dtype, so float32 math stays float32."""
    return x.dtype.type(value)


tan = float_unary("tan", "TanBackward0", lambda be, x: be.xp.tan(x), lambda be, x, y: 1 + y * y)
asin = float_unary("asin", "AsinBackward0", lambda be, x: be.xp.arcsin(x),
                   lambda be, x, y: 1 / be.xp.sqrt(1 - x * x))
acos = float_unary("acos", "AcosBackward0", lambda be, x: be.xp.arccos(x),
                   lambda be, x, y: -1 / be.xp.sqrt(1 - x * x))
atan = float_unary("atan", "AtanBackward0", lambda be, x: be.xp.arctan(x), lambda be, x, y: 1 / (1 + x * x))
sinh = float_unary("sinh", "SinhBackward0", lambda be, x: be.xp.sinh(x), lambda be, x, y: be.xp.cosh(x))
cosh = float_unary("cosh", "CoshBackward0", lambda be, x: be.xp.cosh(x), lambda be, x, y: be.xp.sinh(x))
asinh = float_unary("asinh", "AsinhBackward0", lambda be, x: be.xp.arcsinh(x),
                    lambda be, x, y: 1 / be.xp.sqrt(x * x + 1))
acosh = float_unary("acosh", "AcoshBackward0", lambda be, x: be.xp.arccosh(x),
                    lambda be, x, y: 1 / be.xp.sqrt(x * x - 1))
atanh = float_unary("atanh", "AtanhBackward0", lambda be, x: be.xp.arctanh(x), lambda be, x, y: 1 / (1 - x * x))
expm1 = float_unary("expm1", "Expm1Backward0", lambda be, x: be.xp.expm1(x), lambda be, x, y: y + 1)
exp2 = float_unary("exp2", "Exp2Backward0", lambda be, x: be.xp.exp2(x), lambda be, x, y: y * _c(x, math.log(2)))
log2 = float_unary("log2", "Log2Backward0", lambda be, x: be.xp.log2(x),
                   lambda be, x, y: 1 / (x * _c(x, math.log(2))))
log10 = float_unary("log10", "Log10Backward0", lambda be, x: be.xp.log10(x),
                    lambda be, x, y: 1 / (x * _c(x, math.log(10))))
reciprocal = float_unary("reciprocal", "ReciprocalBackward0", lambda be, x: 1 / x, lambda be, x, y: -(y * y))
rsqrt = float_unary("rsqrt", "RsqrtBackward0", lambda be, x: 1 / be.xp.sqrt(x),
                    lambda be, x, y: _c(x, -0.5) * y * y * y)
deg2rad = float_unary("deg2rad", "Deg2RadBackward0", lambda be, x: x * _c(x, math.pi / 180),
                      lambda be, x, y: _c(x, math.pi / 180))
rad2deg = float_unary("rad2deg", "Rad2DegBackward0", lambda be, x: x * _c(x, 180 / math.pi),
                      lambda be, x, y: _c(x, 180 / math.pi))


def _sinc(be, x):
    # sin(pi x) / (pi x), 1 at 0; NumPy's sinc is the same normalised function.
    return be.xp.sinc(x)


def _sinc_derivative(be, x, y):
    # (cos(pi x) - sinc(x)) / x, 0 at x = 0 (PyTorch's sinc_backward).
    xp = be.xp
    zero = x == 0
    safe = xp.where(zero, _c(x, 1), x)
    return xp.where(zero, _c(x, 0), (xp.cos(_c(x, math.pi) * safe) - y) / safe)


sinc = float_unary("sinc", "SincBackward0", _sinc, _sinc_derivative,
                   "Normalised sinc: sin(pi x) / (pi x), 1 at x = 0 (torch.sinc).")


def square(input) -> Tensor:  # noqa: A002
    """input * input; integers stay integers and bools become int64, as torch.square (= pow(x, 2))."""
    a = as_tensor(input, "square")
    if a.dtype.np.kind == "b":
        return pow(a, 2)
    return mul(a, a)


# PyTorch's NumPy-style aliases.
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh
