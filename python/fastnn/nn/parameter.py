"""nn.Parameter: a Tensor a Module registers as learnable (requires grad by default)."""
from __future__ import annotations

import numpy as np

from ..backend import get_backend
from .._tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that ``Module.__setattr__`` registers in ``_parameters``. It shares the storage of
    the tensor it wraps, as ``torch.nn.Parameter`` does."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            arr = get_backend().zeros((0,), np.float32)
        elif isinstance(data, Tensor):
            arr = data._data
        else:
            from ..creation import _to_array

            arr = _to_array(data)
        self._set(arr, False)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """Marks a tensor assigned as a Module attribute to be registered as a buffer (``torch.nn.Buffer``)."""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent: bool = True):
        from ..creation import _to_array

        self._set(_to_array(data) if data is not None else get_backend().zeros((0,), np.float32), False)
        self.persistent = persistent
