"""``keras.mixed_precision``: Keras 3's legacy names for the dtype policies (``dtype_policies.py``)."""
from __future__ import annotations

from .dtype_policies import DTypePolicy, dtype_policy, set_dtype_policy

Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy", "set_global_policy"]
