"""Categorical(probs= | logits=) over {0, ..., K-1} (int64 samples), and OneHotCategorical.

As torch: probs are normalised along the last dim; given probs, logits = log(clamp(probs, eps, 1 - eps));
given logits, they are normalised by logsumexp and probs = softmax(logits)."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import no_grad
from .._tensor import Size, Tensor
from ..ops import activation as _act
from ..ops import elementwise as _ew
from ..ops import reduction as _red
from . import constraints as C
from .distribution import Distribution


def clamp_probs(probs: Tensor) -> Tensor:
    eps = float(np.finfo(probs._data.dtype).eps)
    return _ew.clamp(probs, eps, 1 - eps)


def _as_float_tensor(v, name):
    from .. import creation
    t = v if isinstance(v, Tensor) else creation.tensor(v, dtype=dtypes.default_float)
    if not t.dtype.is_floating_point:
        t = t.to(dtypes.default_float)
    if t.ndim < 1:
        raise ValueError(f"`{name}` parameter must be at least one-dimensional.")
    return t


class Categorical(Distribution):
    arg_constraints = {"probs": C.simplex, "logits": C.real_vector}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            p = _as_float_tensor(probs, "probs")
            self.probs = p / p.sum(-1, keepdim=True)
            self._param = self.probs
        else:
            lg = _as_float_tensor(logits, "logits")
            self.logits = lg - _red.logsumexp(lg, -1, True)
            self._param = self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], Size(), validate_args)

    def __getattr__(self, name):
        # The parameterisation not given is derived on first use (torch's lazy_property).
        if name == "probs":
            v = _act.softmax(self.__dict__["logits"], -1)
        elif name == "logits":
            v = _ew.log(clamp_probs(self.__dict__["probs"]))
        else:
            raise AttributeError(name)
        self.__dict__[name] = v
        return v

    @property
    def param_shape(self):
        return self._param.shape

    @property
    def support(self):
        return C.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        xp = self._xp()
        return Tensor._wrap(xp.full(tuple(self._batch_shape), xp.nan, self._param._data.dtype))

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return self.mean

    def _xp(self):
        from ..backend import backend_of
        return backend_of(self._param._data).xp

    def sample(self, sample_shape=Size()) -> Tensor:
        """Inverse-CDF sampling: one uniform draw per sample against the cumulative probabilities."""
        with no_grad():
            p = self.probs._data
            xp = self._xp()
            shape = tuple(sample_shape) + tuple(self._batch_shape)
            cum = xp.cumsum(p.astype(np.float64), axis=-1)
            cum = cum / cum[..., -1:]
            u = self._generator(self._param).random(shape)
            idx = (xp.broadcast_to(cum, shape + (self._num_events,)) <= u[..., None]).sum(-1)
            return Tensor._wrap(xp.minimum(idx, self._num_events - 1).astype(np.int64))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        xp = self._xp()
        v = value._data.astype(np.int64)
        lp = self.logits
        shape = np.broadcast_shapes(v.shape, tuple(lp.shape[:-1]))
        onehot = Tensor._wrap((xp.broadcast_to(v, shape)[..., None] == xp.arange(self._num_events))
                              .astype(lp._data.dtype))
        # A product with the one-hot mask picks logits[value] and keeps the gradient (0 * -inf stays out:
        # logits are finite here, clamped probs or normalised logits).
        return (lp * onehot).sum(-1)

    def entropy(self) -> Tensor:
        min_real = float(np.finfo(self.logits._data.dtype).min)
        logits = _ew.clamp(self.logits, min_real, None)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        xp = self._xp()
        values = xp.arange(self._num_events, dtype=np.int64).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = xp.broadcast_to(values, (self._num_events,) + tuple(self._batch_shape)).copy()
        return Tensor._wrap(values)


class OneHotCategorical(Distribution):
    arg_constraints = {"probs": C.simplex, "logits": C.real_vector}
    support = C.one_hot

    def __init__(self, probs=None, logits=None, validate_args=None) -> None:
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:], validate_args=False)
        self._validate_args = self._categorical._validate_args

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self._categorical.probs

    @property
    def variance(self):
        p = self._categorical.probs
        return p * (1 - p)

    def sample(self, sample_shape=Size()) -> Tensor:
        idx = self._categorical.sample(sample_shape)._data
        xp = self._categorical._xp()
        n = self._categorical._num_events
        return Tensor._wrap((idx[..., None] == xp.arange(n)).astype(self.probs._data.dtype))

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return (self.logits * value).sum(-1)

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def __repr__(self) -> str:
        return "OneHot" + repr(self._categorical)
