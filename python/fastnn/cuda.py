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



def manual_seed(seed: int) -> None:
    """Seeds the CUDA generator; as in torch, silently nothing to do when CUDA is not available."""
    if is_available():
        raise NotImplementedError("fastnn.cuda.manual_seed: seeding the CUDA backend's generator is not wired yet")


def manual_seed_all(seed: int) -> None:
    manual_seed(seed)


def empty_cache() -> None:
    """Releases cached device memory; nothing is cached when CUDA is not available (torch: a no-op too)."""
    if is_available():
        raise NotImplementedError("fastnn.cuda.empty_cache: the CUDA backend's memory pool is not wired yet")
