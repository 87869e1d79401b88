"""Connectionist Temporal Classification loss (torch.nn.functional.ctc_loss): the negative log-likelihood
of each target sequence under every alignment of the per-step class distributions, by the forward (alpha)
recursion in log space over the blank-extended target l' = (blank, l1, blank, l2, ..., blank); the
backward pass runs the beta recursion for the posterior occupancy of class c at step t,
gamma_t(c) = sum over s with l'_s = c of alpha_t(s) beta_t(s) / (y_t(c) p).

The gradient returned is torch's: exp(log_probs[t, c]) - gamma_t(c) at steps t < input_length (0 after),
times the incoming gradient. That is the gradient with respect to the logits x when log_probs =
log_softmax(x) (the usual call; the log_softmax's backward then passes it through unchanged, since it
sums to 0 over classes); with respect to log_probs as free inputs the true gradient is -gamma_t(c), which
torch, and so fastnn, do not return.

Everything runs on ``backend_of(...).xp`` (NumPy or CuPy): a Python loop over time, vectorised over the
batch and the extended labels."""
from __future__ import annotations

from .. import amp_state
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._loss_util import check_reduction


def _logsumexp(xp, *terms):
    m = terms[0]
    for x in terms[1:]:
        m = xp.maximum(m, x)
    shift = xp.where(xp.isfinite(m), m, 0.0)
    total = xp.exp(terms[0] - shift)
    for x in terms[1:]:
        total = total + xp.exp(x - shift)
    return xp.log(total) + shift


def _shift_right(xp, a, k: int, fill):
    """a[:, s - k] at column s (``fill`` in the first k columns)."""
    pad = xp.full(a.shape[:-1] + (k,), fill, dtype=a.dtype)
    return xp.concatenate([pad, a[..., :a.shape[-1] - k]], axis=-1) if a.shape[-1] > k else \
        xp.full(a.shape, fill, dtype=a.dtype)


def _shift_left(xp, a, k: int, fill):
    """a[:, s + k] at column s (``fill`` in the last k columns)."""
    pad = xp.full(a.shape[:-1] + (k,), fill, dtype=a.dtype)
    return xp.concatenate([a[..., k:], pad], axis=-1) if a.shape[-1] > k else xp.full(a.shape, fill, dtype=a.dtype)


def _lengths(value, xp, batch: int, what: str):
    arr = value._data if isinstance(value, Tensor) else value
    arr = xp.asarray(arr).reshape(-1)
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: {what} must be integers, got dtype {arr.dtype}")
    if arr.shape[0] != batch:
        raise RuntimeError(f"{what} must be of size batch_size")
    return arr.astype("int64")


def _padded_targets(targets, xp, tl, blank: int):
    """(N, S) targets, S the longest target: 2-D targets cut to S, 1-D (concatenated) ones spread out."""
    t = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
    if t.dtype.kind in "fV":
        t = t.astype("int64")
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: targets must be integers, got dtype {t.dtype}")
    t = t.astype("int64")
    n = tl.shape[0]
    longest = int(tl.max()) if n else 0
    cols = xp.arange(longest)
    inside = cols[None, :] < tl[:, None]
    if t.ndim == 2:
        if t.shape[0] != n:
            raise RuntimeError(f"Expected tensor to have size {n} at dimension 0, but got size {t.shape[0]} for "
                               "argument #2 'targets'")
        if longest > t.shape[1]:
            raise RuntimeError(f"Expected tensor to have size at least {longest} at dimension 1, but got size "
                               f"{t.shape[1]} for argument #2 'targets'")
        return xp.where(inside, t[:, :longest], blank)
    if t.ndim != 1:
        raise RuntimeError(f"ctc_loss: targets must be 1-D (concatenated) or 2-D (padded), got {t.ndim}-D")
    total = int(tl.sum())
    if t.shape[0] != total:
        raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got size {t.shape[0]} for "
                           "argument #2 'targets'")
    starts = xp.cumsum(tl) - tl
    index = xp.clip(starts[:, None] + cols[None, :], 0, max(total - 1, 0))
    return xp.where(inside, t[index] if total else blank, blank)


def ctc_nll(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0,
            zero_infinity: bool = False) -> Tensor:
    """Per-sample negative log-likelihoods, shape (N,), of (T, N, C) log-probabilities."""
    lp = log_probs._data
    if lp.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C), got shape {tuple(lp.shape)}")
    if lp.dtype.kind not in "fV":
        raise RuntimeError(f"ctc_loss: log_probs must be floating point, got {log_probs.dtype}")
    be = backend_of(lp)
    xp = be.xp
    steps, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise RuntimeError(f"blank must be in label range, got blank={blank} for {classes} classes")
    il = _lengths(input_lengths, xp, batch, "input_lengths")
    tl = _lengths(target_lengths, xp, batch, "target_lengths")
    if batch and int(il.max()) > steps:
        raise RuntimeError(f"Expected input_lengths to have value at most {steps}, but got value {int(il.max())}")
    if batch and (int(il.min()) < 0 or int(tl.min()) < 0):
        raise RuntimeError("ctc_loss: input_lengths and target_lengths must be non-negative")
    labels = _padded_targets(targets, xp, tl, blank)
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise RuntimeError(f"ctc_loss: target labels must be in [0, {classes})")
    width = 2 * labels.shape[1] + 1
    ext = xp.full((batch, width), blank, dtype="int64")
    ext[:, 1::2] = labels
    s = xp.arange(width)
    skip = (s[None, :] >= 2) & (ext != blank) & (ext != _shift_right(xp, ext, 2, blank))
    skip_next = _shift_left(xp, skip, 2, False)  # from s to s + 2
    neg = -float("inf")
    lp_ext = xp.take_along_axis(lp, xp.broadcast_to(ext[None], (steps, batch, width)), axis=2)

    with be.errstate(divide="ignore", invalid="ignore", over="ignore"):
        alpha = xp.full((steps, batch, width), neg, dtype=lp.dtype)
        if steps:
            alpha[0, :, 0] = lp_ext[0, :, 0]
            if width > 1:
                alpha[0, :, 1] = xp.where(tl > 0, lp_ext[0, :, 1], neg)
        for t in range(1, steps):
            prev = alpha[t - 1]
            two_back = xp.where(skip, _shift_right(xp, prev, 2, neg), neg)
            alpha[t] = _logsumexp(xp, prev, _shift_right(xp, prev, 1, neg), two_back) + lp_ext[t]
        rows = xp.arange(batch)
        last_t = xp.maximum(il - 1, 0)
        end = alpha[last_t, rows, 2 * tl] if steps else xp.full((batch,), neg, dtype=lp.dtype)
        before = alpha[last_t, rows, xp.maximum(2 * tl - 1, 0)] if steps else end
        ll = _logsumexp(xp, end, xp.where(tl > 0, before, neg))
        ll = xp.where(il > 0, ll, xp.where(tl == 0, 0.0, neg)).astype(lp.dtype)  # no steps: only "" fits
        nll = -ll
        infinite = ~xp.isfinite(nll)
        if zero_infinity:
            nll = xp.where(infinite, 0.0, nll).astype(lp.dtype)

    def backward(g):
        with be.errstate(divide="ignore", invalid="ignore", over="ignore"):
            beta = xp.full((steps, batch, width), neg, dtype=lp.dtype)
            last = (s[None, :] == 2 * tl[:, None]) | ((s[None, :] == 2 * tl[:, None] - 1) & (tl[:, None] > 0))
            for t in range(steps - 1, -1, -1):
                start = xp.where(last, lp_ext[t], neg)
                if t + 1 < steps:
                    nxt = beta[t + 1]
                    two_on = xp.where(skip_next, _shift_left(xp, nxt, 2, neg), neg)
                    inner = _logsumexp(xp, nxt, _shift_left(xp, nxt, 1, neg), two_on) + lp_ext[t]
                else:
                    inner = xp.full((batch, width), neg, dtype=lp.dtype)
                beta[t] = xp.where((il == t + 1)[:, None], start, xp.where((il > t + 1)[:, None], inner, neg))
            occupancy = xp.exp(alpha + beta - lp_ext + (-ll)[None, :, None])  # (T, N, L), 0 off the paths
            one_hot = (ext[:, :, None] == xp.arange(classes)[None, None, :]).astype(lp.dtype)  # (N, L, C)
            per_class = xp.matmul(occupancy.transpose(1, 0, 2), one_hot).transpose(1, 0, 2)  # (T, N, C)
            # torch's kernel: exp(log_probs) - posterior at steps t < input_length, 0 after; a sample whose
            # loss is infinite gets NaN there, or 0 throughout under zero_infinity
            live = xp.arange(steps)[:, None] < il[None, :]  # (T, N)
            if zero_infinity:
                live = live & ~infinite[None, :]
            grad = xp.where(live[:, :, None], xp.exp(lp) - per_class, 0.0)
            grad = grad * xp.asarray(g, dtype=lp.dtype).reshape(1, batch, 1)
        return (grad.astype(lp.dtype, copy=False),)

    return record(Tensor._wrap(nll), "CtcLossBackward0", (log_probs,), backward)


@amp_state.fp32_op(1)  # torch's CPU autocast list
def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> Tensor:
    """torch.nn.functional.ctc_loss: ``log_probs`` (T, N, C) or unbatched (T, C); ``targets`` (N, S) padded
    or 1-D concatenated; 'mean' divides each loss by its target length (at least 1), then averages."""
    check_reduction(reduction)
    unbatched = log_probs.ndim == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        if isinstance(targets, Tensor) and targets.ndim == 1:
            targets = targets.unsqueeze(0)
    nll = ctc_nll(log_probs, targets, input_lengths, target_lengths, blank, zero_infinity)
    if reduction == "none":
        return nll.squeeze(0) if unbatched else nll
    if reduction == "sum":
        return nll.sum()
    xp = backend_of(nll._data).xp
    tl = _lengths(target_lengths, xp, nll.shape[0], "target_lengths")
    return (nll / Tensor._wrap(xp.maximum(tl, 1).astype(nll._data.dtype))).mean()
