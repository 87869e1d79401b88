"""The CUDA backend: one ``CudaBackend`` per device, CuPy arrays on a real GPU (the emulated device's
arrays under ``FASTNN_CUDA=emulate``), the kernel table served by our CUDA kernels where they exist and by
the composite kernels (``self.xp`` calls, so CuPy's) everywhere else.

Kernel overrides are mixins in ``backend/cuda/<family>.py``, the family names of ``backend/table.py``;
each is mixed in when its module exists and the device has a kernel module (``_C.cuda`` or ``fastnn._emu``),
so a missing module or a build without kernels leaves that family composite. ``native_kernels()`` says which
kernels a backend serves natively.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import os

import numpy as np

from ..._device import device as _device
from .. import table
from ..composite import CompositeBackend
from . import runtime as _runtime
from .emulated import EmulatedArray
from .generator import make_generator

_NONE = contextlib.nullcontext()


class CudaBackend(CompositeBackend):
    name = "cuda"

    def __init__(self, index: int, rt=None) -> None:
        super().__init__(_device("cuda", index))
        self._rt = rt if rt is not None else _runtime.make(index)
        self.xp = self._rt.xp
        self.native = self._rt.native
        self.device_id = index
        self.emulated = self._rt.emulated
        self._generator = None

    def __repr__(self) -> str:
        how = "emulated" if self.emulated else "CuPy"
        return f"<fastnn backend 'cuda' on {self.device} ({how}; native kernels: {len(self.native_kernels())})>"

    # ---- streams and synchronisation ---------------------------------------------------------------------------
    def stream(self) -> int:
        """The current stream as an integer handle, for the kernel calls (0 on the emulated device)."""
        return self._rt.stream()

    def synchronize(self) -> None:
        self._rt.synchronize()

    def device_guard(self):
        """A context making this device CuPy's current one (CuPy allocates and launches there)."""
        return self._rt.device_guard()

    def memory_pool(self):
        return self._rt.memory_pool()

    def properties(self) -> dict:
        return self._rt.properties()

    def available_memory(self) -> int | None:
        """The host's figure on the emulated device (its arrays live there); None on a GPU, where CuPy's
        allocator raises its own OutOfMemoryError at the allocation."""
        return super().available_memory() if self.emulated else None

    # ---- no FP error state on a GPU ----------------------------------------------------------------------------
    def errstate(self, **kwargs):
        """CuPy keeps no floating-point error state (and the emulator never warns): a no-op context."""
        return _NONE

    # ---- random numbers ----------------------------------------------------------------------------------------
    def generator(self):
        """This device's generator (the NumPy Generator protocol: random, standard_normal, integers, uniform,
        normal, exponential, permutation), seeded by ``fastnn.manual_seed`` / ``fastnn.cuda.manual_seed``."""
        if self._generator is None:
            from ... import cuda as _cuda_api

            self._generator = make_generator(self, _cuda_api._seed_for(self.device_id))
        return self._generator

    def manual_seed(self, seed: int) -> None:
        self.generator().seed(int(seed))

    # ---- host transfer -----------------------------------------------------------------------------------------
    def to_host(self, arr) -> np.ndarray:
        return self.xp.asnumpy(arr)

    def from_host(self, arr):
        with self.device_guard():
            return self.xp.asarray(arr)

    def from_host_async(self, arr):
        """``non_blocking=True``'s copy: asynchronous on the current stream from pinned memory (``pinned.py``)."""
        from .pinned import from_host_async

        return from_host_async(self, arr)

    def asarray(self, data, dtype=None):
        with self.device_guard():
            return self.xp.asarray(data, dtype)

    # ---- CPU scalars beside this device's arrays ------------------------------------------------------------
    def bring_scalars(self, *arrays) -> tuple:
        """A CPU 0-d array among ``arrays`` (a CPU scalar tensor's data, which ``backend_of`` let through as
        a scalar) as a 0-d array of this device; the rest as given. CuPy (and the emulated device) refuses
        NumPy arrays as operands; a 0-d device array works everywhere an array does (ufuncs, ``where``,
        ``clip``, ``broadcast_to``, methods), which a NumPy scalar would not. It costs one tiny host-to-device
        copy per such operand, where PyTorch passes the value as a kernel argument."""
        own = self.xp.ndarray
        if all(type(a) is own or not isinstance(a, np.ndarray) for a in arrays):
            return arrays
        return tuple(self._bring(a) if type(a) is not own else a for a in arrays)

    def _bring(self, a):
        if isinstance(a, np.ndarray) and a.ndim == 0 and not isinstance(a, EmulatedArray):
            return self.from_host(a)
        return a

    # ---- scatter with repeats ----------------------------------------------------------------------------------
    def scatter_at(self, arr, index, values, op: str = "add"):
        """``arr[index] <op>= values`` with every repeat contributing: ``cupyx.scatter_add`` / ``_max`` /
        ``_min`` on a GPU (``multiply.at`` for the product); ``ufunc.at`` on the emulated device."""
        if self.emulated:
            return super().scatter_at(arr, index, values, op)
        import cupyx

        fn = {"add": cupyx.scatter_add, "maximum": cupyx.scatter_max, "minimum": cupyx.scatter_min}.get(op)
        if fn is None:
            getattr(self.xp, op).at(arr, index, values)
        else:
            fn(arr, index, values)
        return arr

    # ---- index bounds: CuPy wraps out-of-range integer indices, the CPU raises ----------------------------------
    def check_index(self, shape, index) -> None:
        """Raises NumPy's IndexError ("index 5 is out of bounds for axis 0 with size 3", which the indexing
        ops turn into PyTorch's text) for an integer index outside ``[-n, n)`` of its axis, where CuPy would
        wrap it around silently. ``index`` is an index as ``arr[index]`` takes it (arrays converted)."""
        parts = index if isinstance(index, tuple) else (index,)
        consumed = sum(getattr(p, "ndim", 1) if _is_bool_array(p) else (0 if p is None or p is Ellipsis else 1)
                       for p in parts)
        axis = 0
        for p in parts:
            if p is None:
                continue
            if p is Ellipsis:
                axis += max(0, len(shape) - consumed)
                continue
            if _is_bool_array(p):
                axis += p.ndim
                continue
            if axis >= len(shape):
                return  # too many indices: the indexing itself raises NumPy's/CuPy's error
            n = shape[axis]
            if isinstance(p, (int, np.integer)) and not isinstance(p, (bool, np.bool_)):
                if not -n <= int(p) < n:
                    raise IndexError(f"index {int(p)} is out of bounds for axis {axis} with size {n}")
            elif getattr(p, "dtype", None) is not None and p.dtype.kind in "iu" and p.size:
                bad = (p < -n) | (p >= n)
                if bool(bad.any()):
                    first = int(p[bad].reshape(-1)[0])
                    raise IndexError(f"index {first} is out of bounds for axis {axis} with size {n}")
            axis += 1

    # ---- which kernels are ours --------------------------------------------------------------------------------
    @classmethod
    def native_kernels(cls) -> tuple:
        """The kernel-table names this backend serves with CUDA kernels (the rest are composite)."""
        out = []
        for name in table.all_kernels():
            owner = next((k for k in cls.__mro__ if name in vars(k)), None)
            if owner is not None and owner.__module__.startswith(__name__ + "."):
                out.append(name)
        return tuple(out)


def _is_bool_array(p) -> bool:
    return getattr(p, "dtype", None) is not None and getattr(p, "ndim", 0) > 0 and p.dtype == np.bool_


def kernel_mixins() -> tuple:
    """The kernel mixin classes of the families that have a ``backend/cuda/<family>.py`` module (classes
    defined there whose names end in ``Kernels``), in the table's family order."""
    mixins = []
    for family in table.KERNELS:
        try:
            mod = importlib.import_module(f"{__name__}.{family}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{family}":
                continue  # no module: that family stays composite
            raise
        mixins += [cls for _, cls in inspect.getmembers(mod, inspect.isclass)
                   if cls.__module__ == mod.__name__ and cls.__name__.endswith("Kernels")]
    return tuple(mixins)


_CLASSES: dict = {}


def backend_class(with_kernels: bool) -> type:
    """``CudaBackend`` with the kernel mixins (a device with a kernel module), or the composite-only one."""
    if not with_kernels:
        return CudaBackend
    cls = _CLASSES.get(True)
    if cls is None:
        mixins = kernel_mixins()
        cls = type("CudaBackend", mixins + (CudaBackend,), {"__module__": __name__}) if mixins else CudaBackend
        _CLASSES[True] = cls
    return cls


def make_backend(index: int) -> CudaBackend:
    """The backend of CUDA device ``index`` in the current mode (real or emulated). ``FASTNN_CUDA_KERNELS=
    composite`` (read when the device is first used) leaves every kernel to the composite versions, i.e. to
    CuPy's ops: the baseline bench/gpu.py's training rows compare our kernels with, and a debugging aid."""
    rt = _runtime.make(index)
    choice = os.environ.get("FASTNN_CUDA_KERNELS", "native").strip().lower() or "native"
    if choice not in ("native", "composite"):
        raise ValueError(f"FASTNN_CUDA_KERNELS={choice!r}: expected native or composite")
    return backend_class(rt.native is not None and choice == "native")(index, rt)


__all__ = ["CudaBackend", "backend_class", "kernel_mixins", "make_backend"]
