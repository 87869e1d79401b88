"""keras.ops.numpy: the NumPy-like names, the same functions as at keras.ops' top level."""
from __future__ import annotations

from . import __dict__ as _ops

globals().update({k: v for k, v in _ops.items() if not k.startswith("_") and callable(v)
                  and getattr(v, "__module__", "").startswith("fastnn.keras.ops")})
