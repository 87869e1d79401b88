"""BatchNormalization's training statistics over the global batch of a data-parallel step (a sync batch norm).

Keras' DataParallel computes a layer's batch mean and variance over the whole sharded batch (the program is
the single-device one), so the ranks must too: per-rank statistics would give other outputs, other gradients
and moving averages that differ from rank to rank. One autograd node per call, in ``xp`` array math:

- forward: per-channel sums (and the value count) all-reduced, then the squared deviations from the global
  mean all-reduced (two-pass, as the batch-norm kernels: no E[x^2] - E[x]^2 cancellation); biased variance.
- backward: sum(g) and sum(g * x-hat) all-reduced, so dx is the global batch's
  k * (g - mean(g) - x-hat * mean(g * x-hat)). The ranks' sums are weighted by their share w_r of the batch
  (the loss being sum_r w_r * loss_r) and this rank's dx divided by w_r, because the optimizer's gradient
  reduction multiplies every gradient reaching a weight by w_r again. dgamma / dbeta are the local sums."""
from __future__ import annotations

from ..._tensor import Tensor
from ...autograd.graph import record
from ...backend import backend_of


def batch_norm_global(x2: Tensor, gamma, beta, epsilon: float, run):
    """(y, mean, biased variance) of ``x2`` laid out (N, C, *), with the statistics of the global batch; the
    mean and variance are float64 (C,) arrays."""
    x = x2._data
    xp = backend_of(x).xp
    dt = x.dtype
    n, c = x.shape[0], x.shape[1]
    x3 = x.reshape(n, c, -1)
    vec = (1, c, 1)
    local = xp.concatenate([x3.sum(axis=(0, 2), dtype=xp.float64),
                            xp.full((1,), float(x3.shape[0] * x3.shape[2]), dtype=xp.float64)])
    (total,) = run._all_reduce([local], "SUM")
    count = float(total[c])
    mean = total[:c] / count
    mean_x = mean.astype(dt).reshape(vec)
    centred = x3 - mean_x
    (sq,) = run._all_reduce([xp.einsum("ncl,ncl->c", centred, centred).astype(xp.float64)], "SUM")
    var = sq / count
    invstd = 1.0 / xp.sqrt(var + epsilon)
    w64 = gamma._data.astype(xp.float64) if gamma is not None else xp.ones(c)
    scale = (w64 * invstd).astype(dt).reshape(vec)
    y = centred
    y *= scale
    if beta is not None:
        y += beta._data.astype(dt).reshape(vec)
    share = run.weight

    def backward(g):
        g3 = g.reshape(x3.shape)
        xc = x3 - mean_x  # re-formed, not saved: activation memory stays at one input
        gsum = g3.sum(axis=(0, 2), dtype=xp.float64)
        gdot = xp.einsum("ncl,ncl->c", g3, xc).astype(xp.float64) * invstd  # sum(g * x-hat)
        (both,) = run._all_reduce([xp.concatenate([gsum, gdot]) * share], "SUM")
        both = both / share
        k = w64 * invstd
        gx = xc
        gx *= (-k * invstd * both[c:] / count).astype(dt).reshape(vec)
        gx += g3 * k.astype(dt).reshape(vec)
        gx -= (k * both[:c] / count).astype(dt).reshape(vec)
        return (gx.reshape(x.shape), None if gamma is None else gdot.astype(dt).reshape(gamma.shape),
                None if beta is None else gsum.astype(dt).reshape(beta.shape))

    out = record(Tensor._wrap(y.reshape(x.shape)), "SyncBatchNormBackward", (x2, gamma, beta), backward)
    return out, mean, var
