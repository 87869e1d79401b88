"""The emulated CUDA device's array module: host memory dressed as device memory, so CI runs the CUDA
backend's Python code (and, through ``fastnn._emu``, its kernels) without a GPU.

Each emulated device index has its own NumPy ``ndarray`` subclass (``array_type(i)``), so the registry's
type-keyed look-up finds the device of an array as it does for every backend. The arrays behave as CuPy's
do where the difference matters to a backend:

- ``__cuda_array_interface__`` (version 3) describes them, so the kernel bindings take them as they take CuPy
  arrays; ``__dlpack_device__`` says CUDA (``kDLCUDA``, the index).
- results of ufuncs, methods and NumPy functions applied to them stay on their device (a 0-d array where
  NumPy would give a scalar, as CuPy does);
- nothing crosses between host and device silently: ``np.array(device_array)`` raises CuPy's TypeError, a
  plain NumPy array met in a ufunc or an ``xp`` function raises TypeError, and arrays of two devices meeting
  raise ValueError. (One hole the emulator cannot close: ``np.asarray`` of an ndarray subclass returns a
  host view without asking the array, where CuPy raises; the AST scans of tests/test_layering.py and
  tests/test_cuda_cupy_coverage.py keep ``np.`` calls away from device arrays instead.) Transfers are
  explicit: ``xp.asarray(host)`` copies in, ``xp.asnumpy`` / ``.get()`` out.
- floating-point errors never warn (a GPU has no FP error state; CuPy has no ``errstate``);
- NumPy names CuPy lacks (``nanquantile``, ``errstate``, ``linalg.vector_norm`` ...) raise CuPy's
  AttributeError, and the arrays have no ``__array_interface__`` / ``ctypes``;
- with several devices (``emulate:N``, N > 1) CuPy's current device is emulated too: ``Device(i).use()`` /
  ``with Device(i)`` switch it, allocations land on it, and an operation on another device's arrays raises
  CuPy's ValueError, so CI exercises the device switching of backend_of / get_backend / the engine.

``EmulatedXP(i)`` mirrors the parts of CuPy's module the backend and the ops use: every NumPy function CuPy has,
delegated, with its array results viewed as device ``i``'s arrays; ``asnumpy``, ``ndarray``, ``cuda``
(``Device``, ``get_current_stream``, ``runtime.getDeviceCount``), ``get_default_memory_pool``, ``random``.
"""
from __future__ import annotations

import types
import weakref

import numpy as np

from ..dlpack import KDLCPU, set_capsule_device

_KDLCUDA = 2  # DLPack's device type for CUDA memory
_TYPES: dict[int, type] = {}  # device index -> its array subclass
_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy "
             "array explicitly.")  # CuPy's text
# NumPy names CuPy (14.2) does not have, per namespace: the emulated module refuses them with the
# AttributeError CuPy would raise, so code calling one fails in CI as it would on a GPU.
_NOT_IN_CUPY = {
    "": frozenset(
        "False_ ScalarType True_ asmatrix block bmat busday_count busday_offset busdaycalendar bytes_ char "
        "character clongdouble complex256 core ctypeslib datetime64 datetime_as_string datetime_data dtypes "
        "einsum_path emath errstate f2py flexible float128 frompyfunc fromregex geomspace get_include getbufsize "
        "geterr geterrcall histogram_bin_edges info insert is_busday isnat little_endian longdouble ma matrix "
        "matvec memmap nanpercentile nanquantile ndenumerate nditer nested_iters object_ polyder polydiv polyint "
        "rec recarray record sctypeDict setbufsize seterr seterrcall show_runtime spacing str_ strings test "
        "timedelta64 typecodes unstack vecdot vecmat void".split()),
    "linalg": frozenset("diagonal matrix_norm multi_dot outer svdvals tensordot test trace vecdot "
                        "vector_norm".split()),
    "fft": frozenset({"test"}),
    "random": frozenset("MT19937 PCG64 PCG64DXSM Philox SFC64 SeedSequence bit_generator get_bit_generator "
                        "get_state mtrand set_bit_generator set_state test".split()),
    "lib": frozenset("Arrayterator NumpyVersion add_docstring add_newdoc array_utils format introspect mixins "
                     "npyio scimath test tracemalloc_domain".split()),
}


# CuPy's current device, emulated: with several devices (``set_strict(True)``, FASTNN_CUDA=emulate:N, N > 1)
# allocations land on the current device and an operation on arrays of another device raises CuPy's
# ValueError, so CI exercises the device switching a multi-GPU machine needs.
_CURRENT = [0]
_STRICT = [False]


def set_strict(flag: bool) -> None:
    _STRICT[0] = bool(flag)


def current_device() -> int:
    return _CURRENT[0]


def _on_current(index, what: str):
    """``index`` (the operands' device), checked against the current device as CuPy checks it."""
    if _STRICT[0] and index is not None and index != _CURRENT[0]:
        raise ValueError(f"{what}: Array device must be same as the current device: array device = {index} "
                         f"while current = {_CURRENT[0]}")
    return index


def _refuse(path: str, name: str) -> None:
    if name in _NOT_IN_CUPY.get(path, ()):
        where = "cupy" + ("." + path if path else "")
        raise AttributeError(f"module '{where}' has no attribute '{name}' (the emulated device offers CuPy's "
                             "API only)")


def _quiet():
    return np.errstate(all="ignore")  # (a context object enters once: one per call)


class _DeviceRef:
    """``array.device``: CuPy's ``cupy.cuda.Device`` look (``.id``)."""

    __slots__ = ("id",)

    def __init__(self, index: int) -> None:
        self.id = index

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, _DeviceRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class EmulatedArray(np.ndarray):
    """Base of the per-device subclasses; never instantiated itself."""

    _device_index = -1

    # ---- where it lives ------------------------------------------------------------------------------------
    @property
    def device(self) -> _DeviceRef:
        return _DeviceRef(self._device_index)

    @property
    def __cuda_array_interface__(self) -> dict:
        host = self.view(np.ndarray)
        return {"version": 3, "shape": self.shape, "typestr": self.dtype.str,
                "data": (host.__array_interface__["data"][0] if self.size else 0, not self.flags.writeable),
                "strides": None if self.flags.c_contiguous else self.strides, "stream": None}

    # What CuPy's arrays do not have: the host views of NumPy (code that reads a host pointer must use the
    # CUDA Array Interface, as it must on a GPU)
    @property
    def __array_interface__(self):
        raise AttributeError("'cupy.ndarray' object has no attribute '__array_interface__' (emulated device "
                             "memory: use __cuda_array_interface__)")

    @property
    def ctypes(self):
        raise AttributeError("'cupy.ndarray' object has no attribute 'ctypes' (emulated device memory)")

    def __dlpack_device__(self):
        return (_KDLCUDA, self._device_index)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        # NumPy's capsule of the host memory, claiming CUDA device memory as a CuPy capsule does (so a
        # consumer other than this module's from_dlpack refuses it as it would refuse GPU memory)
        kwargs = {} if max_version is None else {"max_version": max_version}
        return set_capsule_device(self.view(np.ndarray).__dlpack__(**kwargs), _KDLCUDA, self._device_index)

    # ---- explicit transfer ---------------------------------------------------------------------------------
    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        """CuPy's device-to-host copy."""
        host = np.array(self.view(np.ndarray), order=order, copy=True)
        if out is not None:
            out[...] = host
            return out
        return host

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        return str(self.view(np.ndarray))

    def __reduce__(self):
        # pickles as device data of the same device, as CuPy arrays do
        return (_rebuild, (self._device_index, self.get()))

    # ---- staying on the device -----------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _run_ufunc(ufunc, method, inputs, kwargs, None)

    def __array_function__(self, func, types_, args, kwargs):
        index = _on_current(_common_index((args, kwargs), func.__name__), func.__name__)
        with _quiet():
            result = func(*_unwrap(args), **_unwrap(kwargs))
        return _wrap(result, index)

    # Indexing takes host index arrays and host values, as CuPy's does (it copies them to the device).
    def __getitem__(self, key):
        # NumPy's own indexing of this subclass: a view's .base is this array (or the device array it views),
        # as a CuPy view's base is its root, which the ops' view detection relies on
        _same_device(key, "__getitem__", self._device_index)
        result = np.ndarray.__getitem__(self, key)
        return result if isinstance(result, EmulatedArray) else _wrap(result, self._device_index)

    def __setitem__(self, key, value):
        _same_device((key, value), "__setitem__", self._device_index)
        with _quiet():
            self.view(np.ndarray)[_unwrap(key)] = _unwrap(value)

    def __array_finalize__(self, obj):
        if self.base is None:  # a new allocation of this type (copy, astype): counted by its device's pool
            pool_of(self._device_index)._track(self)

    # methods NumPy answers with host arrays or scalars for a subclass: kept on the device, as CuPy's
    def nonzero(self):
        return _wrap(self.view(np.ndarray).nonzero(), self._device_index)

    def argmax(self, axis=None, out=None, *, keepdims=False):
        return _wrap(self.view(np.ndarray).argmax(axis, _unwrap(out), keepdims=keepdims), self._device_index)

    def argmin(self, axis=None, out=None, *, keepdims=False):
        return _wrap(self.view(np.ndarray).argmin(axis, _unwrap(out), keepdims=keepdims), self._device_index)


def _run_ufunc(ufunc, method, inputs, kwargs, default_index):
    """``ufunc.method(*inputs, **kwargs)`` on the host views, results (or ``out``) on the inputs' device."""
    index = _on_current(_common_index((inputs, kwargs), ufunc.__name__), ufunc.__name__)
    if index is None:
        index = default_index if not _STRICT[0] else _CURRENT[0]
    out = kwargs.get("out")
    with _quiet():
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
    if method == "at":
        return None
    if out is not None:
        return out[0] if isinstance(out, tuple) and len(out) == 1 else out
    return _wrap(result, index)


def _same_device(obj, what: str, index: int) -> None:
    """Raises ValueError when ``obj`` holds an array of another emulated device (host arrays may pass)."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, EmulatedArray):
            if x._device_index != index:
                raise ValueError(f"{what}: Array device must be same as the current device: array device = "
                                 f"{x._device_index} while current = {index}")
        elif isinstance(x, (tuple, list)):
            stack.extend(x)


_POOLS: dict = {}


def pool_of(index: int) -> "_MemoryPool":
    """The memory accounting of emulated device ``index``."""
    pool = _POOLS.get(index)
    if pool is None:
        pool = _POOLS[index] = _MemoryPool()
    return pool


def _rebuild(index: int, host: np.ndarray):
    return host.view(array_type(index))


def array_type(index: int) -> type:
    """The array subclass of emulated device ``index`` (one per index, created on first use)."""
    t = _TYPES.get(index)
    if t is None:
        t = type(f"ndarray_cuda{index}", (EmulatedArray,), {"_device_index": index, "__module__": __name__})
        _TYPES[index] = t
    return t


def _common_index(obj, what: str, index: int | None = None):
    """The device index of the device arrays in ``obj`` (nested tuples, lists, dicts), checking that no plain
    NumPy array and no array of another device is among them (CuPy's TypeError / ValueError)."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, EmulatedArray):
            if index is None:
                index = x._device_index
            elif x._device_index != index:
                raise ValueError(f"{what}: Array device must be same as the current device: array device = "
                                 f"{x._device_index} while current = {index}")
        elif isinstance(x, np.ndarray):
            raise TypeError(f"{what}: Unsupported type {type(x)} (a host NumPy array met device arrays: "
                            "transfer it explicitly with xp.asarray)")
        elif isinstance(x, (tuple, list)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    return index


def _unwrap(obj):
    """``obj`` with every device array viewed as a plain ndarray (containers rebuilt)."""
    if isinstance(obj, EmulatedArray):
        return obj.view(np.ndarray)
    if isinstance(obj, tuple):
        return tuple(_unwrap(x) for x in obj)
    if isinstance(obj, list):
        return [_unwrap(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(result, index):
    """Array results (and NumPy scalars, as 0-d arrays: CuPy returns no scalars) on device ``index``."""
    if index is None:
        return result
    if isinstance(result, np.ndarray):
        if result.base is None and type(result) is np.ndarray:  # a fresh allocation
            pool_of(index)._track(result)
        return result.view(array_type(index))
    if isinstance(result, np.generic):
        return np.asarray(result).view(array_type(index))
    if isinstance(result, tuple):
        return tuple(_wrap(r, index) for r in result)
    if isinstance(result, list):
        return [_wrap(r, index) for r in result]
    return result


# ---- the array module ----------------------------------------------------------------------------------------
class _UFunc:
    """A NumPy ufunc that refuses host arrays (as CuPy's ufuncs do) and puts its results on the device."""

    def __init__(self, ufunc, xp) -> None:
        self._ufunc, self._xp = ufunc, xp
        self.__name__ = ufunc.__name__
        self.nin, self.nout, self.nargs, self.identity = ufunc.nin, ufunc.nout, ufunc.nargs, ufunc.identity

    def _call(self, method, args, kwargs):
        # scalars only: a 0-d result on this device, as CuPy gives
        return _run_ufunc(self._ufunc, method, args, kwargs, self._xp.index)

    def __call__(self, *args, **kwargs):
        return self._call("__call__", args, kwargs)

    def reduce(self, *args, **kwargs):
        return self._call("reduce", args, kwargs)

    def accumulate(self, *args, **kwargs):
        return self._call("accumulate", args, kwargs)

    def outer(self, *args, **kwargs):
        return self._call("outer", args, kwargs)

    def at(self, *args, **kwargs):
        return self._call("at", args, kwargs)

    def reduceat(self, *args, **kwargs):
        return self._call("reduceat", args, kwargs)

    def __repr__(self) -> str:
        return f"<emulated ufunc {self.__name__!r}>"


def _function(fn, xp):
    """A NumPy function refusing host arrays and putting its array results on the device."""

    def call(*args, **kwargs):
        index = _on_current(_common_index((args, kwargs), fn.__name__), fn.__name__)
        with _quiet():
            result = fn(*_unwrap(args), **_unwrap(kwargs))
        return _wrap(result, xp._alloc_index() if index is None else index)

    call.__name__ = call.__qualname__ = getattr(fn, "__name__", "function")
    call.__doc__ = getattr(fn, "__doc__", None)
    call.__wrapped__ = fn
    return call


class _Namespace:
    """A NumPy submodule (``linalg``, ``fft``) with its functions delegated as the top level's are."""

    def __init__(self, module, xp, path: str) -> None:
        self._module, self._xp, self._path = module, xp, path

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _refuse(self._path, name)
        value = _delegate(getattr(self._module, name), self._xp, f"{self._path}.{name}".lstrip("."))
        setattr(self, name, value)
        return value


def _delegate(value, xp, path: str):
    if isinstance(value, np.ufunc):
        return _UFunc(value, xp)
    if isinstance(value, types.ModuleType):  # linalg, fft, lib.stride_tricks: delegated the same way
        return _Namespace(value, xp, path)
    if isinstance(value, type) or not callable(value):  # dtypes, scalar types, finfo, constants
        return value
    return _function(value, xp)


class _CudaNamespace:
    """``xp.cuda``: devices, the current stream and the runtime's device count, for an emulated device."""

    def __init__(self, xp) -> None:
        self._xp = xp
        self.runtime = types.SimpleNamespace(getDeviceCount=lambda: xp.device_count())

    def Device(self, index=None):
        return _EmulatedDevice(self._xp.index if index is None else int(index))

    def get_current_stream(self, device_id: int = -1):
        """CuPy's ``get_current_stream``: the device's current emulated stream (``streams.py``; the null
        stream, handle 0, outside ``fastnn.cuda.stream`` blocks); -1: the current device, as CuPy."""
        from .streams import emulated_current

        return emulated_current(self._xp._alloc_index() if device_id < 0 else int(device_id))


class _EmulatedDevice:
    """``cupy.cuda.Device``: ``use()`` makes it the current device; as a context, for the block."""

    def __init__(self, index: int) -> None:
        self.id = index
        self._saved = []

    def synchronize(self) -> None:
        """Kernels on host memory are finished when their launch returns."""

    def use(self) -> None:
        _CURRENT[0] = self.id

    def __enter__(self):
        self._saved.append(_CURRENT[0])
        _CURRENT[0] = self.id
        return self

    def __exit__(self, *exc):
        _CURRENT[0] = self._saved.pop()
        return False


class _MemoryPool:
    """``cupy.get_default_memory_pool()`` for an emulated device: the bytes held by live arrays created on it
    through the array module (tracked per allocation with a finaliser), and the peak."""

    def __init__(self) -> None:
        self._used = 0
        self._peak = 0

    def _track(self, owner: np.ndarray) -> None:
        """Counts ``owner`` (an array owning its memory) until it dies."""
        n = owner.nbytes
        if not n:
            return
        self._used += n
        if self._used > self._peak:
            self._peak = self._used
        weakref.finalize(owner, self._free, n)

    def _free(self, n: int) -> None:
        self._used -= n

    def used_bytes(self) -> int:
        return self._used

    def total_bytes(self) -> int:
        return self._used

    def free_all_blocks(self) -> None:
        """Host memory goes back to the allocator as each array dies; nothing is cached."""

    def peak_bytes(self) -> int:
        return self._peak

    def reset_peak(self) -> None:
        self._peak = self._used


class EmulatedGenerator:
    """A NumPy ``Generator`` whose draws land on an emulated device (the generator protocol of the backends:
    ``random``, ``standard_normal``, ``integers``, ``uniform``, ``normal``, ``exponential``, ``permutation``...)."""

    def __init__(self, seed: int, xp) -> None:
        self._xp = xp
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self._gen = np.random.Generator(np.random.PCG64(int(seed)))

    @property
    def bit_generator(self):
        return self._gen.bit_generator

    def __getattr__(self, name):
        draw = getattr(self._gen, name)
        if not callable(draw):
            return draw
        xp = self._xp

        def on_device(*args, **kwargs):
            _common_index((args, kwargs), name)
            out = draw(*_unwrap(args), **_unwrap(kwargs))
            return xp._adopt(np.asarray(out))

        on_device.__name__ = name
        return on_device


class EmulatedXP:
    """The array module of emulated device ``index``: NumPy's functions with device results."""

    def __init__(self, index: int, device_count) -> None:
        self.index = index
        self.device_count = device_count  # a callable: the emulated runtime's current count
        self.ndarray = array_type(index)
        self.cuda = _CudaNamespace(self)
        self.random = _Namespace(np.random, self, "random")
        self._pool = pool_of(index)
        self.__name__ = f"fastnn.backend.cuda.emulated[cuda:{index}]"

    def __repr__(self) -> str:
        return f"<emulated CuPy-like array module of cuda:{self.index}>"

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _refuse("", name)
        value = _delegate(getattr(np, name), self, name)
        setattr(self, name, value)  # cached: the next look-up is an attribute read
        return value

    # ---- allocation: fresh device memory, counted by the pool ------------------------------------------------
    def _alloc_index(self) -> int:
        """Where a new array goes: the current device with several devices (as CuPy), else this one."""
        return _CURRENT[0] if _STRICT[0] else self.index

    def _adopt(self, host: np.ndarray):
        """A freshly allocated host array as a device array (no copy), counted by its device's memory pool."""
        index = self._alloc_index()
        if host.base is None:
            pool_of(index)._track(host)
        return host.view(array_type(index))

    def empty(self, shape, dtype=float, order="C"):
        return self._adopt(np.empty(shape, dtype, order))

    def zeros(self, shape, dtype=float, order="C"):
        return self._adopt(np.zeros(shape, dtype, order))

    def ones(self, shape, dtype=float, order="C"):
        return self._adopt(np.ones(shape, dtype, order))

    def full(self, shape, fill_value, dtype=None, order="C"):
        _on_current(_common_index(fill_value, "full"), "full")
        return self._adopt(np.full(shape, _unwrap(fill_value), dtype, order))

    # ---- transfer ----------------------------------------------------------------------------------------------
    def array(self, obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
        """Host data copied to this device, or a device array (copied unless ``copy=False`` and nothing
        changes)."""
        if isinstance(obj, EmulatedArray) and obj._device_index == self._alloc_index() and not copy:
            out = np.asarray(obj.view(np.ndarray), dtype=dtype, order=None if order == "K" else order)
            out = out if ndmin <= out.ndim else np.array(out, ndmin=ndmin)
            return out.view(array_type(obj._device_index))
        host = _host_view(obj)
        return self._adopt(np.array(host, dtype=dtype, copy=True, order=order, ndmin=ndmin))

    def asarray(self, a, dtype=None, order=None, blocking=False):
        """``a`` on this device: itself when it is this device's array of that dtype; else a copy of host data
        (or of another device's array, as CuPy copies between devices); objects exposing
        ``__cuda_array_interface__`` are viewed without a copy (their pointers are host pointers here)."""
        here = self._alloc_index()
        if isinstance(a, EmulatedArray) and a._device_index == here:
            out = np.asarray(a.view(np.ndarray), dtype=dtype, order=order)
            return out if out is a else out.view(array_type(here))
        if not isinstance(a, np.ndarray) and hasattr(a, "__cuda_array_interface__"):
            view = np.asarray(_CaiAsHost(a))
            return np.asarray(view, dtype=dtype, order=order).view(array_type(here))
        return self._adopt(np.array(_host_view(a), dtype=dtype, order="K" if order is None else order, copy=True))

    def ascontiguousarray(self, a, dtype=None):
        index = _on_current(_common_index(a, "ascontiguousarray"), "ascontiguousarray")
        return _wrap(np.ascontiguousarray(_unwrap(a), dtype=dtype), self._alloc_index() if index is None else index)

    def asnumpy(self, a, stream=None, order="C", out=None, blocking=True):
        """A host copy of a device array (host data returned as it is, as ``cupy.asnumpy``)."""
        if isinstance(a, EmulatedArray):
            return a.get(order=order, out=out)
        host = np.asarray(a, order=order)
        if out is not None:
            out[...] = host
            return out
        return host

    def from_dlpack(self, x, *, device=None, copy=None):
        """Zero-copy from a DLPack producer on this device (``__dlpack_device__`` = (kDLCUDA, index)); a
        producer elsewhere raises BufferError, as a CUDA consumer refuses host memory."""
        dev = tuple(x.__dlpack_device__())
        if dev != (_KDLCUDA, self.index):
            raise BufferError(f"from_dlpack: the producer lives on DLPack device {dev}, not on emulated "
                              f"cuda:{self.index} ({(_KDLCUDA, self.index)})")
        return np.from_dlpack(_HostProducer(x)).view(array_type(self.index))

    def get_array_module(self, *args):
        return self if any(isinstance(a, EmulatedArray) for a in args) else np

    def get_default_memory_pool(self):
        return self._pool

    def isscalar(self, x) -> bool:
        return np.isscalar(x)


def _host_view(obj):
    """Host data for a transfer: device arrays viewed (and so copied by the caller), the rest as given."""
    if isinstance(obj, EmulatedArray):
        return obj.view(np.ndarray)
    if isinstance(obj, (list, tuple)):
        return _unwrap(obj)
    return obj


class _CaiAsHost:
    """A ``__cuda_array_interface__`` read as NumPy's ``__array_interface__`` (the emulator's device pointers
    are host pointers), keeping the producer alive."""

    def __init__(self, obj) -> None:
        cai = obj.__cuda_array_interface__
        if cai.get("mask") is not None:
            raise TypeError("__cuda_array_interface__: masked arrays are not supported")
        self._obj = obj
        self.__array_interface__ = {"version": 3, "shape": tuple(cai["shape"]), "typestr": cai["typestr"],
                                    "data": tuple(cai["data"]), "strides": cai.get("strides")}


class _HostProducer:
    """A DLPack producer on an emulated device presented as what its capsule really holds: host memory."""

    def __init__(self, obj) -> None:
        self._obj = obj

    def __dlpack_device__(self):
        return (1, 0)

    def __dlpack__(self, **kwargs):
        return set_capsule_device(self._obj.__dlpack__(**kwargs), KDLCPU, 0)
