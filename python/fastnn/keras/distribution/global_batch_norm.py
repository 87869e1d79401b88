"""BatchNormalization's training statistics over the global batch of a data-parallel step.

Keras' DataParallel computes a layer's batch mean and variance over the whole sharded batch (the program is
the single-device one), so the ranks must too: per-rank statistics would give other outputs, other gradients
and moving averages that differ from rank to rank. The sums are joined by a differentiable all_reduce whose
backward all-reduces the incoming gradients (each weighted by the rank's share of the batch, which the
optimizer's gradient reduction divides out again), so the gradient is the single-process one."""
from __future__ import annotations

from ..._tensor import Tensor
from ...autograd.graph import record


def _global_sum(t: Tensor, run) -> Tensor:
    """sum over ranks of ``t`` (same shape everywhere), differentiable."""
    (out,) = run._all_reduce([t.detach()._data], "SUM")
    w = run.weight

    def backward(g):
        # the global loss is sum_r w_r * loss_r; rank r's parameters get w_r * (their local gradient) at
        # the optimizer, so the gradient of every rank's loss w.r.t. the sum is gathered and divided by w_r
        (total,) = run._all_reduce([g * g.dtype.type(w)], "SUM")
        return (total / total.dtype.type(w),)

    return record(Tensor._wrap(out), "GlobalSumBackward", (t,), backward)


def batch_norm_global(x2: Tensor, gamma, beta, epsilon: float, run):
    """(y, mean, biased variance) of ``x2`` laid out (N, C, *) with the statistics of the global batch."""
    from ...creation import tensor

    dims = [0] + list(range(2, x2.ndim))
    shape = [1, x2.shape[1]] + [1] * (x2.ndim - 2)
    local_count = x2.numel() // x2.shape[1]
    count = float(run._ints([local_count], "SUM")[0]) if run.world > 1 else float(local_count)
    mean = _global_sum(x2.sum(dim=dims), run) / count
    centred = x2 - mean.reshape(shape)
    var = _global_sum((centred * centred).sum(dim=dims), run) / count
    inv = (var + tensor(epsilon, dtype=var.dtype.name, device=var.device)).rsqrt()
    y = centred * inv.reshape(shape)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y, mean.detach()._data, var.detach()._data
