"""MultivariateNormal(loc, covariance_matrix= | precision_matrix= | scale_tril=): everything goes through the
lower Cholesky factor L (cov = L L^T), so rsample = loc + L eps and the gradients reach loc and L (and the
covariance through fastnn.linalg.cholesky's backward)."""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Size, Tensor
from ..backend import backend_of
from ..ops import decompositions as _dec
from ..ops import elementwise as _ew
from ..ops import linalg as _la
from . import constraints as C
from .distribution import Distribution


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": C.real_vector, "covariance_matrix": C.positive_definite,
                       "precision_matrix": C.positive_definite, "scale_tril": C.lower_cholesky}
    support = C.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        given = scale_tril if scale_tril is not None else (
            covariance_matrix if covariance_matrix is not None else precision_matrix)
        name = "scale_tril" if scale_tril is not None else (
            "covariance_matrix" if covariance_matrix is not None else "precision_matrix")
        if given.ndim < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional leading batch dimensions")
        batch = tuple(np.broadcast_shapes(tuple(given.shape[:-2]), tuple(loc.shape[:-1])))
        n = loc.shape[-1]
        self.loc = loc.expand(*(batch + (n,)))
        setattr(self, name, given.expand(*(batch + (n, n))))
        super().__init__(Size(batch), Size((n,)), validate_args)
        if scale_tril is not None:
            # Only the lower triangle is read (torch's triangular solves): the upper one gets no gradient.
            xp = backend_of(scale_tril._data).xp
            self._unbroadcasted_scale_tril = scale_tril * Tensor._wrap(xp.tril(xp.ones((n, n), scale_tril._data.dtype)))
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = _dec.cholesky(covariance_matrix)
        else:
            # L of the covariance from the precision: cov = P^-1.
            self._unbroadcasted_scale_tril = _dec.cholesky(_dec.inv(precision_matrix))

    def __getattr__(self, name):
        if name == "scale_tril":
            v = self._unbroadcasted_scale_tril.expand(*(tuple(self._batch_shape) + tuple(self._event_shape) * 2))
        elif name == "covariance_matrix":
            lt = self._unbroadcasted_scale_tril
            v = _la.matmul(lt, lt.mT).expand(*(tuple(self._batch_shape) + tuple(self._event_shape) * 2))
        elif name == "precision_matrix":
            v = _dec.inv(self.covariance_matrix)
        else:
            raise AttributeError(name)
        self.__dict__[name] = v
        return v

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        lt = self._unbroadcasted_scale_tril
        return (lt * lt).sum(-1).expand(*(tuple(self._batch_shape) + tuple(self._event_shape)))

    def rsample(self, sample_shape=Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        x = self.loc._data
        eps = Tensor._wrap(backend_of(x).generator().standard_normal(shape, dtype=x.dtype))
        return self.loc + _la.matmul(self._unbroadcasted_scale_tril, eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self):
        return _ew.log(_dec.diagonal(self._unbroadcasted_scale_tril)).sum(-1)

    def log_prob(self, value) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        lt = self._unbroadcasted_scale_tril
        shape = np.broadcast_shapes(tuple(diff.shape[:-1]), tuple(lt.shape[:-2]))
        n = self._event_shape[0]
        z = _dec.solve(lt.expand(*(shape + (n, n))), diff.expand(*(shape + (n,))).unsqueeze(-1)).squeeze(-1)
        m = (z * z).sum(-1)
        return -0.5 * (n * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        n = self._event_shape[0]
        h = 0.5 * n * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(*tuple(self._batch_shape)) if len(self._batch_shape) else h
