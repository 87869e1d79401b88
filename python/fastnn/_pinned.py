"""``Tensor.pin_memory()`` / ``Tensor.is_pinned()`` and the DataLoader's pinning of batches
(``pin_batch``, torch's ``torch.utils.data._utils.pin_memory.pin_memory``).

Pinned memory is a CUDA host feature: with no CUDA device ``pin_memory`` raises PyTorch's error and
``is_pinned`` is False. The memory itself is the CUDA backend's (``backend/cuda/pinned.py``): CuPy's pinned
allocator on a real GPU, a host copy flagged pinned on the emulated device.
"""
from __future__ import annotations

import collections.abc

from .backend import registry as _registry
from .backend.cuda import pinned as _pinned
from .backend.cuda import runtime as _runtime


def _backend(device):
    """The CUDA backend pinned memory is allocated through (torch's ``device`` argument names the accelerator;
    None: the current CUDA device)."""
    from . import cuda as _cuda

    if _runtime.device_count() == 0:
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return _registry.cuda_backend(_cuda._index(device))


def _check_cpu(t, what: str) -> None:
    if t.device.type != "cpu":
        raise RuntimeError(f"cannot {what} a tensor on {t.device}: only dense CPU tensors can be pinned")


def is_pinned(t, device=None) -> bool:
    """Whether ``t``'s memory is page-locked host memory (False for device tensors and without CUDA)."""
    if t.device.type != "cpu" or _runtime.device_count() == 0 or not _registry.made_cuda_backends():
        return False  # no device used yet: nothing pinned through it (and no CUDA context made to ask)
    return _pinned.is_pinned(_backend(device), t._data)


def pin_memory(t, device=None):
    """``t`` copied into pinned host memory (``t`` itself when it is pinned already), differentiable."""
    from ._tensor import Tensor
    from .autograd.graph import record

    _check_cpu(t, "pin")
    be = _backend(device)
    if _pinned.is_pinned(be, t._data):
        return t
    buf = _pinned.empty(be, t._data.shape, t._data.dtype)
    buf[...] = t._data
    return record(Tensor._wrap(buf), "PinMemoryBackward0", (t,), lambda g: (g,))


def pin_batch(data, device=None):
    """Every tensor in a batch (nested in tuples, lists, dicts, namedtuples) pinned, the rest as given;
    objects with their own ``pin_memory()`` method pin themselves, as in torch."""
    from ._tensor import Tensor

    if isinstance(data, Tensor):
        return pin_memory(data, device)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        pinned = {k: pin_batch(v, device) for k, v in data.items()}
        try:
            return type(data)(pinned)
        except TypeError:  # a mapping type that cannot be built from a dict (defaultdict): a dict, as torch
            return pinned
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(pin_batch(v, device) for v in data))
    if isinstance(data, tuple):
        return tuple(pin_batch(v, device) for v in data)
    if isinstance(data, collections.abc.Sequence):
        return [pin_batch(v, device) for v in data]
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data
