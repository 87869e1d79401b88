"""Keras initialisers by name (Keras' defaults: glorot_uniform kernels, zero biases, orthogonal recurrent
kernels), on top of fastnn.nn.init."""
from __future__ import annotations

import math

from ..nn import init


def _keras_fans(shape) -> tuple[int, int]:
    """Keras' fans: a kernel is (..., in, out), receptive field first (the reverse of torch's layout)."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(t):
    fan_in, fan_out = _keras_fans(t.shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return init.uniform_(t, -limit, limit)


def glorot_normal(t):
    fan_in, fan_out = _keras_fans(t.shape)
    return _truncated(t, math.sqrt(2.0 / (fan_in + fan_out)))


# The std of a unit normal truncated at ±2: Keras divides by it so the truncated draw keeps the wanted std.
_TRUNC_STD = 0.87962566103423978


def _truncated(t, std):
    scale = std / _TRUNC_STD
    return init.trunc_normal_(t, 0.0, scale, -2 * scale, 2 * scale)


def he_uniform(t):
    fan_in, _ = _keras_fans(t.shape)
    limit = math.sqrt(6.0 / fan_in)
    return init.uniform_(t, -limit, limit)


def he_normal(t):
    fan_in, _ = _keras_fans(t.shape)
    return _truncated(t, math.sqrt(2.0 / fan_in))


def orthogonal(t):
    """torch's orthogonal_ on the kernel flattened to (rows, last dim), made on ``t``'s device."""
    from ..creation import empty

    rows = math.prod(t.shape[:-1]) if t.ndim > 1 else 1
    q = empty(rows, t.shape[-1], dtype="float32", device=t.device)
    init.orthogonal_(q)
    return init._fill(t, q._data.reshape(t.shape))


def zeros(t):
    return init.zeros_(t)


def ones(t):
    return init.ones_(t)


def random_normal(t):
    return init.normal_(t, 0.0, 0.05)


def random_uniform(t):
    return init.uniform_(t, -0.05, 0.05)


_BY_NAME = {"glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal, "he_uniform": he_uniform,
            "he_normal": he_normal, "orthogonal": orthogonal, "zeros": zeros, "ones": ones,
            "random_normal": random_normal, "random_uniform": random_uniform,
            # Keras' short aliases (Embedding's default is "uniform")
            "uniform": random_uniform, "normal": random_normal}


def get(identifier):
    if callable(identifier):
        return identifier
    key = str(identifier).lower()
    if key not in _BY_NAME:
        raise ValueError(f"Unknown initializer: {identifier!r} (known: {', '.join(sorted(_BY_NAME))})")
    return _BY_NAME[key]
