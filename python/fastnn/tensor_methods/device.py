"""Tensor methods about where the data lives: ``get_device`` and ``__cuda_array_interface__`` (the moves,
``to`` / ``cuda`` / ``cpu``, are declared in ``_tensor.py``)."""
from __future__ import annotations

from ..backend import backend_of


class DeviceMethods:
    def get_device(self) -> int:
        """The CUDA device index of a CUDA tensor, -1 for a CPU tensor (as torch)."""
        d = backend_of(self._data).device
        return -1 if d.type == "cpu" else int(d.index)

    @property
    def __cuda_array_interface__(self) -> dict:
        """The array's CUDA Array Interface (version 3), for CuPy, Numba and PyTorch to view without a copy;
        torch's AttributeError on a CPU tensor and on one that requires grad."""
        if backend_of(self._data).device.type != "cuda":
            from ..legacy_types import type_name

            raise AttributeError(f"Can't get __cuda_array_interface__ on non-CUDA tensor type: {type_name(self)} "
                                 "If CUDA data is required use tensor.cuda() to copy tensor to device memory.")
        if self._requires_grad:
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad. If gradients "
                               "aren't required, use var.detach() to get Variable that doesn't require grad.")
        return self._data.__cuda_array_interface__
