"""rnn kernels in ``xp`` calls: the references of backend/cpu/rnn.py. (Being written.)"""
from __future__ import annotations


class RNNKernels:
    pass
