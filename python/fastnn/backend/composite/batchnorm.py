"""Batch norm kernels in ``xp`` calls: the references of backend/cpu/batchnorm.py (csrc/cpu/batchnorm.cpp).

Both work on (N, C, L) arrays, L the product of the spatial dims ((N, C) input is L = 1); the statistics
are per channel, over (N, L). The channel statistics are float64, taken in two levels: an x-dtype sum per
(n, c) row (a few hundred to a few thousand values, so its rounding stays ~1e-7 relative in float32),
then the N row sums in float64 (a (64, 64, 784) float32 batch: 0.45 ms by einsum + a tiny float64 sum,
against 1.2 ms for ``sum(dtype=float64)`` over everything). The variance is two-pass (squared deviations
from the mean), which avoids the E[x²] - E[x]² cancellation when |mean| >> std.

The kernels do not touch the running buffers: the op updates them from the returned mean and biased var.
"""
from __future__ import annotations


class BatchNormKernels:
    def batch_norm_forward(self, x3, weight, bias, running_mean, running_var, training: bool, eps: float):
        """(y, mean, invstd, var) of batch norm over (N, C, L) ``x3``; weight / bias (C,) or None (1 / 0).

        Training: ``mean`` and ``var`` are the batch mean and biased variance (float64 (C,)), invstd =
        1 / sqrt(var + eps), and y = (x - m) * (w * invstd) + (b - resid * w * invstd), where m is the mean
        rounded to x's dtype and resid = mean - m (the rounding, folded into the shift: at |mean| = 1000 in
        float32 it would otherwise shift every output by up to 3e-5 of std). N * L must be > 0.
        Eval: mean = running_mean, invstd = 1 / sqrt(running_var + eps) (float64), y = x * (w * invstd) +
        (b - mean * w * invstd), var None. The scale and shift are rounded to x's dtype; y has x3's shape
        and dtype. Raises ValueError for eps < 0, training without values, eval without running buffers.
        """
        xp = self.xp
        n, c, l = x3.shape
        count = n * l
        _check_forward(training, count, eps, running_mean, running_var)
        dt = x3.dtype
        xs, vec = _channel_view(x3)
        w64 = weight.astype(xp.float64) if weight is not None else xp.ones(c)
        b64 = bias.astype(xp.float64) if bias is not None else xp.zeros(c)
        if training:
            mean = _channel_sum(xp, xs) / count
            mean_x = mean.astype(dt)
            y = xs - mean_x.reshape(vec)  # centred x, scaled in place into the output below
            resid = mean - mean_x.astype(xp.float64)
            # sum((x - m)^2) = sum((x - mean)^2) + count * resid^2, as sum(x - mean) = 0
            var = xp.maximum(_channel_dot(xp, y, y) / count - resid * resid, 0.0)  # biased: it normalises
            invstd = 1.0 / xp.sqrt(var + eps)
            scale = w64 * invstd
            shift = b64 - resid * scale
            y *= scale.astype(dt).reshape(vec)
        else:
            mean = running_mean.astype(xp.float64)
            var = None
            invstd = 1.0 / xp.sqrt(running_var.astype(xp.float64) + eps)
            # One fused scale and shift per channel: y = x * (w * invstd) + (b - mean * w * invstd).
            scale = w64 * invstd
            shift = b64 - mean * scale
            y = xs * scale.astype(dt).reshape(vec)
        y += shift.astype(dt).reshape(vec)
        return y.reshape(x3.shape), mean, invstd, var

    def batch_norm_backward(self, g3, x3, mean, invstd, weight, training: bool, need_input: bool,
                            need_weight: bool, need_bias: bool):
        """(dx, dweight, dbias) of batch norm from the forward's float64 ``mean`` and ``invstd``, None where
        not needed; dweight/dbias are (C,) in x's dtype.

        With m = mean rounded to x's dtype, resid = mean - m and x-hat = (x - m - resid) * invstd:
        dbias = sum(g), dweight = sum(g * x-hat) over (N, L); with k = w * invstd, training
        dx = k * (g - mean(g) - x-hat * mean(g * x-hat)) (the batch statistics depend on x), eval dx = k * g.
        x-hat is never stored: dx is built in the one full-size buffer, the centred x.
        """
        xp = self.xp
        n, c, l = x3.shape
        count = n * l
        dt = x3.dtype
        if count == 0:
            return (xp.zeros(x3.shape, dt) if need_input else None, xp.zeros(c, dt) if need_weight else None,
                    xp.zeros(c, dt) if need_bias else None)
        xs, vec = _channel_view(x3)
        gs = g3.reshape(xs.shape)
        mean_x = mean.astype(dt)
        resid = mean - mean_x.astype(xp.float64)  # 0 in eval: the mean is the running buffer's
        gsum = _channel_sum(xp, gs) if (training or need_weight or need_bias) else None
        centred = gdot = None
        if training or need_weight:
            centred = xs - mean_x.reshape(vec)
            gdot = (_channel_dot(xp, gs, centred) - resid * gsum) * invstd  # sum(g * x-hat)
        gx = gw = gb = None
        if need_input:
            k = (weight.astype(xp.float64) if weight is not None else 1.0) * invstd
            if training:
                # k * (g + centred * c1 + c0) per channel, with x-hat = (centred - resid) * invstd.
                c1 = -invstd * gdot / count
                c0 = -gsum / count - resid * c1
                gx = centred
                gx *= c1.astype(dt).reshape(vec)
                gx += gs
                gx *= k.astype(dt).reshape(vec)
                gx += (c0 * k).astype(dt).reshape(vec)
            else:
                gx = gs * k.astype(dt).reshape(vec)
            gx = gx.reshape(x3.shape)
        if need_weight:
            gw = gdot.astype(dt)
        if need_bias:
            gb = gsum.astype(dt)
        return gx, gw, gb


def _check_forward(training, count, eps, running_mean, running_var):
    """The CPU binding's argument errors, with its exception type."""
    if not eps >= 0.0:
        raise ValueError(f"batch_norm_forward: eps must be non-negative, got {eps}")
    if training and count == 0:
        raise ValueError("batch_norm_forward: training needs at least one value per channel")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm_forward: eval mode needs running_mean and running_var")


def _channel_view(x3):
    """(N, C, L) x as the array the math runs on and the shape of a per-channel vector beside it: (N, C)
    stays 2-D, since broadcasting a (1, C, 1) vector over (N, C, 1) runs NumPy's inner loops over a
    length-1 axis."""
    n, c, l = x3.shape
    if l == 1:
        return x3.reshape(n, c), (1, c)
    return x3, (1, c, 1)


def _channel_sum(xp, a):
    """Per-channel float64 sum of (N, C, L) a: x-dtype row sums over L, then float64 over N; (N, C) a
    sums straight down the columns in float64."""
    if a.ndim == 2:
        return a.sum(axis=0, dtype=xp.float64)
    return xp.einsum("ncl->nc", a).sum(axis=0, dtype=xp.float64)


def _channel_dot(xp, a, b):
    """Per-channel float64 sum of a*b over (N, L), same two levels as ``_channel_sum``."""
    if a.ndim == 2:
        return xp.einsum("nc,nc->nc", a, b).sum(axis=0, dtype=xp.float64)
    return xp.einsum("ncl,ncl->nc", a, b).sum(axis=0, dtype=xp.float64)
