"""Keras activation names → functions on fastnn tensors (softmax over the last axis, as Keras)."""
from __future__ import annotations

from .. import ops


def linear(x):
    return x


def softmax(x, axis: int = -1):
    return ops.softmax(x, axis)


def log_softmax(x, axis: int = -1):
    return ops.log_softmax(x, axis)


def gelu(x, approximate: bool = False):
    return ops.gelu(x, approximate="tanh" if approximate else "none")


def elu(x, alpha: float = 1.0):
    from ..nn import functional as F

    return F.elu(x, alpha)


def swish(x):
    return x * ops.sigmoid(x)


def softplus(x):
    from ..nn import functional as F

    return F.softplus(x)


def leaky_relu(x, negative_slope: float = 0.2):
    return ops.leaky_relu(x, negative_slope)


_BY_NAME = {"relu": ops.relu, "sigmoid": ops.sigmoid, "tanh": ops.tanh, "softmax": softmax, "gelu": gelu,
            "linear": linear, "elu": elu, "swish": swish, "silu": swish, "softplus": softplus,
            "leaky_relu": leaky_relu, "log_softmax": log_softmax}


def get(identifier):
    """An activation function from a name, a callable, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    key = str(identifier).lower()
    if key not in _BY_NAME:
        raise ValueError(f"Unknown activation function: '{identifier}' (known: {', '.join(sorted(_BY_NAME))})")
    return _BY_NAME[key]


def name_of(fn) -> str:
    for name, f in _BY_NAME.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", "custom")
