"""Broadcasting binary (and ternary) math: remainder, fmod, floor_divide, div with rounding_mode, atan2,
hypot, copysign, logaddexp(2), xlogy, xlog1py, fmax/fmin, lerp, addcmul/addcdiv, isclose/allclose/equal,
clamp_min/clamp_max, heaviside, float_power.

Operands promote as PyTorch's binary ops do (``binary_operands``); integer division by zero raises
PyTorch's RuntimeError("ZeroDivisionError") (NumPy would return 0 with a warning)."""
from __future__ import annotations

import math

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of, backend_with_cpu_scalars
from .._tensor import Tensor
from ._util import as_tensor, binary_operands, unbroadcast
from .arithmetic import add, div as true_div, mul, pow, sub
from .conversion import cast

_TYPE_NAME = {"f4": "Float", "f8": "Double", "i8": "Long", "b1": "Bool"}


def _type_name(x) -> str:
    return _TYPE_NAME.get(f"{x.dtype.kind}{x.dtype.itemsize}", str(x.dtype))


def _operands(a, b, name):
    """(ta, tb, xa, xb, be): binary_operands plus the backend of the tensor operands."""
    ta, tb, xa, xb = binary_operands(a, b, name)
    be = backend_of(xa if ta is not None else None, xb if tb is not None else None)
    return ta, tb, xa, xb, be


def _grads(ta, tb, ga, gb):
    """Un-broadcasts each gradient to its operand's shape (None for scalars and tensors without grad)."""
    return (unbroadcast(ga(), ta.shape) if ta is not None and ta._requires_grad else None,
            unbroadcast(gb(), tb.shape) if tb is not None and tb._requires_grad else None)


def _not_differentiable(name):
    def backward(g):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")

    return backward


def _check_int_divisor(xb, xp):
    if xb.dtype.kind in "iu" and bool(xp.any(xb == 0)):
        raise RuntimeError("ZeroDivisionError")


def _refuse_bool(xa, kernel: str):
    if xa.dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def remainder(input, other) -> Tensor:  # noqa: A002
    """Python's modulus: the result takes the divisor's sign (torch.remainder, the % operator)."""
    ta, tb, xa, xb, be = _operands(input, other, "remainder")
    _refuse_bool(xa, "remainder_cpu")
    xp = be.xp
    _check_int_divisor(xb, xp)
    with be.errstate(all="ignore"):
        y = xp.remainder(xa, xb)

    def backward(g):
        with be.errstate(all="ignore"):
            return _grads(ta, tb, lambda: g, lambda: -g * xp.floor_divide(xa, xb))

    return record(Tensor._wrap(y), "RemainderBackward0", (ta, tb), backward)


def fmod(input, other) -> Tensor:  # noqa: A002
    """C's fmod: the result takes the dividend's sign (torch.fmod)."""
    ta, tb, xa, xb, be = _operands(input, other, "fmod")
    _refuse_bool(xa, "fmod_cpu")
    xp = be.xp
    _check_int_divisor(xb, xp)
    with be.errstate(all="ignore"):
        y = xp.fmod(xa, xb)

    def backward(g):
        with be.errstate(all="ignore"):
            return _grads(ta, tb, lambda: g, lambda: -g * xp.trunc(xa / xb))

    return record(Tensor._wrap(y), "FmodBackward0", (ta, tb), backward)


def _floor_div(be, xa, xb):
    # NumPy's floor_divide is CPython's divmod rule, as PyTorch's div_floor: x // 0.0 is +-inf (NaN for 0).
    with be.errstate(all="ignore"):
        return be.xp.floor_divide(xa, xb)


def _trunc_div(be, xa, xb):
    xp = be.xp
    if xa.dtype.kind in "fV":
        with be.errstate(all="ignore"):
            return xp.trunc(xa / xb)
    q = xp.floor_divide(xa, xb)
    # Floor and truncation differ where the quotient is negative and inexact: step back toward zero.
    inexact = (q * xb != xa) & ((xa < 0) != (xb < 0))
    return q + inexact.astype(q.dtype)


def floor_divide(input, other) -> Tensor:  # noqa: A002
    """Division rounded toward -inf (torch.floor_divide, the // operator); integers stay integers."""
    ta, tb, xa, xb, be = _operands(input, other, "floor_divide")
    _refuse_bool(xa, "div_floor_cpu")
    _check_int_divisor(xb, be.xp)
    return record(Tensor._wrap(_floor_div(be, xa, xb)), "FloorDivideBackward0", (ta, tb),
                  _not_differentiable("floor_divide"))


def div(input, other, *, rounding_mode=None) -> Tensor:  # noqa: A002
    """torch.div: true division (rounding_mode=None), or rounded 'trunc' / 'floor' division, which keeps
    integer dtypes and has a zero gradient."""
    if rounding_mode is None:
        return true_div(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    ta, tb, xa, xb, be = _operands(input, other, "div")
    _refuse_bool(xa, f"div_{rounding_mode}_cpu")
    _check_int_divisor(xb, be.xp)
    y = _trunc_div(be, xa, xb) if rounding_mode == "trunc" else _floor_div(be, xa, xb)
    xp = be.xp

    def backward(g):
        return _grads(ta, tb, lambda: xp.zeros_like(g), lambda: xp.zeros_like(g))

    return record(Tensor._wrap(y), "DivBackward3", (ta, tb), backward)


divide = div


def _float_operands(a, b, name, *, ints: str):
    """Operands of a floating-point op: integers promote to float32 (``ints="promote"``) or raise PyTorch's
    NotImplementedError (``ints="raise"``)."""
    ta, tb, xa, xb, be = _operands(a, b, name)
    if xa.dtype.kind not in "fV":
        if ints == "raise":
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_type_name(xa)}'")
        xa, xb = xa.astype(dtypes.default_float.np), xb.astype(dtypes.default_float.np)
    return ta, tb, xa, xb, be


def atan2(input, other) -> Tensor:  # noqa: A002
    ta, tb, xa, xb, be = _float_operands(input, other, "atan2", ints="promote")
    xp = be.xp
    y = xp.arctan2(xa, xb)

    def backward(g):
        with be.errstate(all="ignore"):
            r2 = xa * xa + xb * xb
            return _grads(ta, tb, lambda: g * xb / r2, lambda: -g * xa / r2)

    return record(Tensor._wrap(y), "Atan2Backward0", (ta, tb), backward)


arctan2 = atan2


def hypot(input, other) -> Tensor:  # noqa: A002
    ta, tb, xa, xb, be = _float_operands(input, other, "hypot", ints="raise")
    xp = be.xp
    y = xp.hypot(xa, xb)

    def backward(g):
        with be.errstate(all="ignore"):
            return _grads(ta, tb, lambda: g * xa / y, lambda: g * xb / y)

    return record(Tensor._wrap(y), "HypotBackward0", (ta, tb), backward)


def copysign(input, other) -> Tensor:  # noqa: A002
    """|input| with other's sign (float result); the gradient flows to input only, as in PyTorch."""
    ta, tb, xa, xb, be = _float_operands(input, other, "copysign", ints="promote")
    xp = be.xp
    y = xp.copysign(xa, xb)

    def backward(g):
        with be.errstate(all="ignore"):
            ratio = xp.where(xa == 0, 0, y / xa).astype(g.dtype, copy=False)
        return _grads(ta, tb, lambda: g * ratio, lambda: xp.zeros_like(g))

    return record(Tensor._wrap(y), "CopysignBackward0", (ta, tb), backward)


def _logaddexp(name, node, exp_fn, log1p_scale):
    def op(input, other) -> Tensor:  # noqa: A002
        ta, tb, xa, xb, be = _float_operands(input, other, name, ints="raise")
        xp = be.xp
        with be.errstate(all="ignore"):
            m = xp.maximum(xa, xb)
            y = m + xp.log1p(exp_fn(xp, -xp.abs(xa - xb))) * xa.dtype.type(log1p_scale)
            y = xp.where(xp.isinf(xa) & (xa == xb), xa, y)  # inf + inf (either sign) is that inf, not NaN

        def backward(g):
            with be.errstate(all="ignore"):
                return _grads(ta, tb, lambda: g / (1 + exp_fn(xp, xb - xa)), lambda: g / (1 + exp_fn(xp, xa - xb)))

        return record(Tensor._wrap(y), node, (ta, tb), backward)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{name}: log of the sum of exponentials, without overflow (torch.{name})."
    return op


logaddexp = _logaddexp("logaddexp", "LogaddexpBackward0", lambda xp, x: xp.exp(x), 1.0)
logaddexp2 = _logaddexp("logaddexp2", "Logaddexp2Backward0", lambda xp, x: xp.exp2(x), 1 / math.log(2))


def _xlog(name, node, log_fn, pole):
    def op(input, other) -> Tensor:  # noqa: A002
        ta, tb, xa, xb, be = _float_operands(input, other, name, ints="promote")
        xp = be.xp
        with be.errstate(all="ignore"):
            ly = log_fn(xp, xb)
            y = xp.where((xa == 0) & ~xp.isnan(xb), xa.dtype.type(0), xa * ly)

        def backward(g):
            with be.errstate(all="ignore"):
                # PyTorch: d/dx = xlogy(g, y), zeroed where x == 0 and y is at or past the log's pole.
                gx = lambda: xp.where(((xa == 0) & (xb <= pole)) | (g == 0), 0, g * ly).astype(g.dtype)  # noqa: E731
                return _grads(ta, tb, gx, lambda: g * xa / (xb - pole))

        return record(Tensor._wrap(y), node, (ta, tb), backward)

    op.__name__ = op.__qualname__ = name
    return op


xlogy = _xlog("xlogy", "XlogyBackward0", lambda xp, y: xp.log(y), 0.0)
xlogy.__doc__ = "x * log(y), 0 where x == 0 (unless y is NaN) (torch.xlogy)."
xlog1py = _xlog("xlog1py", "SpecialXlog1PyBackward0", lambda xp, y: xp.log1p(y), -1.0)
xlog1py.__doc__ = "x * log1p(y), 0 where x == 0 (unless y is NaN) (torch.special.xlog1py)."


def _nan_extremum(name, fn, ge):
    def op(input, other) -> Tensor:  # noqa: A002
        ta, tb, xa, xb, be = _operands(as_tensor(input, name), as_tensor(other, name), name)
        xp = be.xp
        y = getattr(xp, fn)(xa, xb)

        def backward(g):
            # PyTorch: the gradient goes to input where input wins or ties, or where other is NaN.
            to_a = ge(xa, xb) | xp.isnan(xb)
            return _grads(ta, tb, lambda: xp.where(to_a, g, 0).astype(g.dtype),
                          lambda: xp.where(to_a, 0, g).astype(g.dtype))

        return record(Tensor._wrap(y), f"{name.capitalize()}Backward0", (ta, tb), backward)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise {name[1:]}imum that ignores NaN (NaN only where both are NaN) (torch.{name})."
    return op


fmax = _nan_extremum("fmax", "fmax", lambda a, b: a >= b)
fmin = _nan_extremum("fmin", "fmin", lambda a, b: a <= b)


def lerp(input, end, weight) -> Tensor:  # noqa: A002
    """input + weight * (end - input), evaluated from the nearer end for accuracy, as PyTorch does."""
    start = as_tensor(input, "lerp")
    end = as_tensor(end, "lerp")
    if not start.dtype.is_floating_point:
        raise NotImplementedError(f"\"lerp_kernel_{'tensor' if isinstance(weight, Tensor) else 'scalar'}\" not "
                                  f"implemented for '{_type_name(start._data)}'")
    _dtype_matches("lerp", start, end=end, weight=weight)
    xs, xe = start._data, end._data
    tw = weight if isinstance(weight, Tensor) else None
    xw = tw._data if tw is not None else xs.dtype.type(weight)
    be = backend_with_cpu_scalars(xs, xe, xw if tw is not None else None)
    xs, xe, xw = be.bring_scalars(xs, xe, xw)
    xp = be.xp
    diff = xe - xs
    y = xp.where(xp.abs(xw) < 0.5, xs + xw * diff, xe - diff * (1 - xw))

    def backward(g):
        gs = unbroadcast(g * (1 - xw), start.shape) if start._requires_grad else None
        ge = unbroadcast(g * xw, end.shape) if end._requires_grad else None
        gw = unbroadcast(g * diff, tw.shape) if tw is not None and tw._requires_grad else None
        return gs, ge, gw

    return record(Tensor._wrap(y), "LerpBackward1" if tw is not None else "LerpBackward0", (start, end, tw), backward)


def _dtype_matches(name, ref: Tensor, **others):
    """lerp's check that end and weight have the input's dtype (PyTorch's message)."""
    def torch_name(d):
        return {"float32": "float", "float64": "double", "int64": "long", "bool": "bool"}[d.name]

    for arg, t in others.items():
        if isinstance(t, Tensor) and t.dtype is not ref.dtype:
            raise RuntimeError(f"expected dtype {torch_name(ref.dtype)} for `{arg}` but got dtype "
                               f"{torch_name(t.dtype)}")


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:  # noqa: A002
    """input + value * tensor1 * tensor2 (torch.addcmul)."""
    a, t1, t2 = as_tensor(input, "addcmul"), as_tensor(tensor1, "addcmul"), as_tensor(tensor2, "addcmul")
    _one_device(a, t1, t2)
    prod = mul(t1, t2)
    return add(a, prod if value == 1 else mul(prod, value))


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:  # noqa: A002
    """input + value * tensor1 / tensor2 (torch.addcdiv); integer tensor1 / tensor2 are refused, as in PyTorch."""
    t1, t2 = as_tensor(tensor1, "addcdiv"), as_tensor(tensor2, "addcdiv")
    if not t1.dtype.is_floating_point and not t2.dtype.is_floating_point:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform "
            "a true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as (input + "
            "value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as (input + value * "
            "tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    a = as_tensor(input, "addcdiv")
    _one_device(a, t1, t2)
    q = true_div(t1, t2)
    return add(a, q if value == 1 else mul(q, value))


def _one_device(a, t1, t2) -> None:
    """addcmul/addcdiv are one TensorIterator kernel without the CPU-scalar exemption in PyTorch (a CPU 0-d
    tensor1 beside a CUDA input raises), though fastnn composes them of binary ops, which have it."""
    if not type(a._data) is type(t1._data) is type(t2._data):
        backend_of(a._data, t1._data, t2._data)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:  # noqa: A002
    """|input - other| <= atol + rtol * |other|, elementwise; equal infinities are close (torch.isclose)."""
    a = as_tensor(input, "isclose")
    if isinstance(other, Tensor) and other.dtype is not a.dtype:
        names = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}
        raise RuntimeError(f"{names[a.dtype.name]} did not match {names[other.dtype.name]}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    _, _, xa, xb, be = _operands(a, other, "isclose")
    xp = be.xp
    if xa.dtype.kind == "b":
        return Tensor._wrap(xa == xb)
    if xa.dtype.kind not in "fV":  # PyTorch compares integers in the default float dtype
        xa, xb = xa.astype(dtypes.default_float.np), xb.astype(dtypes.default_float.np)
    with be.errstate(all="ignore"):
        close = (xa == xb) | (xp.isfinite(xa) & xp.isfinite(xb) & (xp.abs(xa - xb) <= atol + rtol * xp.abs(xb)))
    if equal_nan:
        close = close | (xp.isnan(xa) & xp.isnan(xb))
    return Tensor._wrap(close)


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:  # noqa: A002
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other) -> bool:  # noqa: A002
    """True when both have the same shape and the same values (torch.equal)."""
    a, b = as_tensor(input, "equal"), as_tensor(other, "equal")
    if a.shape != b.shape:
        return False
    backend_of(a._data, b._data)  # one device (several CUDA devices: it becomes the current one)
    return bool((a._data == b._data).all())


def _clamp_one_side(name, lower: bool):
    def op(input, bound) -> Tensor:  # noqa: A002
        ta, tb, xa, xb, be = _operands(as_tensor(input, name), bound, name)
        xp = be.xp
        # PyTorch's rule: the input's gradient passes where it is on the kept side, boundary included; a
        # tensor bound takes the clipped elements' (strictly beyond it). A NaN on either side propagates and
        # sends no gradient anywhere (every comparison with it is False).
        keep = (xa >= xb) if lower else (xa <= xb)
        clip = (xa < xb) if lower else (xa > xb)
        y = xp.where(clip, xb, xa)
        if xa.dtype.kind in "fV":
            y = xp.where(xp.isnan(xb), xb, y)

        def backward(g):
            return _grads(ta, tb, lambda: xp.where(keep, g, 0).astype(g.dtype),
                          lambda: xp.where(clip, g, 0).astype(g.dtype))

        node = ("ClampMinBackward" if lower else "ClampMaxBackward") + ("1" if tb is not None else "0")
        return record(Tensor._wrap(y), node, (ta, tb), backward)

    op.__name__ = op.__qualname__ = name
    return op


_clamp_min = _clamp_one_side("clamp_min", lower=True)
_clamp_max = _clamp_one_side("clamp_max", lower=False)


def clamp_min(input, min) -> Tensor:  # noqa: A002
    """max(input, min) elementwise, ``min`` a number or a tensor (broadcast); NaN inputs stay NaN."""
    return _clamp_min(input, min)


def clamp_max(input, max) -> Tensor:  # noqa: A002
    """min(input, max) elementwise, ``max`` a number or a tensor (broadcast); NaN inputs stay NaN."""
    return _clamp_max(input, max)


def heaviside(input, values) -> Tensor:  # noqa: A002
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0 (torch.heaviside; no derivative)."""
    a, v = as_tensor(input, "heaviside"), as_tensor(values, "heaviside")
    if a.dtype is not v.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    ta, tv, xa, xv, be = _operands(a, v, "heaviside")
    xp = be.xp
    y = xp.where(xa == 0, xv, (xa > 0).astype(xa.dtype)).astype(xa.dtype, copy=False)
    return record(Tensor._wrap(y), "HeavisideBackward0", (ta, tv), _not_differentiable("heaviside"))


def float_power(input, exponent) -> Tensor:  # noqa: A002
    """pow computed in float64 whatever the inputs' dtypes (torch.float_power)."""
    def f64(x):
        if isinstance(x, Tensor):
            return x if x.dtype is dtypes.float64 else cast(x, "float64")
        return float(x)

    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise TypeError("float_power(): expected at least one Tensor operand")
    return pow(f64(input), f64(exponent))


def rsub(input, other, *, alpha=1) -> Tensor:  # noqa: A002
    """other - alpha * input (torch.rsub)."""
    a = as_tensor(input, "rsub")
    return sub(other, a if alpha == 1 else mul(a, alpha))
