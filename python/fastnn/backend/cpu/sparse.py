"""Sparse (COO) @ dense on the native kernels (csrc/cpu/spmm.cpp): a counting sort by row instead of
NumPy's unbuffered ``add.at`` scatter, which took ~40 ms for a Cora-sized graph (24k entries x 16
features) on a busy machine. float32 / float64; other dtypes (float16) take the composite kernels."""
from __future__ import annotations

import numpy as np

from ... import _C
from .layout import contiguous_rows, dense as _dense

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


class CpuSparseKernels:
    def spmm(self, rows, cols, vals, dense, m: int):
        if dense.dtype not in _NATIVE or vals.dtype != dense.dtype:
            return super().spmm(rows, cols, vals, dense, m)
        return _C.spmm(_dense(rows), _dense(cols), _dense(vals), contiguous_rows(dense), int(m))

    def sddmm(self, rows, cols, a, b):
        if a.dtype not in _NATIVE or b.dtype != a.dtype:
            return super().sddmm(rows, cols, a, b)
        return _C.sddmm(_dense(rows), _dense(cols), contiguous_rows(a), contiguous_rows(b))

