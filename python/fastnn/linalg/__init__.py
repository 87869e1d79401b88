"""torch.linalg: decompositions, solvers, norms and products on batches of matrices (..., m, n).

The functions live in ops/decompositions.py and ops/matmul_family.py (forward beside backward); this package
is the public namespace."""
from __future__ import annotations

from ..ops.decompositions import (LinAlgError, cholesky, cholesky_ex, det, diagonal, eigh, eigvalsh, inv, inv_ex,
                                  lstsq, matrix_norm, matrix_power, matrix_rank, norm, pinv, qr, slogdet, solve, svd,
                                  solve_triangular, svdvals, vecdot)
from ..ops.matmul_family import linalg_cross as cross
from ..ops.matmul_family import multi_dot
from ..ops.linalg import matmul

# vector_norm: wired in by the lead from ops/norms.py

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "inv_ex",
           "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr",
           "slogdet", "solve", "solve_triangular", "svd", "svdvals", "vecdot"]
