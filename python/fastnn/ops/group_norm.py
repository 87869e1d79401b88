"""group_norm and instance_norm on the existing normalisation kernels, and rms_norm in ``xp`` calls.

group_norm: the statistics of group g of sample n are those of one row of the (N*G, C/G * L) reshaped input,
so the forward is the layer norm row kernel (``layer_norm_rows``, no affine) followed by the per-channel affine
here; the backward is ``layer_norm_rows_backward`` on the output gradient scaled by the channel weight, with
dweight = sum(g * x-hat) and dbias = sum(g) over N and L.

instance_norm with input statistics is batch norm in training mode over the (1, N*C, L) view (every
(sample, channel) its own "channel"): ``batch_norm_forward`` / ``batch_norm_backward``, with the weight and bias
tiled over N and their gradients summed back over N; the running buffers get the batch average of the
per-instance mean and unbiased variance, as torch's. Without input statistics it is eval-mode batch_norm.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_int
from .batchnorm import batch_norm


def _vector(t, c, name, x, op):
    if t is None:
        return None
    t = as_tensor(t, op)
    if t.ndim != 1 or t.shape[0] != c:
        raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, but got "
                           f"{name} of shape {list(t.shape)} and input of shape {list(x.shape)}")
    if t._data.dtype != x._data.dtype:
        raise RuntimeError(f"{op}(): expected {name} of dtype {x.dtype} (the input's), got {t.dtype}")
    return t


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.group_norm over (N, C, *): statistics per sample and group of C/num_groups channels
    (biased variance), then a per-channel affine."""
    op = "group_norm"
    num_groups = check_int(num_groups, op, "num_groups", 2)
    a = as_tensor(input, op)
    if a.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {a.ndim}")
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"{op}(): expected a floating point input, got {a.dtype}")
    n, c = x.shape[0], x.shape[1]
    g = int(num_groups)
    if g <= 0:  # torch's text (for 0 torch itself fails with a ZeroDivisionError)
        raise RuntimeError(f"group_norm(): Expected num groups to be greater than 0, got {g}")
    if c % g != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(x.shape)} and num_groups={num_groups}")
    if (n * c // g) * math.prod(x.shape[2:]) == 1:  # torch's _verify_batch_size on [N*C/G, G, *spatial]
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // g, g] + list(x.shape[2:])}")
    wt, bt = _vector(weight, c, "weight", a, op), _vector(bias, c, "bias", a, op)
    w = None if wt is None else wt._data
    b = None if bt is None else bt._data
    be = backend_of(x, w, b)
    xp = be.xp
    l = math.prod(x.shape[2:])
    if x.size == 0:
        def empty_backward(gy):
            return (xp.zeros_like(x), None if wt is None else xp.zeros(c, x.dtype),
                    None if bt is None else xp.zeros(c, x.dtype))
        return record(Tensor._wrap(xp.empty_like(x)), "NativeGroupNormBackward0", (a, wt, bt), empty_backward)
    x2 = x.reshape(n * g, (c // g) * l)
    xhat, mean, rstd = be.layer_norm_rows(x2, None, None, eps)
    y = xhat.reshape(n, c, l)  # the kernel's fresh output: the affine runs in place on it (no temporaries)
    if w is not None:
        y *= w.reshape(c, 1)
    if b is not None:
        y += b.reshape(c, 1)

    def backward(gy):
        g3 = gy.reshape(n, c, l)
        gx = gw = gb = None
        if wt is not None and wt._requires_grad:
            xh = ((x2 - mean[:, None]) * rstd[:, None]).reshape(n, c, l)
            gw = xp.einsum("ncl,ncl->c", g3, xh)
        if bt is not None and bt._requires_grad:
            gb = g3.sum(axis=(0, 2))
        if a._requires_grad:
            gs = g3 if w is None else g3 * w.reshape(c, 1)
            gx, _, _ = be.layer_norm_rows_backward(x2, xp.ascontiguousarray(gs).reshape(x2.shape), mean, rstd, None,
                                                   need_input=True, need_weight=False, need_bias=False)
            gx = gx.reshape(x.shape)
        return gx, gw, gb

    return record(Tensor._wrap(y.reshape(x.shape)), "NativeGroupNormBackward0", (a, wt, bt), backward)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.instance_norm over (N, C, *): statistics per sample and channel."""
    op = "instance_norm"
    a = as_tensor(input, op)
    if a.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {a.ndim}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        return batch_norm(a, running_mean, running_var, weight, bias, False, momentum, eps)
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"{op}(): expected a floating point input, got {a.dtype}")
    l = math.prod(x.shape[2:])
    if l <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {a.shape}")
    n, c = x.shape[0], x.shape[1]
    wt, bt = _vector(weight, c, "weight", a, op), _vector(bias, c, "bias", a, op)
    rm = None if running_mean is None else as_tensor(running_mean, op)
    rv = None if running_var is None else as_tensor(running_var, op)
    for name, t in (("running_mean", rm), ("running_var", rv)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    be = backend_of(x, *[t._data for t in (wt, bt, rm, rv) if t is not None])
    xp = be.xp
    if x.size == 0:
        def empty_backward(gy):
            return (xp.zeros_like(x), None if wt is None else xp.zeros(c, x.dtype),
                    None if bt is None else xp.zeros(c, x.dtype))
        return record(Tensor._wrap(xp.empty_like(x)), "NativeBatchNormBackward0", (a, wt, bt), empty_backward)
    x3 = x.reshape(1, n * c, l)
    w = None if wt is None else xp.tile(wt._data, n)
    b = None if bt is None else xp.tile(bt._data, n)
    y, mean, invstd, var = be.batch_norm_forward(x3, w, b, None, None, True, eps)
    m = float(momentum)
    for buf, stat in ((rm, mean), (rv, var * (l / (l - 1)))):
        if buf is not None:  # the batch average of the per-instance statistics, in float64, rounded once
            avg = stat.reshape(n, c).mean(axis=0)
            arr = buf._data
            buf._write(..., ((1.0 - m) * arr.reshape(-1).astype(np.float64) + m * avg).astype(arr.dtype)
                       .reshape(arr.shape))

    def backward(gy):
        need_w = wt is not None and wt._requires_grad
        need_b = bt is not None and bt._requires_grad
        gx, gw, gb = be.batch_norm_backward(gy.reshape(x3.shape), x3, mean, invstd, w, True, a._requires_grad,
                                            need_w, need_b)
        return (None if gx is None else gx.reshape(x.shape), None if gw is None else gw.reshape(n, c).sum(axis=0),
                None if gb is None else gb.reshape(n, c).sum(axis=0))

    return record(Tensor._wrap(y.reshape(x.shape)), "NativeBatchNormBackward0", (a, wt, bt), backward)


def rms_norm(input, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """torch.nn.functional.rms_norm: x / sqrt(mean(x², over the trailing ``normalized_shape`` dims) + eps),
    times ``weight`` when given; eps=None is torch.finfo(input.dtype).eps. Computed in the input's dtype."""
    op = "rms_norm"
    a = as_tensor(input, op)
    if isinstance(normalized_shape, (numbers.Integral, np.integer)) and not isinstance(normalized_shape, bool):
        normalized_shape = (int(normalized_shape),)
    shape = tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    if a.ndim < k or tuple(a.shape[-k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{', '.join(str(s) for s in shape)}], but got input of size{list(a.shape)}")
    x = a._data
    if x.dtype.kind not in "fV":
        raise RuntimeError(f"{op}(): expected a floating point input, got {a.dtype}")
    wt = None
    if weight is not None:
        wt = as_tensor(weight, op)
        if tuple(wt.shape) != shape:
            raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                               f"{list(wt.shape)} and normalized_shape = {list(shape)}")
        if wt._data.dtype != x.dtype:
            raise RuntimeError(f"{op}(): expected weight of dtype {a.dtype} (the input's), got {wt.dtype}")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    w = None if wt is None else wt._data
    be = backend_of(x, w)
    xp = be.xp
    axes = tuple(range(x.ndim - k, x.ndim))
    d = math.prod(shape)
    with be.errstate(all="ignore"):
        r = 1.0 / xp.sqrt((x * x).mean(axis=axes, keepdims=True) + x.dtype.type(eps)) if x.size else \
            xp.empty(x.shape[:x.ndim - k] + (1,) * k, x.dtype)
        r = r.astype(x.dtype, copy=False)
        xn = x * r
        y = xn * w if w is not None else xn

    def backward(g):
        gx = gw = None
        with be.errstate(all="ignore"):
            if wt is not None and wt._requires_grad:
                gw = (g * xn).reshape((-1,) + shape).sum(axis=0)
            if a._requires_grad:
                gs = g * w if w is not None else g
                # d(x r)/dx: r * (gs - xn * mean(gs * xn))
                dot = (gs * xn).sum(axis=axes, keepdims=True) / d if d else 0.0
                gx = r * (gs - xn * dot)
        return gx, gw

    return record(Tensor._wrap(y), "MulBackward0", (a, wt), backward)


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """torch.nn.functional.local_response_norm over (N, C, *): x / (k + alpha * mean of x² over the ``size``
    channels around each one, zero-padded size//2 before and (size-1)//2 after) ** beta, composed as torch does
    it from differentiable ops (the channel window is an avg_pool2d of the squares viewed as (N, 1, C, L))."""
    from ..creation import zeros
    from .pooling import avg_pool2d
    from .shape import cat

    a = as_tensor(input, "local_response_norm")
    if a.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {a.ndim} dimensions)")
    if a.numel() == 0:
        return a
    shape = tuple(a.shape)
    n, c = shape[0], shape[1]
    l = math.prod(shape[2:])
    sq = (a * a).reshape(n, 1, c, l)
    before, after = size // 2, (size - 1) // 2
    parts = [zeros(n, 1, before, l, dtype=a.dtype, device=a.device)] if before else []
    parts.append(sq)
    if after:
        parts.append(zeros(n, 1, after, l, dtype=a.dtype, device=a.device))
    padded = cat(parts, dim=2) if len(parts) > 1 else sq
    div = avg_pool2d(padded, (size, 1), stride=1).reshape(shape)
    return a / (div * alpha + k) ** beta
