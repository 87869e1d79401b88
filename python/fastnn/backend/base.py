"""What every backend offers besides its kernels: the array module, the device, error state, random
numbers, allocation and host transfer.

A backend is a singleton per device (``backend_of`` hands out the same object for every array it owns),
so ops may compare backends with ``is``. Kernels are methods: ``composite.CompositeBackend`` writes each
one with ``self.xp`` calls only, and a device backend (``cpu.CpuBackend``) subclasses it and overrides
the kernels it has native code for, so a missing fast kernel falls back to the readable one.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .._device import device as _device


def host_available_memory() -> int | None:
    """/proc/meminfo's MemAvailable in bytes (None off Linux or when unreadable)."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class Backend:
    name: str = "abstract"
    xp = None  # the array module (numpy, cupy) whose arrays this backend holds

    def __init__(self, device: _device):
        self.device = device

    def __repr__(self) -> str:
        return f"<fastnn backend {self.name!r} on {self.device}>"

    # ---- floating-point error state --------------------------------------------------------------------
    def errstate(self, **kwargs):
        """``xp.errstate(...)``, or a no-op context where the array module keeps no FP error state."""
        fn = getattr(self.xp, "errstate", None)
        return fn(**kwargs) if fn is not None else contextlib.nullcontext()

    # ---- random numbers ----------------------------------------------------------------------------------
    def generator(self):
        """The generator behind rand/randn/randint and the in-place initialisers on this device."""
        raise NotImplementedError

    # ---- allocation and conversion -------------------------------------------------------------------------
    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype)

    def zeros(self, shape, dtype):
        return self.xp.zeros(shape, dtype)

    def full(self, shape, value, dtype):
        return self.xp.full(shape, value, dtype)

    def asarray(self, data, dtype=None):
        """``data`` (host data, a scalar, or an array of this backend) as an array of this backend."""
        return self.xp.asarray(data, dtype)

    def to_host(self, arr) -> np.ndarray:
        """A NumPy array with ``arr``'s values (the array itself on the CPU)."""
        raise NotImplementedError

    def from_host(self, arr: np.ndarray):
        """A copy of NumPy array ``arr`` on this backend's device (``arr`` itself on the CPU)."""
        raise NotImplementedError

    def available_memory(self) -> int | None:
        """Bytes this device can still hand out, or None when it cannot tell. The base answer is the host's
        (the CPU and the emulated CUDA device allocate there): Linux's MemAvailable, read per call, because
        with overcommit a too-big NumPy allocation succeeds and the process is killed later when it touches
        the pages, where a check beforehand can raise a clear error."""
        return host_available_memory()

    # ---- CPU scalars beside device arrays ----------------------------------------------------------------
    def bring_scalars(self, *arrays) -> tuple:
        """``arrays`` (an op's operands, after ``backend_of`` chose this backend) as this backend's array
        module takes them: a CPU 0-d array, which PyTorch lets meet arrays of any device as a scalar
        (``registry.backend_with_cpu_scalars``), becomes this device's; everything else is returned as it is. The
        CPU's arrays are all its own: the arguments, unchanged."""
        return arrays

    # ---- memory tricks (a backend without them keeps the safe default) -------------------------------------
    def exclusively_owned(self, arr) -> bool:
        """True when nothing but the autograd engine refers to ``arr``, so it may become a ``.grad``
        without a copy. The safe answer is False (always copy)."""
        return False

    # ---- index bounds --------------------------------------------------------------------------------------------
    def check_index(self, shape, index) -> None:
        """Raises NumPy's IndexError for an integer index out of range of an array of ``shape``, where this
        backend's array module would not itself (CuPy wraps around). NumPy raises: nothing to do here."""

    # ---- unbuffered scatter (indexing ops and their backwards) ---------------------------------------------
    def scatter_at(self, arr, index, values, op: str = "add"):
        """In place ``arr[index] <op>= values`` where repeated indices each contribute (unbuffered, as
        ``xp.<op>.at``); ``op`` is "add", "multiply", "maximum" or "minimum". Returns ``arr``. A device
        whose array module lacks ``ufunc.at`` overrides this one method (CuPy has ``add.at``; others may
        need ``cupyx.scatter_add``-style calls)."""
        getattr(self.xp, op).at(arr, index, values)
        return arr
