"""Normal(loc, scale): rsample = loc + scale * eps, eps ~ N(0, 1) from fastnn's generator."""
from __future__ import annotations

import math

from .._tensor import Size, Tensor
from ..ops import elementwise as _ew
from . import constraints as C
from .distribution import Distribution, broadcast_all


class Normal(Distribution):
    arg_constraints = {"loc": C.real, "scale": C.positive}
    support = C.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, Size(), validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale * self.scale

    def rsample(self, sample_shape=Size()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        x = self.loc._data
        gen = self._generator(self.loc)
        eps = Tensor._wrap(gen.standard_normal(tuple(shape), dtype=x.dtype) if x.dtype.kind == "f"
                           else gen.standard_normal(tuple(shape)))
        return self.loc + eps * self.scale

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale * self.scale
        return -((value - self.loc) * (value - self.loc)) / (2 * var) - _ew.log(self.scale) - math.log(
            math.sqrt(2 * math.pi))

    def cdf(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + _ew.erf((value - self.loc) * (1 / math.sqrt(2)) / self.scale))

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + _ew.log(self.scale)
