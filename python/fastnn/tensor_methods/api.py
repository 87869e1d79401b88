"""Tensor methods: the rest of torch's Tensor API that programs reach for (new_*, type(), formatting, sharing).

Declared on a plain class with PyTorch's signatures, each delegating to its op; ``tensor_methods.attach``
copies them onto ``Tensor`` when ``_tensor`` has finished importing, so they live in ``Tensor.__dict__``
exactly as if written there (no lookup through a base class)."""
from __future__ import annotations

from .. import _memory_format as _mf
from .. import creation as _creation
from .. import _pinned
from .. import legacy_types as _legacy
from .. import sparse as _sparse
from ..backend import shared_memory as _shared_memory
from ..ops import conversion as _conversion
from .._tensor import Tensor


class ApiMethods:
    def __format__(self, format_spec: str) -> str:
        # torch: a 0-d tensor formats as its Python number (f"{loss:.4f}"); any other, only with an empty spec
        if self._data.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def type(self, dtype=None, non_blocking: bool = False, *, memory_format=None, **kwargs):
        """``t.type()`` is torch's type string ('torch.FloatTensor'); ``t.type(dtype_or_name)`` casts (a copy
        laid out as ``memory_format`` says, as ``to``). ``async=`` is the old name of ``non_blocking``."""
        for k in kwargs:
            if k != "async":
                raise TypeError(f"type() got an unexpected keyword argument '{k}'")
        if dtype is None:
            return _legacy.type_name(self)
        return _conversion.cast(self, _legacy.resolve(dtype), memory_format, "type")

    def _device_or(self, device):
        """``device``, or this tensor's when None (0 names cuda:0, so not ``device or ...``)."""
        return self.device if device is None else device

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.tensor(data.detach() if isinstance(data, Tensor) else data,
                                dtype=dtype or self.dtype, device=self._device_or(device), requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.zeros(*size, dtype=dtype or self.dtype, device=self._device_or(device),
                               requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.ones(*size, dtype=dtype or self.dtype, device=self._device_or(device),
                              requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.empty(*size, dtype=dtype or self.dtype, device=self._device_or(device),
                               requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        return _creation.full(size, fill_value, dtype=dtype or self.dtype, device=self._device_or(device),
                              requires_grad=requires_grad)

    def int(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int32", memory_format, "int")

    def short(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int16", memory_format, "short")

    def char(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "int8", memory_format, "char")

    def byte(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "uint8", memory_format, "byte")

    def half(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "float16", memory_format, "half")

    def bfloat16(self, *, memory_format=_mf.preserve_format) -> "Tensor":
        return _conversion.cast(self, "bfloat16", memory_format, "bfloat16")

    def is_complex(self) -> bool:
        return False  # fastnn has no complex dtypes

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def nelement(self) -> int:
        return int(self._data.size)

    def ndimension(self) -> int:
        return self._data.ndim

    @property
    def is_sparse(self) -> bool:
        return False  # a dense Tensor; fastnn.sparse's COO tensors answer True

    def to_sparse(self, sparse_dim: int | None = None):
        return _sparse.from_dense(self, sparse_dim)

    def share_memory_(self) -> "Tensor":
        """Moves the storage into shared memory (an anonymous shared mapping), so that processes forked
        afterwards (torch.multiprocessing's Hogwild pattern) see each other's writes. A no-op when shared."""
        self._data = _shared_memory.share(self._data)
        return self

    def pin_memory(self, device=None) -> "Tensor":
        """A copy in page-locked host memory (itself when pinned already); needs a CUDA device."""
        return _pinned.pin_memory(self, device)

    def is_pinned(self, device=None) -> bool:
        return _pinned.is_pinned(self, device)

    def is_shared(self) -> bool:
        return _shared_memory.is_shared(self._data)
