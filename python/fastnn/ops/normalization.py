"""Normalisation: layer_norm on the backend's row kernel (forward saves mean and rstd per row; backward gives
dx, dweight and dbias in one pass; on the CPU, dweight/dbias are bitwise independent of the thread count)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_ints


def _shape_list(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.layer_norm: normalises over the trailing dims given by ``normalized_shape``
    (biased variance), then scales by ``weight`` and shifts by ``bias`` when given."""
    check_ints(normalized_shape, "layer_norm", "normalized_shape", 2)
    a = as_tensor(input, "layer_norm")
    if a.dtype is dtypes.bfloat16 and any(isinstance(p, Tensor) and p.dtype is dtypes.float32 for p in (weight, bias)):
        # torch's CPU mixed type (a bfloat16 input, e.g. an autocast GEMM's output, with float32 parameters):
        # computed in float32 on the widened input, the output rounded once to bfloat16
        return layer_norm(a.float(), normalized_shape, weight, bias, eps).to(dtypes.bfloat16)
    if type(normalized_shape) is int:
        normalized_shape = (normalized_shape,)
    elif isinstance(normalized_shape, (numbers.Integral, np.integer)) and not isinstance(normalized_shape, bool):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    if len(normalized_shape) == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    k = len(normalized_shape)
    if a._data.ndim < k or a._data.shape[-k:] != normalized_shape:  # the array's tuple: no Size built
        raise RuntimeError(f"Given normalized_shape={_shape_list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{_shape_list(a.shape)}")
    x = a._data
    if x.dtype.kind not in "fV":
        raise TypeError(f"layer_norm(): expected input of dtype float32 or float64, got {a.dtype}")
    params = []
    for name, p in (("weight", weight), ("bias", bias)):
        if p is None:
            params.append((None, None))
            continue
        p = as_tensor(p, "layer_norm")
        if tuple(p.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{_shape_list(p.shape)} and normalized_shape = {_shape_list(normalized_shape)}")
        if p._data.dtype != x.dtype:
            raise TypeError(f"layer_norm(): expected {name} of dtype {a.dtype} (the input's), got {p.dtype}")
        params.append((p, p._data.reshape(-1)))
    (wt, w), (bt, b) = params
    d = math.prod(normalized_shape)
    be = backend_of(x, w, b)
    if x.size == 0:
        return _empty_layer_norm(be, a, wt, bt, normalized_shape)
    x2 = x.reshape(-1, d)
    y, mean, rstd = be.layer_norm_rows(x2, w, b, eps)

    def backward(g):
        dx, dw, db = be.layer_norm_rows_backward(
            x2, g.reshape(-1, d), mean, rstd, w, need_input=a._requires_grad,
            need_weight=wt is not None and wt._requires_grad, need_bias=bt is not None and bt._requires_grad)
        return (None if dx is None else dx.reshape(x.shape), None if dw is None else dw.reshape(normalized_shape),
                None if db is None else db.reshape(normalized_shape))

    return record(Tensor._wrap(y.reshape(x.shape)), "NativeLayerNormBackward0", (a, wt, bt), backward)


def _empty_layer_norm(be, a, wt, bt, normalized_shape):
    x = a._data

    def backward(g):
        zeros = be.xp.zeros(normalized_shape, x.dtype)
        return be.xp.zeros_like(x), zeros, zeros.copy()

    return record(Tensor._wrap(be.xp.empty_like(x)), "NativeLayerNormBackward0", (a, wt, bt), backward)
