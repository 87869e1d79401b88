"""The CPU backend: NumPy arrays, with the kernels we have native code for served by ``fastnn._C``
(AVX-512 / AVX2 / generic, chosen at import) and everything else inherited from the composite backend.

One mixin per kernel family, one file each, twins of ``backend/composite/<family>.py``; the CPU-only
memory tricks (the engine's buffer adoption, the RNN workspace pool) live in ``memory.py``.
"""
from __future__ import annotations

from ..composite import CompositeBackend
from . import memory
from .attention import CpuAttentionKernels
from .batchnorm import CpuBatchNormKernels
from .conv import CpuConvKernels
from .linalg import CpuLinalgKernels
from .nn import CpuNNKernels
from .optim import CpuOptimKernels
from .pool import CpuPoolKernels


class CpuBackend(CpuLinalgKernels, CpuNNKernels, CpuBatchNormKernels, CpuPoolKernels, CpuAttentionKernels,
                 CpuConvKernels, CpuOptimKernels, CompositeBackend):
    name = "cpu"

    def exclusively_owned(self, arr) -> bool:
        return memory.exclusively_owned(arr)
