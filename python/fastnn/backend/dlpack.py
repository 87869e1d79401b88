"""DLPack capsules read and written in place: the device a capsule's tensor lives on.

A capsule named "dltensor" holds a DLManagedTensor, which starts with its DLTensor (data pointer, then
``DLDevice {int32 device_type; int32 device_id}``); "dltensor_versioned" holds a DLManagedTensorVersioned,
whose version (8 bytes), manager_ctx, deleter and flags (8 each) come before the DLTensor. A used capsule is
renamed ("used_dltensor") by its consumer."""
from __future__ import annotations

import ctypes

_DEVICE_OFFSET = {b"dltensor": 8, b"dltensor_versioned": 40}
KDLCPU, KDLCUDA = 1, 2

_name_of = ctypes.pythonapi.PyCapsule_GetName
_name_of.restype, _name_of.argtypes = ctypes.c_char_p, [ctypes.py_object]
_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_pointer.restype, _pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


def is_capsule(obj) -> bool:
    return type(obj).__name__ == "PyCapsule"


def _device_field(capsule):
    name = _name_of(capsule)
    if name not in _DEVICE_OFFSET:
        raise BufferError(f"from_dlpack: not an unused DLPack capsule (its name is {name!r})")
    return (ctypes.c_int32 * 2).from_address(_pointer(capsule, name) + _DEVICE_OFFSET[name])


def capsule_device(capsule) -> tuple:
    """(device_type, device_id) of an unused capsule (BufferError for a used or foreign one)."""
    dev = _device_field(capsule)
    return (int(dev[0]), int(dev[1]))


def set_capsule_device(capsule, device_type: int, device_id: int):
    """Rewrites the device an unused capsule claims (the emulated device's host memory passing as CUDA
    memory and back); returns the capsule."""
    dev = _device_field(capsule)
    dev[0], dev[1] = device_type, device_id
    return capsule
