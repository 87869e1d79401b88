"""torch.utils's module paths: ``fastnn.utils.data`` is ``fastnn.data``."""
from __future__ import annotations

from . import data

__all__ = ["data"]
