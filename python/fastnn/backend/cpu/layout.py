"""Layout helpers of the native kernels: they take rows whose elements are contiguous (any row stride)
or C-contiguous arrays; these reshape to that form, copying only when the layout demands it."""
from __future__ import annotations

import numpy as np


def contiguous_rows(x: np.ndarray) -> np.ndarray:
    """x itself when its last dim is contiguous (any other strides), else a C-contiguous copy."""
    if x.shape[-1] > 1 and x.strides[-1] != x.itemsize:
        return np.ascontiguousarray(x)
    return x


def rows_view(x: np.ndarray, cols: int) -> np.ndarray:
    """x as (rows, cols) with contiguous rows: a view when the layout allows one, else a copy."""
    return contiguous_rows(x.reshape(-1, cols) if x.ndim != 2 or x.shape[1] != cols else x)


def dense(x: np.ndarray) -> np.ndarray:
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)
