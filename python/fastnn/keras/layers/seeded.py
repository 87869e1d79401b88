"""A layer's own random stream for Keras' ``seed=`` argument: with a seed, the layer's dropout masks and
noise come from a private generator seeded with it (the same seed, the same masks, whatever else draws
numbers), as Keras' SeedGenerator; without one, from fastnn's global generator."""
from __future__ import annotations

import contextlib

import numpy as np

from ... import creation
from ... import random as _random
from ...ops.dropout import dropout as _dropout
from ..._tensor import Tensor


def make_stream(layer, seed) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{type(layer).__name__}: `seed` must be a non-negative integer or None, got {seed!r}")
    layer.__dict__["seed"] = seed
    layer.__dict__["_stream"] = None if seed is None else _random.seeded_generator(seed)


_seeded: list = []  # the streams of the enclosing stream(layer) blocks of seeded layers, innermost last


@contextlib.contextmanager
def stream(layer):
    """A context in which the layer's random draws come from its own stream (a no-op without a seed)."""
    gen = layer.__dict__.get("_stream")
    if gen is None:
        yield
        return
    _seeded.append(gen)
    try:
        with _random.drawing_from(gen):
            yield
    finally:
        _seeded.pop()


def uniform_like(shape, like: Tensor, dtype: str = "float32") -> Tensor:
    """Uniform [0, 1) draws of ``shape`` and ``dtype`` on ``like``'s device: from the enclosing seeded layer's
    stream (drawn on the host, then copied: a device's generator knows nothing of the layer's seed, and so
    the masks are the same on every device), else from the device's generator."""
    if _seeded:
        drawn = np.float64 if dtype == "float64" else np.float32  # the draws NumPy's generator makes
        return creation.tensor(_seeded[-1].random(tuple(shape), dtype=drawn), device=like.device).to(dtype)
    return creation.rand(*shape, dtype=dtype, device=like.device)


def dropout(x: Tensor, rate: float) -> Tensor:
    """Training-mode dropout of ``x`` (fastnn's op) whose mask honours the enclosing seeded layer's stream on
    every device: on the CPU the op draws from it already; on a device the keep mask is drawn on the host
    from the stream, as the CPU op draws it, so a seeded layer drops the same entries everywhere."""
    if not _seeded or x.device.type == "cpu" or rate in (0.0, 1.0):
        return _dropout(x, rate, True)
    keep = uniform_like(x.shape, x) >= float(np.float32(rate))
    return x * (keep.to(x.dtype) * (1.0 / (1.0 - rate)))
