"""backend_of / get_backend: a type-keyed look-up with one singleton per device.

``backend_of`` runs once per op, so it is a dict look-up on ``type(arr)`` (NumPy arrays hit the first
entry); scalars (Python numbers, NumPy scalars) belong to no device and are skipped, as PyTorch lets a
CPU scalar meet a tensor on any device. The ops PyTorch lets a CPU 0-d tensor meet a tensor on any device as a
scalar (``x_cuda * torch.tensor(2.0)``) ask ``backend_with_cpu_scalars`` instead and bring such operands over
with ``Backend.bring_scalars``.

CUDA devices (``backend/cuda/``) get their backend on first use: each emulated device has an array type of
its own, found by the type look-up; CuPy has one array type for every GPU, so with one GPU it maps to that
GPU's backend and with several to None in the table (a known array type, but the slow path asks the
array's ``.device.id``).
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from .._device import device as _device
# bfloat16 arrays: NumPy subclasses on the CPU, known up front (Tensor._wrap keeps a registered type as it is)
from .bf16.array import Bf16Array, Bf16Pending
from .bf16.convert import STORAGE as _BF16_STORAGE
from .bf16.kernels import Bf16Backend

_CHOICES = ("cpu", "composite")


def _make_cpu():
    choice = os.environ.get("FASTNN_BACKEND", "cpu").strip().lower() or "cpu"
    if choice not in _CHOICES:
        raise ImportError(f"FASTNN_BACKEND={choice!r} is not one of {', '.join(_CHOICES)}")
    if choice == "composite":
        from .composite import CompositeBackend

        return CompositeBackend(_device("cpu"))
    from .cpu import CpuBackend

    return CpuBackend(_device("cpu"))


_CPU = _make_cpu()
_BF16 = Bf16Backend(_CPU)  # the CPU's bfloat16 arrays: its kernels widen them to float32 (bf16/kernels.py)
_BY_TYPE: dict = {np.ndarray: _CPU, Bf16Array: _BF16}  # array type -> the backend holding such arrays
_lookup = _BY_TYPE.get
# Types of values on no device (Python and NumPy scalars): skipped. Grown by _classify as they are met.
_SCALAR_TYPES: set = {float, int, bool, complex, np.float32, np.float64, np.int64, np.bool_}


def active_cpu():
    """The backend that serves NumPy arrays: ``cpu`` (native kernels) or ``composite``."""
    return _CPU


def _classify(arr):
    """The backend of an array type not seen before (registering it), or None for a scalar."""
    t = type(arr)
    if isinstance(arr, (numbers.Number, np.generic)):
        _SCALAR_TYPES.add(t)
        return None
    if t is Bf16Pending:  # a bfloat16 op's float32 values in flight: never registered (Tensor._wrap rounds them)
        return _BF16
    if t.__module__ == "fastnn.backend.cuda.emulated":  # an emulated device's array: an ndarray subclass
        return cuda_backend(t._device_index)
    if isinstance(arr, np.ndarray):  # a NumPy subclass (np.memmap, a masked array's data)
        _BY_TYPE[t] = _CPU
        return _CPU
    if t.__module__.split(".")[0] == "cupy":
        from .cuda import runtime

        if runtime.emulated() or runtime.device_count() == 0:
            raise RuntimeError("fastnn: a CuPy array met fastnn without a real CUDA device "
                               f"(FASTNN_CUDA={runtime.mode()[0]}, {runtime.device_count()} devices)")
        return cuda_backend(int(arr.device.id))
    raise TypeError(f"fastnn: no backend holds arrays of type {t.__module__}.{t.__qualname__}")


def device_array_backend(obj):
    """The backend of ``obj`` when it is an array of a device backend (an emulated device's, CuPy's), else
    None (a NumPy array, host data, anything else)."""
    t = type(obj)
    if t is np.ndarray:
        return None
    be = _lookup(t)
    if be is None and (t.__module__ == "fastnn.backend.cuda.emulated" or t.__module__.split(".")[0] == "cupy"):
        be = _classify(obj)
    return be if be is not None and be is not _CPU and be is not _BF16 else None


def backend_of(a=None, b=None, c=None, *rest):
    """The backend holding the arrays given (None entries and scalars ignored; the CPU one when none is an
    array). Arrays on two devices raise PyTorch's RuntimeError.

    Runs once per op, so the usual calls (up to three arguments: arrays of one registered type, None or
    scalars) answer with a dict look-up each and no loop or tuple: 70 ns for one array against 140 for
    the general path (and 490 for an array and a scalar before scalar types were remembered)."""
    be = _lookup(type(a))
    if be is not None and not rest and (b is None or _lookup(type(b)) is be or type(b) in _SCALAR_TYPES) and (
            c is None or _lookup(type(c)) is be or type(c) in _SCALAR_TYPES):
        return be
    return _backend_of_all((a, b, c) + rest)


def _backend_of_all(arrays):
    found = None
    for arr in arrays:
        if arr is None or type(arr) in _SCALAR_TYPES:
            continue
        be = _lookup(type(arr))
        if be is None:
            be = _classify(arr)
            if be is None:
                continue
        if found is None:
            found = be
        elif be is not found:
            if (be is _BF16 and found is _CPU) or (be is _CPU and found is _BF16):
                found = _BF16  # bfloat16 beside float32 arrays, one device: the kernels that widen serve both
                continue
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{found.device} and {be.device}!")
    if found is None:
        return _CPU
    if found.__dict__.get("_activate_on_lookup"):  # several GPUs under CuPy: the op runs on its arrays' device
        found.device_guard().use()
    return found


def backend_with_cpu_scalars(a=None, b=None, c=None, *rest):
    """``backend_of`` for the ops PyTorch exempts CPU scalars in (TensorIterator's ``allow_cpu_scalars``: the
    binary arithmetic, comparison and bitwise ops, clamp_min/max, lerp; ``where``; and so ``masked_fill``):
    a CPU 0-d array beside another device's arrays counts as a scalar, not a device (``x_cuda *
    torch.tensor(2.0)``), and the op's device is the first one that is not the CPU. Anything else elsewhere (a
    CPU array with dims, even of one element; an array of another CUDA device, 0-d or not) raises PyTorch's
    RuntimeError, naming the op's device first as TensorIterator does. The op then passes its operands
    through ``be.bring_scalars``. Every other op keeps ``backend_of``'s strict rule, as PyTorch's generated
    device checks do (``torch.cat``, ``gather``, ``clamp`` with tensor bounds, ``addcmul``...).

    The same fast path as ``backend_of``'s: arrays of one device cost what they cost there."""
    be = _lookup(type(a))
    if be is not None and not rest and (b is None or _lookup(type(b)) is be or type(b) in _SCALAR_TYPES) and (
            c is None or _lookup(type(c)) is be or type(c) in _SCALAR_TYPES):
        return be
    arrays = (a, b, c) + rest
    held = []
    for arr in arrays:
        if arr is None or type(arr) in _SCALAR_TYPES:
            continue
        be = _lookup(type(arr))
        if be is None:
            be = _classify(arr)
            if be is None:
                continue
        held.append((arr, be))
    common = next((be for _, be in held if be is not _CPU), _CPU)
    for arr, be in held:
        if be is not common and not (be is _CPU and arr.ndim == 0) and not (be is _CPU and common is _BF16):
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{common.device} and {be.device}!")
    return common


def check_output_device(out, result) -> None:
    """PyTorch's RuntimeError when an op's result (``result``, on the op's device) is to be written into
    ``out`` on another device: an output gets no CPU-scalar exemption (``cpu_scalar.add_(x_cuda)`` raises)."""
    backend_of(result, out)


def allocating(be, dtype):
    """The backend that allocates arrays of NumPy ``dtype`` for ``be``'s device: bfloat16's own on the CPU (whose
    allocation makes bfloat16 arrays), ``be`` for every other dtype. bfloat16 lives on the CPU only."""
    if dtype != _BF16_STORAGE:
        return be
    if be is _CPU:
        return _BF16
    raise RuntimeError(f"fastnn holds bfloat16 tensors on the CPU only, not on {be.device}")


def get_backend(device=None):
    """The backend for ``device`` (None, 'cpu', 'cuda', 'cuda:1', an int naming a CUDA device as in torch,
    a fastnn.device or anything whose str() names a device, e.g. a torch.device)."""
    if device is None:
        return _CPU
    if isinstance(device, int) and not isinstance(device, bool):
        d = _device("cuda", device)
    else:
        d = device if isinstance(device, _device) else _device(device)
    if d.type == "cpu":
        return _CPU
    return cuda_backend(d.index)


# ---- CUDA devices --------------------------------------------------------------------------------------------
_MADE: dict = {}  # (emulated?, index) -> CudaBackend: made once, kept (its arrays may outlive a mode change)
# True once several CUDA devices are in use: backend_of / get_backend then make the device of the arrays they
# answer for the current one (CuPy allocates and launches on its current device), and the autograd engine
# asks backend_of before each backward step.
ACTIVATES = False


def cuda_backend(index: int | None = None):
    """The backend of CUDA device ``index`` (None: the current device), made on first use; PyTorch's
    errors when there is no CUDA device or ``index`` is out of range."""
    from .cuda import runtime

    if index is None:
        from .. import cuda

        index = cuda.current_device() if runtime.device_count() else 0
    n = runtime.device_count()
    if not 0 <= index < n:
        raise runtime.unavailable_error(index)
    key = (runtime.emulated(), index)
    be = _MADE.get(key)
    if be is None:
        from .cuda import make_backend

        be = _MADE[key] = make_backend(index)
        _register(be, n)
    if be.__dict__.get("_activate_on_lookup"):  # several GPUs under CuPy: allocate on this one
        be.device_guard().use()
    return be


def _register(be, count: int) -> None:
    """Enters a new CUDA backend's array type in the type table."""
    global ACTIVATES
    t = be.xp.ndarray
    be._activate_on_lookup = count > 1
    ACTIVATES = ACTIVATES or count > 1
    if be.emulated:
        # with several devices, as CuPy's type below: None sends backend_of to the slow path, which makes
        # the arrays' device the current one (the emulator then enforces CuPy's current-device rule)
        _BY_TYPE[t] = be if count == 1 else None
        from .cuda import emulated

        emulated.set_strict(count > 1)
    else:
        # CuPy's one array type: the look-up answers for a single GPU; with several, None sends backend_of
        # to the slow path, which asks the array's .device.id and makes that device CuPy's current one
        # (CuPy allocates results and launches kernels on its current device)
        _BY_TYPE[t] = be if count == 1 else None


def made_cuda_backends() -> list:
    """The CUDA backends made so far in the current mode (for synchronize, seeding, memory queries)."""
    from .cuda import runtime

    em = runtime.emulated()
    return [be for (e, _), be in sorted(_MADE.items(), key=lambda kv: kv[0][1]) if e == em]


def _cuda_mode_changed() -> None:
    """runtime.configure changed the mode: the type entries and device switching are re-decided for the new
    device count."""
    global ACTIVATES
    from .cuda import emulated, runtime

    from .. import cuda

    ACTIVATES = False
    emulated.set_strict(False)
    n = runtime.device_count()
    if cuda._current >= n:  # the current device went away with the mode: device 0, as after a restart
        cuda._current = 0
    if emulated.current_device() >= n:
        emulated._CURRENT[0] = 0
    for (em, _), be in _MADE.items():
        if em == runtime.emulated():
            _register(be, n)
    if n > 1 and runtime.emulated():
        emulated.set_strict(True)
