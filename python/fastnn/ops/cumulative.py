"""Scans along one dim: cumsum, cumprod, cummax, cummin, logcumsumexp."""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, normalize_dim

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _scan_input(input, dim, dtype, name):
    """(tensor, array, axis, be): the input cast to ``dtype`` (or ints/bools to int64, as PyTorch's cumsum and
    cumprod), the dim normalised; a 0-d input scans as one element."""
    a = as_tensor(input, name)
    ax = normalize_dim(dim, a.ndim, name)
    x = a._data
    if dtype is not None:
        x = x.astype(dtypes.to_dtype(dtype).np)
    elif x.dtype.kind in "bi":
        x = x.astype(dtypes.int64.np)
    return a, x, ax, backend_of(x)


def _reverse_cumsum(xp, g, ax):
    return xp.flip(xp.flip(g, ax).cumsum(axis=ax), ax)


def _grad_dtype(g, src):
    # The gradient returns in the input's float dtype (a dtype= cast to float64 gives float64 back to float32).
    return g.astype(src, copy=False) if src.kind == "f" else g


def cumsum(input, dim, *, dtype=None) -> Tensor:  # noqa: A002
    a, x, ax, be = _scan_input(input, dim, dtype, "cumsum")
    xp = be.xp
    y = x.reshape(1).cumsum(0).reshape(()) if x.ndim == 0 else x.cumsum(axis=ax)
    src = a._data.dtype

    def backward(g):
        return (_grad_dtype(g if g.ndim == 0 else _reverse_cumsum(xp, g, ax), src),)

    return record(Tensor._wrap(y), "CumsumBackward0", (a,), backward)


def cumprod(input, dim, *, dtype=None) -> Tensor:  # noqa: A002
    """Cumulative product; its gradient is exact where the input has zeros (as PyTorch's cumprod_backward):
    before a slice's first zero it is reverse_cumsum(g * y) / x; at the first zero it is the reverse cumsum
    of g times the cumprod with that zero replaced by 1; after it, 0."""
    a, x, ax, be = _scan_input(input, dim, dtype, "cumprod")
    xp = be.xp
    if x.ndim == 0:
        return record(Tensor._wrap(x.copy()), "CumprodBackward0", (a,), lambda g: (g,))
    y = x.cumprod(axis=ax)
    src = a._data.dtype

    def backward(g):
        with be.errstate(all="ignore"):
            zero = x == 0
            zeros_seen = zero.cumsum(axis=ax)
            before = zeros_seen == 0
            grad = xp.where(before, _reverse_cumsum(xp, g * y, ax) / xp.where(before, x, 1), 0)
            first = zero & (zeros_seen == 1)
            if bool(first.any()):
                y1 = xp.where(first, 1, x).cumprod(axis=ax)
                # y1 at j >= the first zero is the product of the others up to j; before it the terms are
                # masked off by the where below, and after the second zero y1 is 0 anyway.
                y1 = xp.where(zeros_seen >= 1, y1, 0)
                grad = xp.where(first, _reverse_cumsum(xp, g * y1, ax), grad)
        return (_grad_dtype(grad.astype(g.dtype, copy=False), src),)

    return record(Tensor._wrap(y), "CumprodBackward0", (a,), backward)


def _scatter_add_last(xp, g, idx, n):
    """out[..., k] = sum of g[..., j] over j with idx[..., j] == k (a bincount over flattened rows)."""
    lead = g.shape[:-1]
    rows = 1
    for s in lead:
        rows *= s
    flat = (xp.arange(rows, dtype=idx.dtype).reshape(lead + (1,)) * n + idx).reshape(-1)
    out = xp.bincount(flat, weights=g.reshape(-1), minlength=rows * n)
    return out.reshape(g.shape).astype(g.dtype, copy=False)


def _cum_extreme(input, dim, name, accumulate):
    a = as_tensor(input, name)
    ax = normalize_dim(dim, a.ndim, name)
    x = a._data
    be = backend_of(x)
    xp = be.xp
    if x.ndim == 0:
        vals = record(Tensor._wrap(x.copy()), f"{name.capitalize()}Backward0", (a,), lambda g: (g,))
        return ValuesIndices(vals, Tensor._wrap(xp.zeros((), dtypes.int64.np)))
    xm = xp.moveaxis(x, ax, -1)
    n = xm.shape[-1]
    if x.dtype.kind == "b":
        run = accumulate(xp, xm.astype(dtypes.int64.np)).astype(bool)
    else:
        run = accumulate(xp, xm)
    # A position takes the index when it sets or ties the running extreme, or is NaN (PyTorch's rule: ties
    # move the index forward; once NaN is reached, only later NaNs do). Running max over marked positions.
    marked = (xm == run) if x.dtype.kind not in "fV" else ((xm == run) | xp.isnan(xm))
    pos = xp.broadcast_to(xp.arange(n, dtype=dtypes.int64.np), xm.shape)
    idx = xp.maximum.accumulate(xp.where(marked, pos, 0), axis=-1) if n else xp.zeros(xm.shape, dtypes.int64.np)
    values = xp.moveaxis(run, -1, ax)
    indices = xp.moveaxis(idx, -1, ax)

    def backward(g):
        gm = xp.moveaxis(g, ax, -1)
        return (xp.moveaxis(_scatter_add_last(xp, gm, idx, n), -1, ax),)

    out = record(Tensor._wrap(values), f"{name.capitalize()}Backward0", (a,), backward)
    return ValuesIndices(out, Tensor._wrap(indices))


def cummax(input, dim):  # noqa: A002
    """(values, indices): the running maximum along ``dim`` and where it was (last tie; NaN propagates)."""
    return _cum_extreme(input, dim, "cummax", lambda xp, v: xp.maximum.accumulate(v, axis=-1))


def cummin(input, dim):  # noqa: A002
    return _cum_extreme(input, dim, "cummin", lambda xp, v: xp.minimum.accumulate(v, axis=-1))


def _log_scan(xp, v, reverse: bool = False):
    """Inclusive log-add-exp scan along the last axis by recursive doubling (ceil(log2 n) steps of
    logaddexp, each stable; a shift by one global max would underflow elements far below it)."""
    if reverse:
        v = xp.flip(v, -1)
    n = v.shape[-1]
    shift = 1
    while shift < n:
        head = v[..., :shift]
        v = xp.concatenate([head, xp.logaddexp(v[..., shift:], v[..., :-shift])], axis=-1)
        shift *= 2
    return xp.flip(v, -1) if reverse else v


def logcumsumexp(input, dim) -> Tensor:  # noqa: A002
    a = as_tensor(input, "logcumsumexp")
    ax = normalize_dim(dim, a.ndim, "logcumsumexp")
    x = a._data
    if x.dtype.kind not in "fV":
        names = {"i": "Long", "b": "Bool"}
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{names[x.dtype.kind]}'")
    be = backend_of(x)
    xp = be.xp
    if x.ndim == 0:
        return record(Tensor._wrap(x.copy()), "LogcumsumexpBackward0", (a,), lambda g: (g,))
    xm = xp.moveaxis(x, ax, -1)
    with be.errstate(all="ignore"):
        ym = _log_scan(xp, xm)

    def backward(g):
        # grad_k = sum_{j >= k} g_j exp(x_k - y_j): positive and negative parts of g each as a reverse
        # log-scan of log|g_j| - y_j (every term is <= 0 in the exponent, so nothing overflows).
        gm = xp.moveaxis(g, ax, -1)
        with be.errstate(all="ignore"):
            pos = _log_scan(xp, xp.log(xp.where(gm > 0, gm, 0)) - ym, reverse=True)
            neg = _log_scan(xp, xp.log(xp.where(gm < 0, -gm, 0)) - ym, reverse=True)
            grad = xp.exp(xm + pos) - xp.exp(xm + neg)
            grad = xp.where(xp.isnan(grad) & ~xp.isnan(xm), 0, grad)  # -inf inputs: exp(-inf + ...) terms
        return (xp.moveaxis(grad.astype(g.dtype, copy=False), -1, ax),)

    return record(Tensor._wrap(xp.moveaxis(ym, -1, ax)), "LogcumsumexpBackward0", (a,), backward)
