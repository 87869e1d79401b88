"""Rounding, sign and classification ops: floor, ceil, round, trunc/fix, frac, sgn, signbit, positive/negative,
nan_to_num, isinf/isposinf/isneginf/isreal, and the logical_* functions.

Rounding keeps the input's dtype (floor of an int64 tensor is the identity, as in PyTorch) and has a zero
gradient almost everywhere; classification ops return bool tensors outside the graph."""
from __future__ import annotations

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, binary_operands
from .arithmetic import neg

_KIND_NAME = {"f": "Float", "i": "Long", "b": "Bool"}


def _type_name(x) -> str:
    if x.dtype.kind in "fV":
        return "Double" if x.dtype.itemsize == 8 else "Float"
    return _KIND_NAME[x.dtype.kind]


def _zero_grad(be):
    return lambda g: (be.xp.zeros_like(g),)


def _rounding(name: str, node: str, fn):
    def op(input) -> Tensor:  # noqa: A002
        a = as_tensor(input, name)
        x = a._data
        if x.dtype.kind == "b":
            raise NotImplementedError(f'"{name}_vml_cpu" not implemented for \'Bool\'')
        be = backend_of(x)
        if x.dtype.kind not in "fV":  # integers are already whole: a copy, as PyTorch returns
            return Tensor._wrap(x.copy())
        return record(Tensor._wrap(fn(be.xp, x)), node, (a,), _zero_grad(be))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name}; integer tensors are returned unchanged (a copy); zero gradient."
    return op


floor = _rounding("floor", "FloorBackward0", lambda xp, x: xp.floor(x))
ceil = _rounding("ceil", "CeilBackward0", lambda xp, x: xp.ceil(x))
trunc = _rounding("trunc", "TruncBackward0", lambda xp, x: xp.trunc(x))
fix = trunc


def round(input, *, decimals: int = 0) -> Tensor:  # noqa: A001  (PyTorch's name)
    """Rounds half to even, as torch.round; ``decimals`` rounds x * 10**decimals and scales back."""
    a = as_tensor(input, "round")
    x = a._data
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    if x.dtype.kind == "b":
        raise NotImplementedError("\"round_vml_cpu\" not implemented for 'Bool'")
    if x.dtype.kind not in "fV":
        if decimals != 0:
            raise NotImplementedError(f"\"round_cpu\" not implemented for '{_type_name(x)}'")
        return Tensor._wrap(x.copy())
    be = backend_of(x)
    xp = be.xp
    if decimals == 0:
        y = xp.rint(x)
    else:
        # PyTorch's formula: for decimals > 0 it multiplies by 10**d; for d < 0 it divides by 10**-d
        # (so that 10**d, not representable, is never formed).
        ten = x.dtype.type(10.0 ** abs(decimals))
        with be.errstate(all="ignore"):
            y = xp.rint(x * ten) / ten if decimals > 0 else xp.rint(x / ten) * ten
    return record(Tensor._wrap(y), "RoundBackward1" if decimals else "RoundBackward0", (a,), _zero_grad(be))


def frac(input) -> Tensor:  # noqa: A002
    """x - trunc(x) (sign of x kept); gradient 1. Floating-point only, as in PyTorch."""
    a = as_tensor(input, "frac")
    x = a._data
    if x.dtype.kind not in "fV":
        raise NotImplementedError(f"\"frac_cpu\" not implemented for '{_type_name(x)}'")
    be = backend_of(x)
    with be.errstate(invalid="ignore"):  # frac(+-inf) is NaN, as in PyTorch
        y = x - be.xp.trunc(x)
    return record(Tensor._wrap(y), "FracBackward0", (a,), lambda g: (g,))


def sgn(input) -> Tensor:  # noqa: A002
    """The sign (-1, 0, 1) for real tensors; bools stay bools (x itself); zero gradient."""
    a = as_tensor(input, "sgn")
    x = a._data
    if x.dtype.kind == "b":
        return Tensor._wrap(x.copy())
    be = backend_of(x)
    xp = be.xp
    y = xp.sign(x) if x.dtype.kind not in "fV" else xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))  # sgn(NaN) = 0
    return record(Tensor._wrap(y), "SgnBackward0", (a,), _zero_grad(be))


def signbit(input) -> Tensor:  # noqa: A002
    """Whether the sign bit is set (True for -0.0 and negative NaNs' sign); bool, no gradient."""
    x = as_tensor(input, "signbit")._data
    xp = backend_of(x).xp
    return Tensor._wrap(xp.signbit(x) if x.dtype.kind != "b" else xp.zeros(x.shape, bool))


def positive(input) -> Tensor:  # noqa: A002
    a = as_tensor(input, "positive")
    if a.dtype is dtypes.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return a


def negative(input) -> Tensor:  # noqa: A002
    return neg(as_tensor(input, "negative"))


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:  # noqa: A002
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest), -inf -> ``neginf`` (its lowest);
    the gradient passes where the input is finite."""
    a = as_tensor(input, "nan_to_num")
    x = a._data
    if x.dtype.kind not in "fV":
        return Tensor._wrap(x.copy())
    be = backend_of(x)
    xp = be.xp
    info = xp.finfo(x.dtype)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    y = xp.where(xp.isnan(x), x.dtype.type(nan), x)
    y = xp.where(y == x.dtype.type("inf"), x.dtype.type(hi), y)
    y = xp.where(y == x.dtype.type("-inf"), x.dtype.type(lo), y)
    finite = xp.isfinite(x)
    return record(Tensor._wrap(y), "NanToNumBackward0", (a,), lambda g: (xp.where(finite, g, 0).astype(g.dtype),))


def _classify(name: str, fn):
    def op(input) -> Tensor:  # noqa: A002
        x = as_tensor(input, name)._data
        xp = backend_of(x).xp
        if x.dtype.kind not in "fV":  # integers are never infinite
            return Tensor._wrap(xp.zeros(x.shape, bool))
        return Tensor._wrap(fn(xp, x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"torch.{name}: a bool tensor, outside the graph."
    return op


isinf = _classify("isinf", lambda xp, x: xp.isinf(x))
isposinf = _classify("isposinf", lambda xp, x: xp.isposinf(x))
isneginf = _classify("isneginf", lambda xp, x: xp.isneginf(x))


def isreal(input) -> Tensor:  # noqa: A002
    """True everywhere: fastnn tensors hold no complex numbers."""
    x = as_tensor(input, "isreal")._data
    return Tensor._wrap(backend_of(x).xp.ones(x.shape, bool))


def _logical(name: str, fn_name: str):
    def op(input, other) -> Tensor:  # noqa: A002
        _, _, xa, xb = binary_operands(as_tensor(input, name), as_tensor(other, name), name)
        xp = backend_of(xa, xb).xp
        return Tensor._wrap(getattr(xp, fn_name)(xa != 0, xb != 0))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name} of the inputs' truth values (nonzero is True); a bool tensor."
    return op


logical_and = _logical("logical_and", "logical_and")
logical_or = _logical("logical_or", "logical_or")
logical_xor = _logical("logical_xor", "logical_xor")


def _int_shift(name: str, fn_name: str):
    def op(input, other) -> Tensor:  # noqa: A002
        _, _, xa, xb = binary_operands(as_tensor(input, name), as_tensor(other, name), name)
        if xa.dtype.kind in "fV":
            raise NotImplementedError(f"\"{name.replace('bitwise_', '')}_cpu\" not implemented for "
                                      f"'{_type_name(xa)}'")
        xp = backend_of(xa, xb).xp
        if xa.dtype.kind == "b":
            xa, xb = xa.astype(dtypes.int64.np), xb.astype(dtypes.int64.np)
        return Tensor._wrap(getattr(xp, fn_name)(xa, xb))

    op.__name__ = op.__qualname__ = name
    return op


bitwise_left_shift = _int_shift("bitwise_left_shift", "left_shift")
bitwise_right_shift = _int_shift("bitwise_right_shift", "right_shift")
