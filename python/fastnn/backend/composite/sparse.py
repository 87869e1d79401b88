"""Sparse (COO) @ dense kernels in ``xp`` calls: the references of backend/cpu/sparse.py
(csrc/cpu/spmm.cpp).

A COO matrix here is three 1-D arrays of nnz entries: int64 ``rows`` and ``cols`` and the values, in any
order, duplicates adding (no coalescing needed first).
"""
from __future__ import annotations


class SparseKernels:
    def spmm(self, rows, cols, vals, dense, m: int):
        """(m, n) = A @ ``dense`` for A = the entries (rows, cols, vals) and a (k, n) ``dense``. The transposed
        product A^T @ G (the gradient with respect to ``dense``) is ``spmm(cols, rows, vals, G, k)``."""
        xp = self.xp
        out = xp.zeros((m, dense.shape[1]), dense.dtype)
        return self.scatter_at(out, rows, vals[:, None] * dense[cols])

    def sddmm(self, rows, cols, a, b):
        """(nnz,): ``dot(a[rows[e]], b[cols[e]])`` per entry: the gradient of ``spmm`` with respect to its values
        (``a`` the output gradient, ``b`` the dense operand)."""
        return (a[rows] * b[cols]).sum(axis=1)
