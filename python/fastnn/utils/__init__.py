"""torch.utils's module paths: ``fastnn.utils.data`` is ``fastnn.data``; ``fastnn.utils.dlpack``."""
from __future__ import annotations

from . import data, dlpack

__all__ = ["data", "dlpack"]
