"""pool kernels in ``xp`` calls: the references of backend/cpu/pool.py. (Being written.)"""
from __future__ import annotations


class PoolKernels:
    pass
