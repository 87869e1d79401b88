"""backend_of / get_backend: a type-keyed look-up with one singleton per device.

``backend_of`` runs once per op, so it is a dict look-up on ``type(arr)`` (NumPy arrays hit the first
entry); scalars (Python numbers, NumPy scalars) belong to no device and are skipped, as PyTorch lets a
CPU scalar meet a tensor on any device.
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from .._device import device as _device

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
_BY_TYPE: dict = {np.ndarray: _CPU}  # array type -> the backend holding such arrays
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
    if isinstance(arr, np.ndarray):  # a NumPy subclass (np.memmap, a masked array's data)
        _BY_TYPE[t] = _CPU
        return _CPU
    if t.__module__.split(".")[0] == "cupy":
        raise RuntimeError("fastnn: CuPy arrays need the CUDA backend, which this build does not have yet")
    raise TypeError(f"fastnn: no backend holds arrays of type {t.__module__}.{t.__qualname__}")


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
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{found.device} and {be.device}!")
    return _CPU if found is None else found


def get_backend(device=None):
    """The backend for ``device`` (None, 'cpu', 'cuda:1', a fastnn.device)."""
    if device is None:
        return _CPU
    d = device if isinstance(device, _device) else _device(device)
    if d.type == "cpu":
        return _CPU
    from .. import cuda

    raise RuntimeError(f"fastnn: tensors on {d} are not supported by this build's backends yet "
                       f"(fastnn.cuda.is_available() = {cuda.is_available()}); use device='cpu'")
