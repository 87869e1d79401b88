"""torch's RuntimeError for a hyper-parameter beyond float32 that its float32 kernels take as a scalar.

torch's SGD passes ``lr`` as the ``alpha`` of ``param.add_(grad, alpha=-lr)``; a float32 parameter cannot take
1e308 there, so ``step`` raises "value cannot be converted to type float without overflow". fastnn's steps
cast such scalars with ``dtype.type(value)``, which silently gives inf (then -inf or NaN parameters). Which
hyper-parameters torch hands over as scalars differs per optimizer (Adam's ``lr`` enters a tensor product, so
torch computes with it): the table lists those that raise in torch 2.13 (measured, default implementation).
"""
from __future__ import annotations

import functools
import math

import numpy as np

_SCALARS = {"SGD": ("lr", "weight_decay"), "Adam": ("weight_decay",),
            "RMSprop": ("lr", "weight_decay", "alpha"), "Adagrad": ("lr", "weight_decay", "initial_accumulator_value"),
            "Adamax": ("weight_decay",), "NAdam": ("lr", "weight_decay"), "RAdam": ("weight_decay",),
            "Adadelta": ("lr", "weight_decay")}
# torch adds weight_decay * param with ``alpha=weight_decay``: a bool there is its "Boolean alpha" error (AdamW
# multiplies instead, so it takes True as 1).
_BOOL_ALPHA = ("SGD", "Adam", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta")

_LIMITS = {np.dtype(np.float32): (float(np.finfo(np.float32).max), "float"),
           np.dtype(np.float16): (float(np.finfo(np.float16).max), "c10::Half")}


# Every hyper-parameter within float16's range fits every parameter dtype: the common case costs one comparison
# per hyper-parameter, never a walk over the parameters.
_SMALLEST_LIMIT = min(limit for limit, _ in _LIMITS.values())


def check_scalar_range(optimizer) -> None:
    kind = type(optimizer).__name__
    names = _SCALARS.get(kind)
    if not names:
        return
    bool_alpha = kind in _BOOL_ALPHA
    for group in optimizer.param_groups:
        if bool_alpha and group.get("weight_decay") is True:
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
        for name in names:
            v = group.get(name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) > _SMALLEST_LIMIT or \
                    not math.isfinite(v):
                continue
            for p in group["params"]:
                limit = _LIMITS.get(p._data.dtype)
                if p.grad is not None and limit is not None and abs(v) > limit[0]:
                    raise RuntimeError(f"value cannot be converted to type {limit[1]} without overflow")


def checked_step(step):
    """``step`` preceded by the range check (wrapped once per Optimizer subclass)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        check_scalar_range(self)
        return step(self, *args, **kwargs)

    wrapper.__fastnn_range_checked__ = True
    return wrapper
