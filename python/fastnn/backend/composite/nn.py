"""nn kernels in ``xp`` calls: the references of backend/cpu/nn.py. (Being written.)"""
from __future__ import annotations


class NNKernels:
    pass
