"""The CPU's global random generator behind rand/randn/randint and the in-place initialisers.

Creation does not call ``generator()`` directly: it asks the device's backend (``Backend.generator()``),
and the CPU backends (``cpu`` and ``composite``) answer with this generator, so ``manual_seed`` and the
RNG state below govern every random CPU tensor. A device backend keeps its own generator on the device.
"""
from __future__ import annotations

import contextlib

import numpy as np

_initial_seed = int(np.random.SeedSequence().entropy % (2**63))  # torch seeds its default generator so too
_generator = np.random.Generator(np.random.PCG64(_initial_seed))
_DEVICE_SEEDERS: list = []  # callables(seed) that manual_seed calls too (fastnn.cuda's manual_seed_all)


def generator() -> np.random.Generator:
    """The current CPU generator (looked up on each call: ``manual_seed`` replaces it)."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Seeds fastnn's generator (as ``torch.manual_seed``): the same seed gives the same tensors."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _generator = np.random.Generator(np.random.PCG64(int(seed)))
    global _initial_seed
    _initial_seed = int(seed)
    for seed_device in _DEVICE_SEEDERS:  # every device's generator, as torch.manual_seed seeds CUDA's
        seed_device(int(seed))
    return _generator


def initial_seed() -> int:
    """The seed the global generator was last seeded with (``torch.initial_seed``)."""
    return _initial_seed


def seed() -> int:
    """Seeds the generator from OS entropy and returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def seeded_generator(seed: int) -> np.random.Generator:
    """A CPU generator of its own, seeded with ``seed`` (for ``drawing_from``)."""
    return np.random.Generator(np.random.PCG64(int(seed)))


@contextlib.contextmanager
def drawing_from(gen: np.random.Generator):
    """Makes ``gen`` the CPU generator for the block: a layer with its own seed (Keras' ``seed=``) draws
    its dropout masks from its own stream, leaving the global one untouched."""
    global _generator
    saved, _generator = _generator, gen
    try:
        yield gen
    finally:
        _generator = saved


def get_rng_state() -> dict:
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state


# ---- torch.Generator ---------------------------------------------------------------------------------------
_DEFAULT_SEED = 67280421310721  # torch's default CPU seed: initial_seed() of a fresh Generator


class Generator:
    """``torch.Generator``: a private random stream for ``generator=`` arguments (rand, randn, randint,
    randperm, DataLoader, samplers, random_split). It wraps a NumPy PCG64 generator, so its numbers differ
    from torch's Mersenne Twister, but the contract is the same: one seed, one reproducible stream."""

    def __init__(self, device="cpu") -> None:
        from ._device import device as _device

        self.device = _device(str(device)) if not hasattr(device, "type") else _device(str(device))
        self._backend = None
        if self.device.type == "cuda":  # a stream on that device (its draws are device arrays)
            from .backend import get_backend

            self._backend = get_backend(self.device)  # PyTorch's error when there is no such device
            self.device = self._backend.device
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed) -> "Generator":
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
        seed = int(seed) % (2**64)  # torch wraps negative seeds the same way
        self._seed = seed
        if self._backend is not None:
            from .backend.cuda.generator import make_generator

            self._gen = make_generator(self._backend, seed)
        else:
            self._gen = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Re-seeds from OS entropy and returns the new seed (as ``torch.Generator.seed``)."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The stream's state as a uint8 tensor (torch returns a ByteTensor): PCG64's state and increment
        (16 bytes each), then the buffered 32-bit half and its flag (8 bytes each)."""
        from .creation import tensor

        self._cpu_only("get_state")
        st = self._gen.bit_generator.state
        raw = (st["state"]["state"].to_bytes(16, "little") + st["state"]["inc"].to_bytes(16, "little")
               + int(st["has_uint32"]).to_bytes(8, "little") + int(st["uinteger"]).to_bytes(8, "little"))
        return tensor(np.frombuffer(raw, np.uint8).copy())

    def set_state(self, new_state) -> "Generator":
        self._cpu_only("set_state")
        raw = bytes(np.asarray(new_state, dtype=np.uint8).reshape(-1))
        if len(raw) != 48:
            raise RuntimeError(f"Generator.set_state: expected a state of 48 bytes, got {len(raw)}")
        self._gen.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[:16], "little"), "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": int.from_bytes(raw[32:40], "little"), "uinteger": int.from_bytes(raw[40:48], "little")}
        return self

    def _cpu_only(self, what: str) -> None:
        if self._backend is not None:
            raise NotImplementedError(f"Generator.{what}: the state of a {self.device} generator is not "
                                      "exposed (seed it with manual_seed instead)")

    def __repr__(self) -> str:
        return f"<fastnn.Generator object at {id(self):#x}>"


def numpy_generator(generator, device=None):
    """The NumPy generator a ``generator=`` argument names (None: the device's global one)."""
    if generator is None:
        from .backend import get_backend

        return get_backend(device).generator()
    if isinstance(generator, Generator):
        kind = "cpu"
        if device is not None:
            from .backend import get_backend

            kind = get_backend(device).device.type
        if kind != generator.device.type:
            raise RuntimeError(f"Expected a '{kind}' device type for generator but found '{generator.device.type}'")
        return generator._gen
    raise TypeError(f"generator must be a fastnn.Generator, got {type(generator).__name__}")


def seed_host_generators(seed: int) -> None:
    """Seeds Python's ``random`` module and NumPy's global (legacy) generator, which user code and data
    pipelines draw from; keras.utils.set_random_seed seeds these along with fastnn's own generator."""
    import random as _random

    _random.seed(seed)
    np.random.seed(seed)
