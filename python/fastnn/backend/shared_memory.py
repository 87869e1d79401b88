"""Arrays in shared memory for ``Tensor.share_memory_``: an anonymous ``MAP_SHARED`` mapping, which a
``fork``-ed child inherits, so parent and children read and write the same bytes (torch.multiprocessing's
Hogwild training relies on that). Host (NumPy) arrays only: a device array is shared by its device."""
from __future__ import annotations

import mmap

import numpy as np


def is_shared(arr) -> bool:
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):  # np.frombuffer keeps the buffer through a memoryview
        base = base.obj
    return isinstance(base, mmap.mmap)


def share(arr):
    if not isinstance(arr, np.ndarray):
        raise NotImplementedError(f"share_memory_: only CPU tensors can be moved to shared memory, not "
                                  f"{type(arr).__name__} arrays")
    if is_shared(arr):
        return arr
    buf = mmap.mmap(-1, max(arr.nbytes, 1))  # fd -1: anonymous and MAP_SHARED on Linux and macOS
    out = np.frombuffer(buf, dtype=arr.dtype, count=arr.size).reshape(arr.shape)
    out[...] = arr
    return out
