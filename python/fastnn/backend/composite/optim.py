"""optim kernels in ``xp`` calls: the references of backend/cpu/optim.py. (Being written.)"""
from __future__ import annotations


class OptimKernels:
    pass
