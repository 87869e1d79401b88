"""torch.accelerator: the one accelerator a program may use, answered from fastnn's CUDA backend (none unless
this build has CUDA and a device is present; fastnn has no other accelerator)."""
from __future__ import annotations

from . import cuda as _cuda
from ._device import device as _device


def is_available() -> bool:
    return _cuda.is_available()


def device_count() -> int:
    return _cuda.device_count()


def current_accelerator(check_available: bool = False):
    """``fastnn.device('cuda')`` when a CUDA device is there, else None (as torch on a CPU-only machine)."""
    return _device("cuda") if _cuda.is_available() else None


def current_device_index() -> int:
    if not _cuda.is_available():
        raise RuntimeError("current_device_index: no accelerator is available")
    return 0
