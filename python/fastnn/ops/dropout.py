"""Dropout: zeroes each element with probability p and scales the survivors by 1/(1-p), so the
expected activation is unchanged and eval mode is the identity."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from ..backend.bf16 import astype_any
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_bool


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    training = check_bool(training, "dropout", "train", 3)
    a = as_tensor(input, "dropout")
    p = _check_p(p)
    if not training or p == 0.0:
        return a
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"dropout(): expected a floating point input, got {a.dtype}")
    be = backend_of(x)
    if p == 1.0:
        scaled_mask = be.xp.zeros(x.shape, x.dtype)
    else:
        # One uniform draw per element from the device's generator; the mask carries the 1/(1-p) scale so
        # the backward is one multiply.
        keep = be.generator().random(x.shape, dtype=np.float32) >= np.float32(p)
        scaled_mask = astype_any(keep, x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    if inplace:  # written into the input (a mul_ by the mask, with in-place autograd semantics)
        return a.mul_(Tensor._wrap(scaled_mask))
    y = x * scaled_mask
    return record(Tensor._wrap(y), "MulBackward0", (a,), lambda g: (g * scaled_mask,))


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) input."""
    a = as_tensor(input, "dropout2d")
    p = _check_p(p)
    if not training or p == 0.0:
        return a
    if a.ndim not in (3, 4):
        raise RuntimeError(f"dropout2d(): expected 3-D or 4-D input, got {a.ndim}-D")
    x = a._data
    mask_shape = x.shape[:-2] + (1, 1)
    keep = backend_of(x).generator().random(mask_shape, dtype=np.float32) >= np.float32(p)
    scaled_mask = astype_any(keep, x.dtype) * (x.dtype.type(1.0 / (1.0 - p)) if p < 1 else 0)
    if inplace:
        return a.mul_(Tensor._wrap(scaled_mask))
    y = x * scaled_mask
    return record(Tensor._wrap(y), "MulBackward0", (a,), lambda g: (g * scaled_mask,))
