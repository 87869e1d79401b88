"""Uniform(low, high) on [low, high): rsample = low + u (high - low)."""
from __future__ import annotations

from .._tensor import Size, Tensor
from ..ops import elementwise as _ew
from . import constraints as C
from .distribution import Distribution, broadcast_all


class Uniform(Distribution):
    has_rsample = True

    def __init__(self, low, high, validate_args=None) -> None:
        self.low, self.high = broadcast_all(low, high)
        super().__init__(self.low.shape, Size(), validate_args)

    @property
    def arg_constraints(self):
        return {"low": C.less_than(self.high), "high": C.greater_than(self.low)}

    @property
    def support(self):
        return _UniformSupport(self.low, self.high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.low * float("nan")

    @property
    def stddev(self):
        return (self.high - self.low) / 12 ** 0.5

    @property
    def variance(self):
        return (self.high - self.low) * (self.high - self.low) / 12

    def rsample(self, sample_shape=Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        x = self.low._data
        u = Tensor._wrap(self._generator(self.low).random(shape, dtype=x.dtype))
        return self.low + u * (self.high - self.low)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        lb = (self.low <= value).to(self.low.dtype)
        ub = (self.high > value).to(self.low.dtype)
        return _ew.log(lb * ub) - _ew.log(self.high - self.low)

    def cdf(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return _ew.clamp((value - self.low) / (self.high - self.low), 0.0, 1.0)

    def icdf(self, value) -> Tensor:
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return _ew.log(self.high - self.low)


class _UniformSupport(C.Constraint):
    """[low, high) with tensor bounds: torch's interval(low, high) as Uniform.support."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def check(self, value):
        return Tensor._wrap((self.low._data <= value._data) & (value._data < self.high._data))

    def __repr__(self):
        return f"Interval(lower_bound={C._bound_repr(self.low)}, upper_bound={C._bound_repr(self.high)})"
