"""Fuzz cases for the native modules (test_fuzz_native): one generic case, ``call``, that builds a native
function's arguments from plain descriptors inside the worker and calls it, so every function of fastnn._C and
every CUDA binding of fastnn._emu runs through the same path.

A descriptor is a plain value (passed as is) or a tuple tagged with its kind:

- ``("arr", shape, dtype, layout, fill)``: a NumPy array. ``layout`` is "c" (C-contiguous), "t" (a transposed,
  non-contiguous view), "step" (every other element of the last dim), "bcast" (zero strides: any shape, one
  element of memory, read-only), "ro" (read-only) or "neg" (a negative last-dim stride). ``fill`` is "rand",
  "nan", "inf", "big" (float32 max), "int:<lo>:<hi>" (integers in [lo, hi)) or a number.
- ``("dev", <arr descriptor>)``: that array posing as a device array (``__cuda_array_interface__`` only), as the
  emulator's tests give it.
- ``("fakedev", shape, typestr)``: a device array that claims ``shape`` over one real element of memory: a
  binding must reject it from the shape alone (its element count overflows int64) before any kernel runs.
- ``("list", [descriptors])``: a Python list of them.

A descriptor that cannot be built (NumPy refuses the shape) raises ``BuildError``: the test skips that example.
"""
from __future__ import annotations

import importlib

import numpy as np

from cuda_kernel_helpers import HostDeviceArray


class BuildError(Exception):
    """The arguments themselves could not be made (not a finding about the function under test)."""


class FakeDeviceArray:
    """A device array whose claimed shape has nothing behind it but one element."""

    def __init__(self, shape, typestr):
        self._keep = np.zeros(1, np.float64)
        self.shape = tuple(shape)
        self.typestr = typestr

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.typestr, "data": (self._keep.ctypes.data, False),
                "strides": None, "version": 3}


def _fill(shape, dtype, fill, rng):
    dtype = np.dtype(dtype)
    if isinstance(fill, str) and fill.startswith("int:"):
        lo, hi = (int(v) for v in fill.split(":")[1:])
        return rng.integers(lo, hi, size=shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 3, size=shape).astype(dtype)
    if fill == "rand":
        return rng.standard_normal(shape).astype(dtype)
    value = {"nan": np.nan, "inf": np.inf, "big": np.finfo(np.float32).max}.get(fill, fill)
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.full(shape, value, dtype)
        if fill in ("nan", "inf") and a.size > 1:
            a.flat[::2] = 1.0  # a mix of finite and non-finite values
    return a


def _array(shape, dtype, layout, fill, rng):
    if shape and shape[0] == "emu_size":  # a workspace sized by the emulator's own query
        shape = (getattr(importlib.import_module("fastnn._emu"), shape[1])(*shape[2]),)
    shape = tuple(int(s) for s in shape)
    try:
        if layout == "bcast":
            return np.broadcast_to(_fill((1,) * len(shape), dtype, fill, rng), shape)
        if layout == "t" and len(shape) >= 2:
            base = _fill(shape[::-1], dtype, fill, rng)
            return base.T
        if layout == "step" and len(shape) >= 1:
            base = _fill(shape[:-1] + (2 * shape[-1],), dtype, fill, rng)
            return base[..., ::2]
        if layout == "neg" and len(shape) >= 1:
            return _fill(shape, dtype, fill, rng)[..., ::-1]
        a = _fill(shape, dtype, fill, rng)
        if layout == "ro":
            a.flags.writeable = False
        return a
    except (ValueError, MemoryError, OverflowError, TypeError) as e:
        raise BuildError(f"cannot build array {shape} {dtype}: {e}") from None


def build(desc, rng):
    if isinstance(desc, tuple) and desc and isinstance(desc[0], str):
        kind = desc[0]
        if kind == "arr":
            return _array(*desc[1:], rng)
        if kind == "dev":
            return HostDeviceArray(build(desc[1], rng))  # a strided view passes its strides along
        if kind == "fakedev":
            return FakeDeviceArray(desc[1], desc[2])
        if kind == "list":
            return [build(d, rng) for d in desc[1]]
        if kind == "tuple":
            return tuple(build(d, rng) for d in desc[1])
    return desc


def _summary(value):
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype))
    if isinstance(value, (tuple, list)):
        return type(value).__name__, [_summary(v) for v in value]
    if isinstance(value, dict):
        return "dict", sorted(value)
    return value


def call(module: str, fn: str, args: tuple, kwargs: dict, seed: int = 0):
    """Builds the arguments and calls ``module.fn``; returns a small summary of the result."""
    rng = np.random.default_rng(seed)
    built_args = [build(a, rng) for a in args]
    built_kwargs = {k: build(v, rng) for k, v in kwargs.items()}
    mod = importlib.import_module(module)
    f = getattr(mod, fn)
    if fn == "set_num_threads":  # later cases in this worker must not run with a hostile thread count
        before = mod.get_num_threads()
        try:
            return _summary(f(*built_args, **built_kwargs))
        finally:
            mod.set_num_threads(before)
    return _summary(f(*built_args, **built_kwargs))
