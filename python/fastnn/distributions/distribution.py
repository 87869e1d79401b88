"""Distribution: torch.distributions' base class (shapes, sampling protocol, argument validation)."""
from __future__ import annotations

import numbers

from .. import creation, dtypes
from ..autograd.grad_mode import no_grad
from ..backend import backend_of
from .._tensor import Size, Tensor
from . import constraints as C

_VALIDATE_DEFAULT = [True]  # torch's default is __debug__ (True unless python -O)


def broadcast_all(*values):
    """The arguments as tensors of one broadcast shape; Python numbers take the dtype of the tensors among
    them (the default float when there are none), as torch.distributions.utils.broadcast_all."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)):
            raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                             "implementing __torch_function__.")
    dt = tensors[0].dtype if tensors else dtypes.default_float
    if not dt.is_floating_point:
        dt = dtypes.default_float
    ts = [v if isinstance(v, Tensor) else creation.tensor(float(v), dtype=dt) for v in values]
    shape = Size(__import__("numpy").broadcast_shapes(*[t.shape for t in ts]))
    return tuple(t if tuple(t.shape) == tuple(shape) else t.expand(*shape) for t in ts)


def _param_repr(t) -> str:
    if isinstance(t, Tensor):
        return str(t.item()) if t.numel() == 1 else str(t.shape).replace("fastnn.Size", "torch.Size")
    return str(t)


class Distribution:
    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict = {}
    support = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        if value not in (True, False):
            raise ValueError
        _VALIDATE_DEFAULT[0] = value

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        else:
            self._validate_args = _VALIDATE_DEFAULT[0]
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                if constraint is C.dependent:
                    continue
                if param not in self.__dict__:
                    continue  # the parameterisation not given (probs vs logits): derived, so valid
                value = getattr(self, param)
                with no_grad():
                    valid = constraint.check(value)
                if not C._all_true(valid):
                    raise ValueError(f"Expected parameter {param} (Tensor of shape {tuple(value.shape)}) of "
                                     f"distribution {self!r} to satisfy the constraint {constraint!r}, but found "
                                     f"invalid values:\n{value!r}")

    @property
    def batch_shape(self) -> Size:
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        return self._event_shape

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def sample(self, sample_shape=Size()) -> Tensor:
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()) -> Tensor:
        raise NotImplementedError

    def sample_n(self, n: int) -> Tensor:
        return self.sample(Size((n,)))

    def log_prob(self, value) -> Tensor:
        raise NotImplementedError

    def cdf(self, value) -> Tensor:
        raise NotImplementedError

    def icdf(self, value) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    def expand(self, batch_shape, _instance=None):
        raise NotImplementedError(f"{type(self).__name__}.expand is not supported in fastnn")

    def _extended_shape(self, sample_shape=Size()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _generator(self, like: Tensor):
        return backend_of(like._data).generator()

    def _validate_sample(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = value.ndim - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: {tuple(value.shape)} vs "
                             f"{tuple(self._event_shape)}.")
        actual = value.shape
        expected = tuple(self._batch_shape) + tuple(self._event_shape)
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {tuple(actual)} vs "
                                 f"{expected}.")
        with no_grad():
            valid = self.support.check(value)
        if not C._all_true(valid):
            raise ValueError(f"Expected value argument (Tensor of shape {tuple(value.shape)}) to be within the support "
                             f"({self.support!r}) of the distribution {self!r}, but found invalid values:\n{value!r}")

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{p}: {_param_repr(self.__dict__[p])}" for p in names)
        return f"{type(self).__name__}({args})"
