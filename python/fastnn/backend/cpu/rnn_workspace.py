"""The RNN kernels' workspace: big per-call NumPy arrays recycled instead of freshly allocated.

The projections, saved gates and gate gradients of one layer (~15 MB for the benchmark LSTM) are arrays
that glibc hands out as new mmap'd pages, and first-touch page faults cost more than the element-wise
work of the whole forward loop (fwd loop of one layer 6.4 -> 4.1 ms; 245k minor faults in a 20-step run).
An array is reused only when nothing but the pool refers to it (sys.getrefcount, as the autograd engine's
buffer adoption in memory.py does): saved arrays return once their graph is freed, and views, closures or
callers holding one keep it out of reuse. CPU-only: other array modules' buffers carry no CPython count.
"""
from __future__ import annotations

import sys

import numpy as np

_POOL: dict = {}
_POOL_LIMIT_BYTES = 256 << 20
_POOL_MIN_BYTES = 1 << 16  # smaller arrays come from malloc's heap without page faults
_pool_bytes = 0


def _free_refcount() -> int:
    """sys.getrefcount of a pooled array nobody else holds, seen from the loop in empty() (measured, not
    assumed: interpreters differ in what a loop variable and a call argument count)."""
    for arr in [np.empty(0)]:
        return sys.getrefcount(arr)


_FREE = _free_refcount()


def empty(shape, dt):
    """np.empty(shape, dt), recycled from the pool when a free array of that shape and dtype exists."""
    global _pool_bytes
    key = (shape, np.dtype(dt))
    arrays = _POOL.get(key)
    if arrays is not None:
        for arr in arrays:
            if sys.getrefcount(arr) == _FREE:
                return arr
    arr = np.empty(shape, dt)
    if _POOL_MIN_BYTES <= arr.nbytes and _pool_bytes + arr.nbytes <= _POOL_LIMIT_BYTES:
        _POOL.setdefault(key, []).append(arr)
        _pool_bytes += arr.nbytes
    return arr


def clear() -> None:
    """Drops the recycled arrays (the memory returns once no graph holds them)."""
    global _pool_bytes
    _POOL.clear()
    _pool_bytes = 0
