"""The parameter and support constraints of torch.distributions.constraints (the ones fastnn's families use):
each checks a tensor element-wise (the event dims reduced) and prints as torch's does."""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..backend import backend_of
from .._tensor import Tensor


def _xp(value):
    return backend_of(value._data).xp


def _arr(value):
    return value._data if isinstance(value, Tensor) else value


def _bound_repr(b) -> str:
    if isinstance(b, Tensor):
        return str(b.item()) if b.numel() == 1 else repr(b)
    return str(b)


class Constraint:
    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__[1:] + "()"


class _Real(Constraint):
    def check(self, value):
        return Tensor._wrap(_xp(value).isnan(value._data) == 0)  # NaN is the only real-number failure


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        x = value._data
        return Tensor._wrap((x == 0) | (x == 1))


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def check(self, value):
        return Tensor._wrap(value._data > _arr(self.lower_bound))

    def __repr__(self):
        return f"GreaterThan(lower_bound={_bound_repr(self.lower_bound)})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def check(self, value):
        return Tensor._wrap(value._data < _arr(self.upper_bound))

    def __repr__(self):
        return f"LessThan(upper_bound={_bound_repr(self.upper_bound)})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        x = value._data
        return Tensor._wrap((x >= self.lower_bound) & (x <= self.upper_bound))

    def __repr__(self):
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _HalfOpenInterval(_Interval):
    def check(self, value):
        x = value._data
        return Tensor._wrap((x >= self.lower_bound) & (x < self.upper_bound))

    def __repr__(self):
        return f"HalfOpenInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        x = value._data
        return Tensor._wrap((x % 1 == 0) & (x >= self.lower_bound) & (x <= self.upper_bound))

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value):
        x = value._data
        return Tensor._wrap((x >= 0).all(-1) & (_xp(value).abs(x.sum(-1) - 1) < 1e-6))


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value):
        x = value._data
        return Tensor._wrap(((x == 0) | (x == 1)).all(-1) & (x.sum(-1) == 1))


class _IndependentReal(Constraint):
    event_dim = 1

    def check(self, value):
        return Tensor._wrap((_xp(value).isnan(value._data) == 0).all(-1))

    def __repr__(self):
        return "IndependentConstraint(Real(), 1)"


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, value):
        x = value._data
        xp = _xp(value)
        lower = (xp.tril(x) == x).all(-1).all(-1)
        return Tensor._wrap(lower & (xp.diagonal(x, axis1=-2, axis2=-1) > 0).all(-1))


class _PositiveDefinite(Constraint):
    event_dim = 2

    def check(self, value):
        x = value._data
        xp = _xp(value)
        sym = xp.all(xp.abs(x - x.swapaxes(-1, -2)) <= 1e-6 * xp.maximum(1, xp.abs(x)), axis=(-2, -1))
        if x.size == 0:
            return Tensor._wrap(sym)
        ok = xp.linalg.eigvalsh(x).min(-1) > 0
        return Tensor._wrap(sym & ok)


class _Dependent(Constraint):
    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


real = _Real()
boolean = _Boolean()
positive = _GreaterThan(0.0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
one_hot = _OneHot()
real_vector = _IndependentReal()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
dependent = _Dependent()
greater_than = _GreaterThan
less_than = _LessThan
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval


def _all_true(mask: Tensor) -> bool:
    with no_grad():
        return bool(mask.all().item())
