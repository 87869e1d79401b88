"""keras.random: Keras 3's random ops on fastnn tensors. As in Keras, an integer ``seed`` makes a call
stateless (the same seed gives the same values every call), a ``SeedGenerator`` gives a new reproducible
draw on each call (its ``state`` is ``[seed, counter]``), and ``seed=None`` draws from fastnn's global
generator (``fastnn.manual_seed`` / ``keras.utils.set_random_seed`` make it reproducible).

The draws come from a PCG64 stream per (seed, counter) made on the host, as fastnn's seeded creation ops
do, and become tensors on the default device; ``dropout``, ``shuffle`` and ``categorical`` then compute
with fastnn ops, so gradients flow through ``dropout`` and ``shuffle``."""
from __future__ import annotations

import math

from .. import creation, dtypes
from .. import random as _random
from ..backend import backend_of
from .._tensor import Tensor
from .device_scope import get_device
from .layers.base import unique_name

FLOATX = "float32"


class SeedGenerator:
    """A seed that moves on after each draw: ``state`` holds ``[seed, counter]``; ``next()`` returns the
    current state and counts up."""

    def __init__(self, seed=None, name=None, **kwargs) -> None:
        kwargs.pop("backend", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name if name is not None else unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed}")
        self.state = creation.tensor([seed, 0], dtype="int64", device=get_device())

    def next(self, ordered: bool = True) -> Tensor:
        value = self.state.clone()
        seed, counter = (int(v) for v in self.state.tolist())
        if ordered:
            self.state._write(1, counter + 1)
        else:  # Keras' sequence of near-unique numbers below 1M
            self.state._write(..., creation.tensor([(seed + 1) * 5387 % 933199, (counter + 1) * 5387 % 933199],
                                                   dtype="int64", device=self.state.device)._data)
        return value

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def make_default_seed() -> int:
    """A seed drawn from fastnn's global generator (so ``fastnn.manual_seed`` fixes it)."""
    return int(_random.generator().integers(1, int(1e9)))


def draw_seed(seed):
    """The ``[seed, counter]`` pair a random op uses (Keras' ``draw_seed``); None for the global stream."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, int) and not isinstance(seed, bool):
        return creation.tensor([seed & 0xFFFFFFFF, 0], dtype="int64", device=get_device())
    if seed is None:
        return None
    raise ValueError("Argument `seed` must be either an integer or an instance of `SeedGenerator`. Received: "
                     f"seed={seed} (of type {type(seed)})")


def _host_generator(seed):
    """The host NumPy generator for ``seed``: a fresh PCG64 stream per (seed, counter), or the global one."""
    pair = draw_seed(seed)
    if pair is None:
        return _random.generator()
    s, counter = (int(v) for v in pair.tolist())
    return _random.numpy_generator(_random.Generator().manual_seed((s % 2**32) * 2**32 + counter % 2**32))


def _dtype(dtype, default: str = FLOATX):
    return dtypes.to_dtype(default if dtype is None else dtype)


def _shape(shape) -> tuple:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(s) for s in shape)


def _floats(arr, dtype, device=None) -> Tensor:
    """Host draws as a tensor on ``device`` (the current Keras device by default)."""
    dt = _dtype(dtype)
    if not dt.is_floating_point:
        raise ValueError(f"Expected a float dtype, got dtype={dtype}")
    return creation.tensor(arr.astype(dt.np), dtype=dt, device=get_device() if device is None else device)


def _host(value):
    """A distribution parameter as a host value (a Python number, or a tensor's values as an array)."""
    if isinstance(value, Tensor):
        return backend_of(value._data).to_host(value._data)
    return value


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    gen = _host_generator(seed)
    return _floats(gen.normal(_host(mean), _host(stddev), _shape(shape)), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    return _uniform(shape, minval, maxval, dtype, seed)


def _uniform(shape, minval, maxval, dtype, seed, device=None) -> Tensor:
    dt = _dtype(dtype)
    if not dt.is_floating_point:
        raise ValueError("`keras.random.uniform` requires a floating point `dtype`. Received: "
                         f"dtype={dtype} ")
    gen = _host_generator(seed)
    return _floats(gen.uniform(_host(minval), _host(maxval), _shape(shape)), dtype, device)


def randint(shape, minval, maxval, dtype="int32", seed=None) -> Tensor:
    gen = _host_generator(seed)
    dt = _dtype(dtype, "int32")
    return creation.tensor(gen.integers(int(minval), int(maxval), _shape(shape)), dtype=dt, device=get_device())


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Normal values, those more than two standard deviations from the mean drawn again."""
    gen = _host_generator(seed)
    shape = _shape(shape)
    out = gen.standard_normal(math.prod(shape))
    bad = abs(out) > 2.0
    while bad.any():
        out[bad] = gen.standard_normal(int(bad.sum()))
        bad = abs(out) > 2.0
    return _floats(out.reshape(shape) * _host(stddev) + _host(mean), dtype)


def dropout(inputs, rate, noise_shape=None, seed=None) -> Tensor:
    """Zeroes each element with probability ``rate`` and scales the rest by ``1 / (1 - rate)``;
    ``noise_shape`` (broadcast to the input) shares the mask along its size-1 axes."""
    x = inputs if isinstance(inputs, Tensor) else creation.tensor(inputs, device=get_device())
    if rate == 1.0:
        return x * 0.0
    if rate == 0.0:
        return x
    if noise_shape is None:
        noise_shape = tuple(x.shape)
    else:
        noise_shape = tuple(x.shape[i] if s is None else int(s) for i, s in enumerate(noise_shape))
    keep = 1.0 - rate
    mask = _uniform(noise_shape, 0.0, 1.0, x.dtype, seed, x.device) < keep  # drawn on the input's device
    return x * mask.to(x.dtype) / keep


def shuffle(x, axis=0, seed=None) -> Tensor:
    """``x`` with its entries along ``axis`` in a random order."""
    x = x if isinstance(x, Tensor) else creation.tensor(x, device=get_device())
    gen = _host_generator(seed)
    perm = creation.tensor(gen.permutation(x.shape[axis]), dtype="int64", device=x.device)
    return x.index_select(axis, perm)


def categorical(logits, num_samples, dtype="int32", seed=None) -> Tensor:
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn from softmax(logits):
    the Gumbel-max trick, ``argmax(logits + Gumbel noise)``, on the logits' device."""
    logits = logits if isinstance(logits, Tensor) else creation.tensor(logits, dtype="float32", device=get_device())
    if logits.ndim != 2:
        raise ValueError(f"`logits` should be a 2-D tensor with shape [batch_size, num_classes]. Received: "
                         f"logits={logits.shape}")
    batch, classes = logits.shape
    u = _uniform((batch, int(num_samples), classes), 1e-20, 1.0, "float64", seed, logits.device)
    gumbel = -(-u.log()).log()
    scores = logits.to(gumbel.dtype).unsqueeze(1) + gumbel.to(logits.device)
    return scores.argmax(-1).to(_dtype(dtype, "int32"))


def gamma(shape, alpha, dtype=None, seed=None) -> Tensor:
    gen = _host_generator(seed)
    return _floats(gen.standard_gamma(_host(alpha), _shape(shape)), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None) -> Tensor:
    gen = _host_generator(seed)
    return _floats(gen.binomial(_host(counts), _host(probabilities), _shape(shape)).astype("float64"), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None) -> Tensor:  # noqa: A002 (Keras' argument name)
    gen = _host_generator(seed)
    return _floats(gen.beta(_host(alpha), _host(beta), _shape(shape)), dtype)


__all__ = ["SeedGenerator", "normal", "uniform", "randint", "truncated_normal", "dropout", "shuffle", "categorical",
           "gamma", "binomial", "beta"]
