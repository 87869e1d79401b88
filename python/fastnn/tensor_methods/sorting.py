"""Tensor methods: sorting and selection.

Declared on a plain class with PyTorch's signatures, each delegating to its op; ``tensor_methods.attach``
copies them onto ``Tensor`` when ``_tensor`` has finished importing, so they live in ``Tensor.__dict__``
exactly as if written there (no lookup through a base class)."""
from __future__ import annotations

from ..ops import sorting as _sorting
from .._tensor import Tensor


class SortingMethods:
    def sort(self, dim: int = -1, descending: bool = False, *, stable=False):
        return _sorting.sort(self, dim, descending, stable=stable)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable=False) -> "Tensor":
        return _sorting.argsort(self, dim, descending, stable=stable)

    def msort(self) -> "Tensor":
        return _sorting.msort(self)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
        return _sorting.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False):
        return _sorting.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim: bool = False):
        return _sorting.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim: bool = False):
        return _sorting.nanmedian(self, dim, keepdim)

    def mode(self, dim: int = -1, keepdim: bool = False):
        return _sorting.mode(self, dim, keepdim)

    def quantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> "Tensor":
        return _sorting.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> "Tensor":
        return _sorting.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def unique(self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
               dim=None):
        return _sorting.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse: bool = False, return_counts: bool = False, dim=None):
        return _sorting.unique_consecutive(self, return_inverse, return_counts, dim)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None) -> "Tensor":
        return _sorting.multinomial(self, num_samples, replacement, generator=generator)
