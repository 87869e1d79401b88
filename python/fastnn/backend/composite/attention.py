"""attention kernels in ``xp`` calls: the references of backend/cpu/attention.py. (Being written.)"""
from __future__ import annotations


class AttentionKernels:
    pass
