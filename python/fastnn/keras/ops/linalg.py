"""keras.ops.linalg: the linear-algebra names, the same functions as at keras.ops' top level."""
from __future__ import annotations

from . import (cholesky, cholesky_inverse, det, eigh, inv, lstsq, matrix_rank, norm, pinv, qr, solve,  # noqa: F401
               solve_triangular, svd)
