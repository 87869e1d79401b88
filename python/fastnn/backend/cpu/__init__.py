"""The CPU backend: NumPy arrays, with the kernels we have native code for served by ``fastnn._C``
(AVX-512 / AVX2 / generic, chosen at import) and everything else inherited from the composite backend.

One mixin per kernel family, one file each, twins of ``backend/composite/<family>.py``; the CPU-only
memory tricks live in their own files: the engine's buffer adoption in ``memory.py``, the RNN workspace
pool in ``rnn_workspace.py``.
"""
from __future__ import annotations

from ..composite import CompositeBackend
from . import memory
from .activation import CpuActivationKernels
from .attention import CpuAttentionKernels
from .batchnorm import CpuBatchNormKernels
from .conv import CpuConvKernels
from .linalg import CpuLinalgKernels
from .nn import CpuNNKernels
from .optim import CpuOptimKernels
from .pool import CpuPoolKernels
from .rnn import CpuRNNKernels
from .sparse import CpuSparseKernels


class CpuBackend(CpuLinalgKernels, CpuNNKernels, CpuBatchNormKernels, CpuPoolKernels, CpuAttentionKernels,
                 CpuConvKernels, CpuRNNKernels, CpuOptimKernels, CpuSparseKernels,
                 CpuActivationKernels, CompositeBackend):
    name = "cpu"

    def exclusively_owned(self, arr) -> bool:
        return memory.exclusively_owned(arr)
