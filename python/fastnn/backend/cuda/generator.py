"""A CUDA device's random generator, speaking the NumPy ``Generator`` protocol the ops use (``random``,
``standard_normal``, ``integers``, ``uniform``, ``normal``, ``exponential``, ``permutation``, ``seed``).

On a GPU it draws with CuPy's ``cupy.random.Generator`` (cuRAND's XORWOW) on the backend's device, filling in
what CuPy's Generator lacks (``normal``, ``permutation``) from the draws it has and passing the other
distributions (``standard_exponential``, ``binomial``, ...) to CuPy's; on the emulated device it is
a NumPy ``Generator`` whose results are that device's arrays.
"""
from __future__ import annotations


def make_generator(backend, seed: int):
    if backend.emulated:
        from .emulated import EmulatedGenerator

        return EmulatedGenerator(seed, backend.xp)
    return CupyGenerator(backend, seed)


class CupyGenerator:
    def __init__(self, backend, seed: int) -> None:
        self._be = backend
        self.seed(seed)

    def seed(self, seed: int) -> None:
        with self._be.device_guard():
            self._gen = self._be.xp.random.default_rng(int(seed))

    def random(self, size=None, dtype=None):
        with self._be.device_guard():
            return self._gen.random(size, dtype=dtype or "float64")

    def standard_normal(self, size=None, dtype=None):
        with self._be.device_guard():
            return self._gen.standard_normal(size, dtype=dtype or "float64")

    def integers(self, low, high=None, size=None, dtype="int64", endpoint=False):
        with self._be.device_guard():
            return self._gen.integers(low, high, size, dtype=dtype, endpoint=endpoint)

    def uniform(self, low=0.0, high=1.0, size=None):
        with self._be.device_guard():
            return self._gen.uniform(low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        with self._be.device_guard():
            return self._gen.standard_normal(size) * scale + loc

    def exponential(self, scale=1.0, size=None):
        with self._be.device_guard():
            return self._gen.exponential(scale, size)

    def __getattr__(self, name):
        """CuPy's own draws for the rest of the protocol (standard_exponential, standard_gamma, binomial,
        beta, poisson ...), run on this device."""
        draw = getattr(self.__dict__["_gen"], name)
        be = self._be

        def on_device(*args, **kwargs):
            with be.device_guard():
                return draw(*args, **kwargs)

        on_device.__name__ = name
        return on_device

    def permutation(self, x):
        """A random permutation of ``range(x)`` (an int) or of ``x``'s first axis: the argsort of uniform
        draws (ties have probability ~2^-53)."""
        xp = self._be.xp
        with self._be.device_guard():
            n = int(x) if not hasattr(x, "shape") else x.shape[0]
            order = xp.argsort(self._gen.random(n))
            return order if not hasattr(x, "shape") else x[order]
