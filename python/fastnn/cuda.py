"""CUDA availability, answered honestly without needing a GPU to import."""
from __future__ import annotations

from .backend import native


def is_built() -> bool:
    """Whether this build of fastnn contains CUDA kernels."""
    return bool(native.cuda_built())


def device_count() -> int:
    return int(native.cuda_device_count()) if is_built() else 0


def is_available() -> bool:
    """True when fastnn was built with CUDA and a CUDA device with a working driver is present."""
    return device_count() > 0


def status() -> str:
    return str(native.cuda_status())
