"""torch.linalg: decompositions, solvers, norms and products on batches of matrices (..., m, n).

The functions live in ops/ (forward beside backward); this package is the public namespace."""
from __future__ import annotations

from ..ops.matmul_family import linalg_cross as cross
from ..ops.matmul_family import multi_dot

__all__ = ["cross", "multi_dot"]
