"""``torch.cpu``: the CPU as a device module (always available, one device, synchronous) and its ``amp``."""
from __future__ import annotations

from . import cpu_amp as amp  # noqa: F401  (torch.cpu.amp)

__all__ = ["amp", "current_device", "device_count", "is_available", "synchronize"]


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """CPU ops finish before they return: nothing to wait for."""
