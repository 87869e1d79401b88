"""batch_norm over (N, C, *) input: per-channel statistics over every dim but 1, as torch.nn.functional.

Training mode normalises with the batch statistics (biased variance) and, when running buffers are given,
updates them in place with the unbiased variance; eval mode normalises with the running buffers.

The math is the batch norm kernel family's (``batch_norm_forward`` / ``batch_norm_backward`` over
(N, C, L) arrays; ``backend/composite/batchnorm.py`` states it, ``csrc/cpu/batchnorm.cpp`` runs it on the
CPU): float64-accurate channel statistics, a two-pass variance (no E[x²] - E[x]² cancellation when
|mean| >> std), and the mean's rounding to float32 folded into the shift. The op validates, calls the
kernels and updates the running buffers from the float64 batch mean and variance they return.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor


_BF16 = dtypes.bfloat16.np  # bfloat16's storage dtype, as arrays report it


def _check_vector(t, name: str, c: int, dtype, op: str = "batch_norm"):
    if t is None:
        return None
    t = as_tensor(t, op)
    if t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if t._data.dtype != dtype and not (dtype == _BF16 and t.dtype is dtypes.float32):
        # torch's CPU "mixed type": a bfloat16 input with float32 parameters and statistics (what autocast's
        # bf16 convolution output meets in a float32 model) is allowed; other mixes are refused
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return t


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.batch_norm. ``momentum`` weights the new statistic in the running update
    (running = (1 - momentum) * running + momentum * batch); ``running_var`` gets the unbiased variance."""
    a = as_tensor(input, "batch_norm")
    if a.ndim < 2 and a.numel() == 0:
        # torch's at::batch_norm returns an empty input as it is (a clone, times weight[0], plus bias[0])
        # before it looks for a channel dim.
        out = a.clone()
        if weight is not None:
            out = out * as_tensor(weight, "batch_norm")[0]
        if bias is not None:
            out = out + as_tensor(bias, "batch_norm")[0]
        return out
    if a.ndim < 2:
        raise RuntimeError(f"batch_norm(): expected an input with at least 2 dims (N, C, *), got {a.ndim}-D input "
                           f"of size {list(a.shape)}")
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"batch_norm(): expected a floating point input, got {a.dtype}")
    n, c = x.shape[0], x.shape[1]
    count = x.size // c if c else 0  # values per channel
    if training and count == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {a.shape}")
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    rm = _check_vector(running_mean, "running_mean", c, x.dtype)
    rv = _check_vector(running_var, "running_var", c, x.dtype)
    wt = _check_vector(weight, "weight", c, x.dtype)
    bt = _check_vector(bias, "bias", c, x.dtype)
    if not training and (rm is None or rv is None):
        raise RuntimeError("running_mean must be defined in evaluation mode" if rm is None
                           else "running_var must be defined in evaluation mode")
    be = backend_of(x, *[t._data for t in (rm, rv, wt, bt) if t is not None])
    if x.size == 0:
        return _empty_batch_norm(be, a, wt, bt, x)
    x3 = x.reshape(n, c, count // n)
    w, b = _vec(wt, c), _vec(bt, c)
    y, mean, invstd, var = be.batch_norm_forward(x3, w, b, None if training else _vec(rm, c),
                                                 None if training else _vec(rv, c), training, eps)
    if training and (rm is not None or rv is not None):
        _update_running(rm, rv, mean, var * count / (count - 1) if count > 1 else var, momentum)

    def backward(g):
        need_w = wt is not None and wt._requires_grad
        need_b = bt is not None and bt._requires_grad
        # x-hat is never stored: the kernel re-forms the centred x from x and the saved float64 mean
        # (activations memory stays at torch's: x and a few vectors).
        gx, gw, gb = be.batch_norm_backward(g.reshape(x3.shape), x3, mean, invstd, w, training, a._requires_grad,
                                            need_w, need_b)
        return (None if gx is None else gx.reshape(x.shape), None if gw is None else gw.reshape(wt.shape),
                None if gb is None else gb.reshape(bt.shape))

    return record(Tensor._wrap(y.reshape(x.shape)), "NativeBatchNormBackward0", (a, wt, bt), backward)


def _vec(t, c):
    return None if t is None else t._data.reshape(c)


def _update_running(rm, rv, mean, unbiased_var, momentum) -> None:
    """In-place exponential (or, with the module's 1/num_batches factor, cumulative) average update, in
    float64 and rounded once to the buffer's dtype."""
    m = float(momentum)
    for buf, stat in ((rm, mean), (rv, unbiased_var)):
        if buf is None:
            continue
        arr = buf._data
        new = (1.0 - m) * arr.reshape(-1).astype(np.float64) + m * stat
        buf._write(..., new.astype(arr.dtype).reshape(arr.shape))


def _empty_batch_norm(be, a, wt, bt, x):
    """No values: an empty output, running buffers untouched (torch's CPU rule), zero parameter grads."""
    xp = be.xp

    def backward(g):
        return (xp.zeros_like(x), None if wt is None else xp.zeros(wt.shape, x.dtype),
                None if bt is None else xp.zeros(bt.shape, x.dtype))

    return record(Tensor._wrap(xp.empty_like(x)), "NativeBatchNormBackward0", (a, wt, bt), backward)
