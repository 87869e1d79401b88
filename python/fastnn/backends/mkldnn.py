"""torch.backends.mkldnn: fastnn does not use oneDNN."""
from __future__ import annotations

enabled = False


def is_available() -> bool:
    return False
