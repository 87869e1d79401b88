"""nn.Parameter: a Tensor a Module registers as learnable (requires grad by default)."""
from __future__ import annotations

import numpy as np

from ..backend import get_backend
from .. import _location
from .._tensor import Tensor, _host_array, _host_state


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

    # Keras variables' API, for fastnn.keras (whose weights are Parameters): Keras 3's torch recipe reads
    # gradients as ``v.value.grad`` and custom layers update state with ``v.assign_add(...)``.
    @property
    def value(self) -> "Parameter":
        return self

    def assign(self, value) -> "Parameter":
        from ..autograd.grad_mode import no_grad
        from ..creation import as_tensor

        with no_grad():
            self.copy_(value if isinstance(value, Tensor) else as_tensor(value, dtype=self.dtype))
        return self

    def assign_add(self, value) -> "Parameter":
        from ..autograd.grad_mode import no_grad

        with no_grad():
            self.add_(value)
        return self

    def assign_sub(self, value) -> "Parameter":
        from ..autograd.grad_mode import no_grad

        with no_grad():
            self.sub_(value)
        return self

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, _host_state(self))


class Buffer(Tensor):
    """Marks a tensor assigned as a Module attribute to be registered as a buffer (``torch.nn.Buffer``)."""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent: bool = True):
        from ..creation import _to_array

        self._set(_to_array(data) if data is not None else get_backend().zeros((0,), np.float32), False)
        self.persistent = persistent

    def __reduce_ex__(self, protocol):
        state = _host_state(self)
        return (_rebuild_buffer, state[:3] + (self.persistent, state[4]))


def _rebuild_parameter(raw: bytes, dtype_name: str, shape, requires_grad: bool, device=None) -> Parameter:
    arr = _location.place(_host_array(raw, dtype_name, shape), device)
    return Parameter(Tensor._wrap(arr), requires_grad=requires_grad)


def _rebuild_buffer(raw: bytes, dtype_name: str, shape, persistent: bool, device=None) -> Buffer:
    return Buffer(Tensor._wrap(_location.place(_host_array(raw, dtype_name, shape), device)), persistent=persistent)
