"""Broadcasting arithmetic and comparisons, each forward beside its backward."""
from __future__ import annotations

import operator

import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from ..backend import registry as _registry
from .._tensor import Tensor
from ._util import binary_operands, on_device, unbroadcast
from .arg_checks import check_fits


def _shape(t, x):
    return t.shape if t is not None else ()


def add_same_shape(a, b) -> Tensor:
    """``a + b`` (the ``+`` operator): two tensors of one shape and dtype — the common case — skip
    promotion, broadcasting and the alpha factor (1.96 -> 1.5 us for a tiny tensor); others go to add."""
    if type(b) is Tensor:
        if _registry.ACTIVATES:
            on_device(a, b)
        xa, xb = a._data, b._data
        # (one array type: one device; two go to add, whose operands check raises PyTorch's error)
        if xa.shape == xb.shape and xa.dtype == xb.dtype and xa.dtype.kind != "b" and type(xa) is type(xb):
            return record(Tensor._wrap(xa + xb), "AddBackward0", (a, b), _pass_through_both)
    return add(a, b)


def _pass_through_both(g):
    return g, g


def _check_alpha(alpha, x) -> None:
    """torch's checks of ``alpha`` against the result's dtype (that of the promoted operand ``x``)."""
    kind = x.dtype.kind if hasattr(x, "dtype") else \
        ("b" if isinstance(x, bool) else "i" if isinstance(x, int) else "f")
    if isinstance(alpha, (bool, np.bool_)) and kind != "b":
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, (float, np.floating)) and kind in "biu":
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if kind == "f" and hasattr(x, "dtype"):
        check_fits(alpha, x.dtype)  # alpha=1e308 on float32: torch's overflow error


def add(a, b, *, alpha=1) -> Tensor:
    ta, tb, xa, xb = binary_operands(a, b, "add")
    if type(alpha) is not int:  # the default int 1 needs no check (the fast path stays fast)
        _check_alpha(alpha, xa)
    if alpha != 1:
        xb = xb * alpha
    out = Tensor._wrap(xa + xb)

    def backward(g):
        return (unbroadcast(g, ta.shape) if ta is not None else None,
                unbroadcast(g * alpha if alpha != 1 else g, tb.shape) if tb is not None else None)

    return record(out, "AddBackward0", (ta, tb), backward)


def _is_bool(x) -> bool:
    return x.dtype is dtypes.bool_ if isinstance(x, Tensor) else isinstance(x, (bool, np.bool_))


def sub(a, b, *, alpha=1) -> Tensor:
    if _is_bool(a) or _is_bool(b):
        # As PyTorch: x - mask is almost always a bug for ~mask (NumPy refuses bool - bool only).
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    ta, tb, xa, xb = binary_operands(a, b, "sub")
    if type(alpha) is not int:
        _check_alpha(alpha, xa)
    out = Tensor._wrap(xa - (xb * alpha if alpha != 1 else xb))

    def backward(g):
        return (unbroadcast(g, ta.shape) if ta is not None else None,
                unbroadcast(-alpha * g, tb.shape) if tb is not None else None)

    return record(out, "SubBackward0", (ta, tb), backward)


def mul(a, b) -> Tensor:
    ta, tb, xa, xb = binary_operands(a, b, "mul")
    out = Tensor._wrap(xa * xb)

    def backward(g):
        return (unbroadcast(g * xb, ta.shape) if ta is not None and ta._requires_grad else None,
                unbroadcast(g * xa, tb.shape) if tb is not None and tb._requires_grad else None)

    return record(out, "MulBackward0", (ta, tb), backward)


def div(a, b) -> Tensor:
    ta, tb, xa, xb = binary_operands(a, b, "div")
    # xa and xb are arrays or NumPy scalars (binary_operands casts a Python number), so both have a dtype.
    if xa.dtype.kind not in "fV":  # true division of integers gives float32, as in PyTorch
        xa, xb = xa.astype(np.float32), xb.astype(np.float32)
    be = backend_of(xa if ta is not None else None, xb if tb is not None else None)  # a scalar has no device
    with be.errstate(divide="ignore", invalid="ignore"):
        out = Tensor._wrap(xa / xb)

    def backward(g):
        with be.errstate(divide="ignore", invalid="ignore"):
            ga = unbroadcast(g / xb, ta.shape) if ta is not None and ta._requires_grad else None
            gb = unbroadcast(-g * xa / (xb * xb), tb.shape) if tb is not None and tb._requires_grad else None
        return ga, gb

    return record(out, "DivBackward0", (ta, tb), backward)


def pow(a, b) -> Tensor:  # noqa: A001  (PyTorch's name)
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype is dtypes.bool_ and b.dtype is dtypes.bool_:
        raise NotImplementedError('"pow" not implemented for \'Bool\'')  # torch's (NumPy would give int8)
    ta, tb, xa, xb = binary_operands(a, b, "pow")
    if ta is not None and tb is None and xa.dtype.kind not in "fV" and float(xb) < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    be = backend_of(xa if ta is not None else None, xb if tb is not None else None)
    xp = be.xp
    with be.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if tb is not None and xa.dtype.kind in "iu" and xb.dtype.kind in "iu" and bool((xb < 0).any()):
            out_arr = _int_pow_negative(xp, xa, xb)
        else:
            out_arr = xp.power(xa, xb)
    out = Tensor._wrap(out_arr)

    def backward(g):
        ga = gb = None
        with be.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if ta is not None and ta._requires_grad:
                # d/da a^b = b a^(b-1); PyTorch defines it as 0 where b == 0 (even at a == 0).
                local = xp.where(xb == 0, 0, xb * xp.power(xa, xb - 1))
                ga = unbroadcast(g * local, ta.shape)
            if tb is not None and tb._requires_grad:
                local = xp.where((xa == 0) & (xb >= 0), 0, out_arr * xp.log(xa))
                gb = unbroadcast(g * local, tb.shape)
        return ga, gb

    return record(out, "PowBackward0", (ta, tb), backward)


def _int_pow_negative(xp, xa, xb):
    """Integer a ** b where some exponents are negative (NumPy refuses them): torch's integer results,
    1 for a == 1, +-1 for a == -1 by the exponent's parity, and 0 otherwise (0 ** -n included)."""
    neg = xb < 0
    pos = xp.power(xa, xp.where(neg, 0, xb))
    minus_one = xp.where(xb % 2 != 0, -1, 1)
    at_neg = xp.where(xa == 1, 1, xp.where(xa == -1, minus_one, 0))
    return xp.where(neg, at_neg, pos).astype(pos.dtype, copy=False)


def neg(a: Tensor) -> Tensor:
    if a.dtype.np.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
    if _registry.ACTIVATES:
        on_device(a)
    out = Tensor._wrap(-a._data)
    return record(out, "NegBackward0", (a,), lambda g: (-g,))


def _compare(operator_fn, name):
    # The operator module's functions work on every backend's arrays and need no look-up.
    def op(a, b) -> Tensor:
        _, _, xa, xb = binary_operands(a, b, name)
        return Tensor._wrap(operator_fn(xa, xb))

    op.__name__ = name
    op.__doc__ = f"Element-wise {name} (broadcasting); a bool tensor outside the graph."
    return op


eq = _compare(operator.eq, "eq")
ne = _compare(operator.ne, "ne")
lt = _compare(operator.lt, "lt")
le = _compare(operator.le, "le")
gt = _compare(operator.gt, "gt")
ge = _compare(operator.ge, "ge")


def _logical(operator_fn, name):
    def op(a, b) -> Tensor:
        _, _, xa, xb = binary_operands(a, b, name)
        return Tensor._wrap(operator_fn(xa, xb) if xa.dtype.kind in "bi" else operator_fn(xa != 0, xb != 0))

    op.__name__ = name
    return op


bitwise_and = _logical(operator.and_, "bitwise_and")
bitwise_or = _logical(operator.or_, "bitwise_or")
bitwise_xor = _logical(operator.xor, "bitwise_xor")


def logical_not(a: Tensor) -> Tensor:
    x = a._data
    return Tensor._wrap(backend_of(x).xp.logical_not(x))


def bitwise_not(a: Tensor) -> Tensor:
    if a.dtype.np.kind not in "bi":
        raise TypeError(f"bitwise_not is only implemented for integer and bool tensors, got {a.dtype}")
    if _registry.ACTIVATES:
        on_device(a)
    return Tensor._wrap(~a._data)
