"""Which CUDA devices exist, and for each the array module, the kernel module and the current stream.

The mode comes from the environment variable ``FASTNN_CUDA``, read at the first CUDA query (not at import):

- unset, ``auto``, ``on``: the real devices, counted by ``fastnn._C`` (``backend/native.py``), never by CuPy
  (whose device query raises without a driver); arrays are CuPy's, kernels ``fastnn._C.cuda``;
- ``emulate`` or ``emulate:N``: N (default 1) emulated devices: host memory seen as device memory
  (``emulated.py``), kernels run by the emulator module ``fastnn._emu``;
- ``off``: no CUDA device.

The same variable spells CMake's build switch (AUTO / ON / OFF, read by pyproject's scikit-build define at
build time), so those values mean the same at run time. ``configure(spec)`` changes the mode at run time (the
tests use it to get a second emulated device).
"""
from __future__ import annotations

import importlib
import os

ENV = "FASTNN_CUDA"
_mode: tuple | None = None  # ("auto", None) | ("emulate", n) | ("off", 0), parsed once


def parse(spec: str | None) -> tuple:
    """``FASTNN_CUDA``'s value as (kind, count): ("auto", None), ("emulate", n) or ("off", 0)."""
    text = (spec or "auto").strip().lower()
    if text in ("", "auto", "on", "1", "true"):
        return ("auto", None)
    if text in ("off", "0", "false", "none"):
        return ("off", 0)
    kind, _, count = text.partition(":")
    if kind == "emulate":
        try:
            n = int(count) if count else 1
        except ValueError:
            n = -1
        if n >= 0:
            return ("emulate", n)
    raise ValueError(f"{ENV}={spec!r}: expected auto, on, off, emulate or emulate:N")


def mode() -> tuple:
    global _mode
    if _mode is None:
        _mode = parse(os.environ.get(ENV))
    return _mode


def spec() -> str:
    """The current mode spelled as ``FASTNN_CUDA`` takes it (for ``configure`` to restore)."""
    kind, n = mode()
    return f"emulate:{n}" if kind == "emulate" else kind


def configure(spec: str | None) -> tuple:
    """Sets the mode as ``FASTNN_CUDA=spec`` would (None: read the environment again). Backends made for
    devices that stay keep their identity; the registry forgets devices beyond the new count."""
    global _mode
    _mode = parse(os.environ.get(ENV)) if spec is None else parse(spec)
    from .. import registry

    registry._cuda_mode_changed()
    return _mode


def emulated() -> bool:
    return mode()[0] == "emulate"


def device_count() -> int:
    kind, n = mode()
    if kind == "off":
        return 0
    if kind == "emulate":
        return n
    from .. import native

    return int(native.cuda_device_count()) if native.cuda_built() else 0


def built() -> bool:
    """Whether CUDA can exist in this process: a CUDA build of ``_C``, or the emulator."""
    if emulated():
        return True
    from .. import native

    return bool(native.cuda_built())


def unavailable_error(index: int | None):
    """PyTorch's error for a CUDA device that cannot be served (none at all, or ``index`` beyond the count)."""
    n = device_count()
    if n == 0:
        if mode()[0] == "off":
            return RuntimeError("No CUDA GPUs are available")
        if not built():
            return AssertionError("Torch not compiled with CUDA enabled".replace("Torch", "fastnn"))
        return RuntimeError("Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
                            "installed a driver from http://www.nvidia.com/Download/index.aspx")
    return RuntimeError(f"CUDA error: invalid device ordinal (device {index}; {n} CUDA device"
                        f"{'s' if n != 1 else ''} available)")


class CupyRuntime:
    """A real GPU: CuPy arrays (imported here, on the first use of a device), ``fastnn._C.cuda`` kernels."""

    emulated = False

    def __init__(self, index: int) -> None:
        import cupy  # ~0.8 s, and useless without a driver: only now, when a real device is asked for

        self.index = index
        self.xp = cupy
        self.native = _native_module("fastnn._C", "cuda")
        self._cuda = cupy.cuda
        self.device_obj = cupy.cuda.Device(index)
        self._pool = _CupyPool(cupy, index)

    def stream(self) -> int:
        """CuPy's current stream on this device (not on CuPy's current device), as an integer handle."""
        return int(self._cuda.get_current_stream(self.index).ptr)

    def synchronize(self) -> None:
        self.device_obj.synchronize()

    def device_guard(self):
        """Makes this device CuPy's current one for a block (CuPy allocates and launches on the current one)."""
        return self.device_obj

    def memory_pool(self):
        return self._pool

    def properties(self) -> dict:
        return dict(self._cuda.runtime.getDeviceProperties(self.index))


class _CupyPool:
    """CuPy's default memory pool for one device, plus the peak of its used bytes (CuPy keeps none): a
    memory hook, installed with the device's backend (in the thread that made it: CuPy's hooks are
    per thread), counts the pool's allocations and frees on this device, without calling into the pool."""

    def __init__(self, cupy, index: int) -> None:
        from cupy.cuda import memory_hook

        self._cupy = cupy
        self._pool = cupy.get_default_memory_pool()
        self._index = index
        with cupy.cuda.Device(index):
            self._live = self._pool.used_bytes()  # what the counting starts from
        self._peak = self._live
        outer = self

        class _Peak(memory_hook.MemoryHook):
            name = f"fastnn_peak_{index}"

            def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
                if device_id == index:
                    outer._live += mem_size
                    if outer._live > outer._peak:
                        outer._peak = outer._live

            def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
                if device_id == index:
                    outer._live -= mem_size

        self._hook = _Peak()
        self._hook.__enter__()  # stays installed for the process

    def used_bytes(self) -> int:
        return self._pool.used_bytes()

    def total_bytes(self) -> int:
        return self._pool.total_bytes()

    def free_all_blocks(self) -> None:
        self._pool.free_all_blocks()

    def peak_bytes(self) -> int:
        return max(self._peak, self.used_bytes())

    def reset_peak(self) -> None:
        self._live = self._peak = self.used_bytes()


class EmulatedRuntime:
    """An emulated device: host arrays of a per-device NumPy subclass, kernels in ``fastnn._emu``."""

    emulated = True

    def __init__(self, index: int) -> None:
        from .emulated import EmulatedXP

        self.index = index
        self.xp = EmulatedXP(index, device_count)
        self.native = _native_module("fastnn._emu", None)

    def stream(self) -> int:
        """The handle of the current emulated stream (0: the default one; ``fastnn.cuda.stream`` blocks)."""
        from .streams import emulated_current

        return emulated_current(self.index).ptr

    def synchronize(self) -> None:
        """Kernels run on host memory and have finished when their launch returns."""

    def device_guard(self):
        return self.xp.cuda.Device(self.index)

    def memory_pool(self):
        return self.xp.get_default_memory_pool()

    def properties(self) -> dict:
        """What an emulated device can say of itself: its name and the emulator's warp size; nothing it
        does not have (no SMs, no device memory of its own)."""
        return {"name": f"fastnn emulated CUDA device {self.index}".encode(), "warpSize": 32,
                "major": 0, "minor": 0, "multiProcessorCount": 0, "totalGlobalMem": 0}


def _native_module(name: str, attr: str | None):
    """The kernel module, or None where it is not built (then every kernel is a composite one)."""
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    return getattr(mod, attr, None) if attr else mod


def make(index: int):
    return EmulatedRuntime(index) if emulated() else CupyRuntime(index)
