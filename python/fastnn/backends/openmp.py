"""torch.backends.openmp: whether fastnn's kernels were built with OpenMP."""
from __future__ import annotations

from ..backend import native


def is_available() -> bool:
    return bool(dict(native.build_info())["openmp"])
