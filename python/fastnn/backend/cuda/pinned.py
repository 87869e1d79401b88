"""Page-locked (pinned) host memory and the host-to-device copies that can run asynchronously from it.

On a real GPU a pinned buffer comes from CuPy's pinned memory pool (``cupyx.empty_pinned``, i.e.
``cudaHostAlloc``), and whether an array is pinned is the driver's answer (``cudaPointerGetAttributes``), so
pinned memory from elsewhere counts too. ``from_host_async`` copies a pinned, contiguous host array into a new
device array on the current stream (``ndarray.set(..., stream=...)``, a ``cudaMemcpyAsync``) and keeps the
host buffer alive until an event recorded after the copy has completed; pageable memory is copied
synchronously, as CUDA does.

On the emulated device "pinned" memory is an ordinary host buffer that this module remembers (its address
range, forgotten when the buffer is freed): ``is_pinned`` answers True for it and for views into it, and
the copy is the emulated device's ordinary (synchronous) one.
"""
from __future__ import annotations

import weakref

import numpy as np

_ranges: dict = {}  # id(buffer) -> (start, end) of a pinned buffer allocated here (emulated device)
_in_flight: list = []  # (event, host array) of asynchronous copies not yet known finished (real GPU)


def _address(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def empty(be, shape, dtype) -> np.ndarray:
    """A C-contiguous pinned host array (CuPy's pinned pool on a GPU; a remembered host buffer emulated)."""
    if not be.emulated:
        import cupyx

        with be.device_guard():
            return cupyx.empty_pinned(tuple(shape), dtype=np.dtype(dtype))
    buf = np.empty(tuple(shape), dtype=np.dtype(dtype))
    start = _address(buf)
    key = id(buf)
    _ranges[key] = (start, start + buf.nbytes)
    weakref.finalize(buf, _ranges.pop, key, None)
    return buf


def is_pinned(be, arr: np.ndarray) -> bool:
    """Whether host array ``arr``'s memory is page-locked."""
    start = _address(arr)
    if not be.emulated:
        runtime = be.xp.cuda.runtime
        try:
            attrs = runtime.pointerGetAttributes(start)
        except runtime.CUDARuntimeError:
            return False  # an address the driver has never seen: pageable
        return int(attrs.type) == runtime.memoryTypeHost
    end = start + arr.nbytes
    return any(lo <= start and end <= hi for lo, hi in _ranges.values())


def from_host_async(be, arr: np.ndarray):
    """``arr`` copied onto ``be``'s device, asynchronously on the current stream when ``arr`` is pinned and
    contiguous (the copy is then ordered before every later kernel on that stream); else ``be.from_host``."""
    if be.emulated or not arr.flags.c_contiguous or not is_pinned(be, arr):
        return be.from_host(arr)
    xp = be.xp
    with be.device_guard():
        stream = xp.cuda.get_current_stream(be.device_id)
        out = xp.empty(arr.shape, dtype=arr.dtype)
        out.set(arr, stream=stream)
        event = stream.record()
    _in_flight[:] = [(e, a) for e, a in _in_flight if not e.done]
    _in_flight.append((event, arr))  # the host buffer lives until the copy has read it
    return out
