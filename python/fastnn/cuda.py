"""``torch.cuda`` for fastnn: devices, the current device, synchronisation, seeding and memory queries.

Availability is answered without CuPy (its device query raises without a driver): by ``fastnn._C``'s
CUDA runtime, or by the emulated devices under ``FASTNN_CUDA=emulate[:N]`` (``backend/cuda/runtime.py``).
Nothing here imports CuPy; the first use of a device (a tensor on it, ``synchronize``, a memory query)
creates its backend, which does on a real GPU.
"""
from __future__ import annotations

import numpy as np

from ._device import device as _device_type
from .backend import native
from .backend import registry as _registry
from .backend.cuda import runtime as _runtime
from . import random as _random
from ._cuda_random import get_rng_state, get_rng_state_all, set_rng_state, set_rng_state_all  # noqa: F401
from ._cuda_streams import (Event, Stream, StreamContext, current_stream, default_stream,  # noqa: F401
                            set_stream, stream)

_current = 0  # the current device index (torch keeps one per thread; fastnn one per process)
_seeds: dict = {}  # device index -> the seed its generator was last seeded with
_DEFAULT_SEED = 67280421310721  # torch's default seed of a CUDA generator


def is_built() -> bool:
    """Whether this build of fastnn contains CUDA kernels (``_C`` compiled with nvcc)."""
    return bool(native.cuda_built())


def device_count() -> int:
    """The number of CUDA devices: real ones (``_C``'s count) or emulated ones (``FASTNN_CUDA=emulate:N``)."""
    return _runtime.device_count()


def is_available() -> bool:
    """True when a CUDA device is there to use (a real one with a working driver, or an emulated one)."""
    return device_count() > 0


def is_initialized() -> bool:
    """Whether a CUDA device has been used yet in this process (its backend made)."""
    return bool(_registry.made_cuda_backends())


def status() -> str:
    if _runtime.emulated():
        n = device_count()
        return f"emulated: {n} CUDA device{'s' if n != 1 else ''} over host memory (FASTNN_CUDA=emulate)"
    if _runtime.mode()[0] == "off":
        return "off (FASTNN_CUDA=off)"
    return str(native.cuda_status())


def _index(device, optional: bool = True) -> int:
    """The device index named by ``device`` (None: the current one; an int, 'cuda:N', a device)."""
    if device is None:
        return current_device() if optional else 0
    if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        return int(device)
    d = device if isinstance(device, _device_type) else _device_type(str(device))
    if d.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return current_device() if d.index is None else d.index


def _backend(device=None):
    return _registry.cuda_backend(_index(device))


def current_device() -> int:
    if not is_available():
        raise _runtime.unavailable_error(_current)
    return _current


def set_device(device) -> None:
    """Makes ``device`` the current one (a negative index is a no-op, as in torch)."""
    global _current
    idx = _index(device)
    if idx < 0:
        return
    if not 0 <= idx < device_count():
        raise _runtime.unavailable_error(idx)
    _current = idx
    _backend(idx).device_guard().use()  # CuPy's (or the emulator's) current device too


class device:
    """``with fastnn.cuda.device(i):`` makes ``i`` the current device for the block (None or a negative
    index: nothing changes)."""

    def __init__(self, device) -> None:
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev_idx = current_device()
            if self.prev_idx != self.idx:
                set_device(self.idx)
        return self

    def __exit__(self, *exc) -> bool:
        if self.idx >= 0 and self.prev_idx != self.idx:
            set_device(self.prev_idx)
        return False


class device_of(device):
    """``with fastnn.cuda.device_of(tensor):`` the tensor's device for the block (a CPU tensor: no change)."""

    def __init__(self, obj) -> None:
        d = obj.device
        super().__init__(d.index if d.type == "cuda" else -1)


def synchronize(device=None) -> None:
    """Waits for every kernel queued on ``device`` (the current one by default)."""
    _backend(device).synchronize()


# ---- random numbers ---------------------------------------------------------------------------------------------
def _seed_for(index: int) -> int:
    """The seed device ``index``'s generator starts from (the last one given for it, else torch's default)."""
    return _seeds.get(index, _DEFAULT_SEED)


def _seed_device(index: int, seed: int) -> None:
    _seeds[index] = seed
    for be in _registry.made_cuda_backends():
        if be.device_id == index and be._generator is not None:
            be.manual_seed(seed)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
    return int(seed) % (2**64)  # torch wraps negative seeds so


def manual_seed(seed: int) -> None:
    """Seeds the current device's generator; as in torch, a call without CUDA is kept for when a device is
    used (nothing to seed yet)."""
    seed = _check_seed(seed)
    _seed_device(_current, seed)


def manual_seed_all(seed: int) -> None:
    seed = _check_seed(seed)
    for i in range(max(device_count(), 1)):
        _seed_device(i, seed)


def seed() -> None:
    """Seeds the current device's generator from OS entropy."""
    manual_seed(int(np.random.SeedSequence().entropy % (2**63)))


def seed_all() -> None:
    manual_seed_all(int(np.random.SeedSequence().entropy % (2**63)))


def initial_seed() -> int:
    """The seed of the current device's generator."""
    if not is_available():
        raise _runtime.unavailable_error(_current)
    return _seed_for(current_device())


_random._DEVICE_SEEDERS.append(manual_seed_all)  # fastnn.manual_seed seeds every CUDA device too, as torch's


# ---- memory ------------------------------------------------------------------------------------------------------
def empty_cache() -> None:
    """Returns the memory pool's cached blocks to the device (nothing to do when no device was used)."""
    for be in _registry.made_cuda_backends():
        with be.device_guard():
            be.memory_pool().free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes held by live arrays on ``device`` (CuPy's pool: its used bytes)."""
    be = _backend(device)
    with be.device_guard():
        return int(be.memory_pool().used_bytes())


def memory_reserved(device=None) -> int:
    """Bytes the pool holds from the device, used or cached."""
    be = _backend(device)
    with be.device_guard():
        return int(be.memory_pool().total_bytes())


def max_memory_allocated(device=None) -> int:
    """The peak of ``memory_allocated`` since the device was first used or ``reset_peak_memory_stats``."""
    be = _backend(device)
    with be.device_guard():
        return int(be.memory_pool().peak_bytes())


def reset_peak_memory_stats(device=None) -> None:
    be = _backend(device)
    with be.device_guard():
        be.memory_pool().reset_peak()


# ---- properties --------------------------------------------------------------------------------------------------
class _CudaDeviceProperties:
    """What ``get_device_properties`` can know of a device (torch's field names)."""

    def __init__(self, props: dict) -> None:
        name = props.get("name", b"")
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major = int(props.get("major", 0))
        self.minor = int(props.get("minor", 0))
        self.total_memory = int(props.get("totalGlobalMem", 0))
        self.multi_processor_count = int(props.get("multiProcessorCount", 0))
        self.warp_size = int(props.get("warpSize", 32))
        self.L2_cache_size = int(props.get("l2CacheSize", 0))
        self.is_integrated = int(props.get("integrated", 0))
        self.is_multi_gpu_board = int(props.get("isMultiGpuBoard", 0))

    def __repr__(self) -> str:
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None) -> _CudaDeviceProperties:
    return _CudaDeviceProperties(_backend(device).properties())


def get_device_name(device=None) -> str:
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple:
    p = get_device_properties(device)
    return (p.major, p.minor)
