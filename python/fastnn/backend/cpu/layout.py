"""Layout helpers of the native kernels: they take rows whose elements are contiguous (any row stride)
or C-contiguous arrays; these reshape to that form, copying only when the layout demands it."""
from __future__ import annotations

import numpy as np


def rows_view(x: np.ndarray, cols: int) -> np.ndarray:
    """x as (rows, cols) with contiguous rows: a view when the layout allows one, else a copy."""
    x2 = x.reshape(-1, cols) if x.ndim != 2 or x.shape[1] != cols else x
    if cols > 1 and x2.strides[1] != x2.itemsize:
        x2 = np.ascontiguousarray(x2)
    return x2


def dense(x: np.ndarray) -> np.ndarray:
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)
