"""torch.backends.cudnn: fastnn has no cuDNN (``is_available()`` is False); the flags keep torch's defaults."""
from __future__ import annotations

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True
benchmark_limit = 10


def is_available() -> bool:
    return False


def version():
    return None  # torch answers None when cuDNN is not there
