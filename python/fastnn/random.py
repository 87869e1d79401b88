"""The CPU's global random generator behind rand/randn/randint and the in-place initialisers.

Creation does not call ``generator()`` directly: it asks the device's backend (``Backend.generator()``),
and the CPU backends (``cpu`` and ``composite``) answer with this generator, so ``manual_seed`` and the
RNG state below govern every random CPU tensor. A device backend keeps its own generator on the device.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.Generator(np.random.PCG64())


def generator() -> np.random.Generator:
    """The current CPU generator (looked up on each call: ``manual_seed`` replaces it)."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Seeds fastnn's generator (as ``torch.manual_seed``): the same seed gives the same tensors."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _generator = np.random.Generator(np.random.PCG64(int(seed)))
    return _generator


def seed() -> int:
    """Seeds the generator from OS entropy and returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def get_rng_state() -> dict:
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state
