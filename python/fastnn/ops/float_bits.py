"""Floating-point representation and integer number theory: ldexp, frexp, nextafter, gcd, lcm."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, binary_operands, unbroadcast
from .arithmetic import mul, pow

MantissaExponent = namedtuple("frexp", ["mantissa", "exponent"])
_NAMES = {"f4": "Float", "f8": "Double", "i8": "Long", "b1": "Bool"}


def _type_name(x) -> str:
    return _NAMES[f"{x.dtype.kind}{x.dtype.itemsize}"]


def ldexp(input, other) -> Tensor:  # noqa: A002
    """input * 2**other, computed as PyTorch does (mul(input, pow(2.0, other))): integer operands give
    float32, both operands are differentiable where they are floating point."""
    a = as_tensor(input, "ldexp")
    return mul(a, pow(2.0, as_tensor(other, "ldexp")))


def frexp(input):  # noqa: A002
    """(mantissa, exponent) with input = mantissa * 2**exponent, 0.5 <= |mantissa| < 1 (torch.frexp).
    The exponent is int32, as PyTorch's."""
    a = as_tensor(input, "frexp")
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes, got {_type_name(x)}")
    be = backend_of(x)
    xp = be.xp
    m, e = xp.frexp(x)
    e = e.astype(dtypes.int32.np)
    step = xp.exp2(xp.asarray(e, dtype=x.dtype))  # 2**e, subnormal for the tiniest inputs (torch divides by it too)

    def backward(g):
        with be.errstate(all="ignore"):
            return (g / step,)

    mant = record(Tensor._wrap(m), "FrexpBackward0", (a,), backward)
    return MantissaExponent(mant, Tensor._wrap(e))


def nextafter(input, other) -> Tensor:  # noqa: A002
    """The next float after input toward other (torch.nextafter); the gradient passes to input."""
    ta, tb, xa, xb = binary_operands(as_tensor(input, "nextafter"), as_tensor(other, "nextafter"), "nextafter")
    if xa.dtype.kind not in "fV":
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{_type_name(xa)}'")
    xp = backend_of(xa, xb).xp
    y = xp.nextafter(xa, xb)
    return record(Tensor._wrap(y), "NextafterBackward0", (ta, tb),
                  lambda g: (unbroadcast(g, ta.shape) if ta._requires_grad else None,
                             unbroadcast(xp.zeros_like(g), tb.shape) if tb._requires_grad else None))


def _integer_op(name, fn):
    def op(input, other) -> Tensor:  # noqa: A002
        _, _, xa, xb = binary_operands(as_tensor(input, name), as_tensor(other, name), name)
        if xa.dtype.kind != "i":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_type_name(xa)}'")
        return Tensor._wrap(getattr(backend_of(xa, xb).xp, fn)(xa, xb))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} of integer tensors (non-negative; {name}(0, 0) = 0), as torch.{name}."
    return op


gcd = _integer_op("gcd", "gcd")
lcm = _integer_op("lcm", "lcm")
