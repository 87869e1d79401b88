"""dropout1d / dropout3d (whole channels), alpha_dropout and feature_alpha_dropout (SELU-preserving).

Channel dropout keeps or zeroes each (sample, channel) with one draw broadcast over the spatial dims; alpha
dropout replaces dropped values by SELU's negative saturation -alpha' and applies the affine map a x + b that
restores zero mean and unit variance (Klambauer et al. 2017, torch's constants). The masks come from the
device's generator (``be.generator()``), so ``fastnn.manual_seed`` reproduces them."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .dropout import _check_p

_SELU_ALPHA_PRIME = 1.7580993408473766  # SELU's scale * alpha: its negative saturation value


def _keep_mask(x, shape, p):
    return backend_of(x).generator().random(shape, dtype=np.float32) >= np.float32(p)


def _channel_dropout(op: str, input, p: float, training: bool, dims: tuple) -> Tensor:
    a = as_tensor(input, op)
    p = _check_p(p)
    if a.ndim not in dims:
        lo, hi = dims
        raise RuntimeError(f"{op}: Expected {lo}D or {hi}D input, but received a {a.ndim}D input. Note that "
                           f"dropout{lo - 1}d exists to provide channel-wise dropout on inputs with {lo - 1} spatial "
                           f"dimension{'s' if lo - 1 > 1 else ''}, a channel dimension, and an optional batch "
                           f"dimension (i.e. {lo}D or {hi}D inputs).")
    if not training or p == 0.0:
        return a
    x = a._data
    spatial = dims[0] - 1
    mask_shape = x.shape[:-spatial] + (1,) * spatial
    keep = _keep_mask(x, mask_shape, p)
    scaled = keep.astype(x.dtype) * (x.dtype.type(1.0 / (1.0 - p)) if p < 1 else x.dtype.type(0))
    return record(Tensor._wrap(x * scaled), "MulBackward0", (a,), lambda g: (g * scaled,))


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes whole channels of (N, C, L) or (C, L) input."""
    return _channel_dropout("dropout1d", input, p, training, (2, 3))


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    return _channel_dropout("dropout3d", input, p, training, (4, 5))


def _alpha(op: str, input, p: float, training: bool, feature: bool) -> Tensor:
    a = as_tensor(input, op)
    p = _check_p(p)
    if not training or p == 0.0:
        return a
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"{op}(): expected a floating point input, got {a.dtype}")
    if feature and a.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1.0:
        zeros = backend_of(x).xp.zeros(x.shape, x.dtype)
        return record(Tensor._wrap(zeros), "MulBackward0", (a,), lambda g: (g * 0,))
    shape = (x.shape[:2] + (1,) * (x.ndim - 2)) if feature else x.shape
    keep = _keep_mask(x, shape, p).astype(x.dtype)
    al = _SELU_ALPHA_PRIME
    coef = 1.0 / math.sqrt((al * al * p + 1) * (1 - p))
    mult = keep * x.dtype.type(coef)
    shift = (keep - 1) * x.dtype.type(al * coef) + x.dtype.type(al * coef * p)
    return record(Tensor._wrap((x * mult + shift).astype(x.dtype, copy=False)), "AddBackward0", (a,),
                  lambda g: (backend_of(g).xp.broadcast_to(g * mult, x.shape),))


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout (training=False by default, as torch.nn.functional.alpha_dropout)."""
    return _alpha("alpha_dropout", input, p, training, False)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels: one draw per (N, C), broadcast over the remaining dims."""
    return _alpha("feature_alpha_dropout", input, p, training, True)
