"""Bernoulli(probs= | logits=): samples in {0., 1.} of the parameter's dtype; log_prob is -BCE-with-logits."""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..backend import backend_of
from .._tensor import Size, Tensor
from ..ops import activation as _act
from ..ops import elementwise as _ew
from . import constraints as C
from .categorical import clamp_probs
from .distribution import Distribution, broadcast_all


def _bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """max(x, 0) - x t + log1p(exp(-|x|)), the stable form."""
    return _ew.maximum(logits, 0.0) - logits * target + _ew.log1p(_ew.exp(-_ew.abs(logits)))


class Bernoulli(Distribution):
    arg_constraints = {"probs": C.unit_interval, "logits": C.real}
    support = C.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            self._param = self.probs
        else:
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        super().__init__(self._param.shape, Size(), validate_args)

    def __getattr__(self, name):
        if name == "probs":
            v = _act.sigmoid(self.__dict__["logits"])
        elif name == "logits":
            p = clamp_probs(self.__dict__["probs"])
            v = _ew.log(p) - _ew.log1p(-p)
        else:
            raise AttributeError(name)
        self.__dict__[name] = v
        return v

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return (self.probs >= 0.5).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=Size()) -> Tensor:
        with no_grad():
            p = self.probs._data
            shape = tuple(sample_shape) + tuple(self._batch_shape)
            u = self._generator(self._param).random(shape)
            return Tensor._wrap((u < backend_of(p).xp.broadcast_to(p, shape)).astype(p.dtype))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self) -> Tensor:
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        xp = backend_of(self._param._data).xp
        values = xp.arange(2, dtype=self._param._data.dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = xp.broadcast_to(values, (2,) + tuple(self._batch_shape)).copy()
        return Tensor._wrap(values)
