"""conv kernels in ``xp`` calls: the references of backend/cpu/conv.py. (Being written.)"""
from __future__ import annotations


class ConvKernels:
    pass
