"""A layer's own random stream for Keras' ``seed=`` argument: with a seed, the layer's dropout masks and
noise come from a private generator seeded with it (the same seed, the same masks, whatever else draws
numbers), as Keras' SeedGenerator; without one, from fastnn's global generator."""
from __future__ import annotations

import contextlib

import numpy as np

from ... import random as _random


def make_stream(layer, seed) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{type(layer).__name__}: `seed` must be a non-negative integer or None, got {seed!r}")
    layer.__dict__["seed"] = seed
    layer.__dict__["_stream"] = None if seed is None else _random.seeded_generator(seed)


def stream(layer):
    """A context in which the layer's random draws come from its own stream (a no-op without a seed)."""
    gen = layer.__dict__.get("_stream")
    return _random.drawing_from(gen) if gen is not None else contextlib.nullcontext()
