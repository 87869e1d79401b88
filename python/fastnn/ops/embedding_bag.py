"""embedding_bag: the sum, mean or max of the embedding rows of each bag, without materialising a
(bags, indices) matrix.

Bags are contiguous runs of the flat index list (``offsets`` gives their starts; a 2-D input is one bag per
row). Each index gets its bag number; sums and means scatter-add the rows into their bag (``xp.add.at``),
max keeps, per bag and column, the first row reaching the maximum, so the backward routes the gradient to
that row alone (torch's rule). Indices equal to ``padding_idx`` take no part: they add nothing, do not count
in a mean, and get no gradient; an empty bag gives zeros.
"""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .embedding import _normalize_padding_idx, _renorm_


def _bags(xp, idx, offsets, include_last_offset: bool):
    """(flat indices, bag id per index, number of bags)."""
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences. However, found offsets of type Tensor")
        b, n = idx.shape
        return idx.reshape(-1), xp.repeat(xp.arange(b), n), b
    if idx.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    off = offsets._data if isinstance(offsets, Tensor) else xp.asarray(offsets)
    if off.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    if off.dtype.kind not in "iu":
        raise RuntimeError("embedding_bag: expected offsets to be an integer tensor (Long or Int)")
    if off.size and int(off[0]) != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                           f"position 0. However, got {int(off[0])}")
    if off.size and int(off[-1]) > idx.size:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length ({idx.size}), but got "
                           f"offsets[-1] of {int(off[-1])}")
    if off.size > 1 and bool((off[1:] < off[:-1]).any()):
        raise RuntimeError("embedding_bag: offsets must be non-decreasing")
    starts = off[:-1] if include_last_offset and off.size else off
    nbags = int(starts.size)
    # bag of index k: the number of starts <= k, minus one.
    bag = xp.searchsorted(starts, xp.arange(idx.size), side="right") - 1
    return idx, bag, nbags


def _segment_sum(xp, values, seg, nseg: int):
    """Row sums of ``values`` per segment id ``seg`` (non-decreasing), as an (nseg, ...) array: one
    reduceat over the runs. ``xp.add.at`` does the same scatter element by element, ~100x slower."""
    out = xp.zeros((nseg,) + values.shape[1:], values.dtype)
    if values.shape[0] == 0:
        return out
    if not hasattr(xp.add, "reduceat"):  # an array module without reduceat scatters instead
        xp.add.at(out, seg, values)
        return out
    n = values.shape[0]
    first = xp.flatnonzero(xp.concatenate([xp.ones(1, bool), seg[1:] != seg[:-1]]))
    lens = xp.diff(xp.concatenate([first, xp.asarray([n])]))
    runs, longest = int(first.size), int(lens.max())
    if runs * longest == n:  # equal runs (2-D input, fixed-size bags): a reshape and one sum
        sums = values.reshape((runs, longest) + values.shape[1:]).sum(axis=1)
    elif runs * longest <= 4 * n:
        # Runs padded to the longest in a zeroed (runs, longest, ...) buffer, then one contiguous sum: NumPy's
        # reduceat over rows is ~5x slower. Bounded blow-up only: skewed runs take reduceat.
        pos = xp.arange(n) - xp.repeat(first, lens)
        buf = xp.zeros((runs, longest) + values.shape[1:], values.dtype)
        buf[xp.repeat(xp.arange(runs), lens), pos] = values
        sums = buf.sum(axis=1)
    else:
        sums = xp.add.reduceat(values, first, axis=0)
    out[seg[first]] = sums
    return out


def _scatter_rows(xp, idx, values, nrows: int):
    """Row sums of ``values`` into rows ``idx`` (any order): sorted once, then segment sums."""
    order = xp.argsort(idx, kind="stable")
    return _segment_sum(xp, values[order], idx[order], nrows)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type: float = 2, scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False, per_sample_weights=None, include_last_offset: bool = False,
                  padding_idx=None) -> Tensor:
    w = as_tensor(weight, "embedding_bag")
    inp = as_tensor(input, "embedding_bag")
    if w.ndim != 2:
        raise RuntimeError(f"embedding_bag(): 'weight' must be 2-D, got {w.ndim}-D")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if sparse:
        raise NotImplementedError("embedding_bag(): sparse=True (sparse gradients) is not supported; use sparse=False")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    idx_all = inp._data
    if idx_all.dtype.kind not in "iu":
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {inp.dtype} instead (while checking arguments for embedding_bag)")
    rows, dim = w.shape
    padding_idx = _normalize_padding_idx(padding_idx, rows)
    be = backend_of(w._data, idx_all)
    xp = be.xp
    psw = None
    if per_sample_weights is not None:
        psw = as_tensor(per_sample_weights, "embedding_bag")
        if tuple(psw.shape) != tuple(inp.shape):
            raise ValueError(f"per_sample_weights has to be of the same shape as input, but got "
                             f"{list(psw.shape)} and {list(inp.shape)}")
    idx, bag, nbags = _bags(xp, idx_all, offsets, include_last_offset)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= rows):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_(w, idx, float(max_norm), float(norm_type), xp)
    wd = w._data
    live = xp.ones(idx.shape, bool) if padding_idx is None else idx != padding_idx
    vals = wd[idx]  # (N, dim)
    psw_flat = None if psw is None else psw._data.reshape(-1).astype(wd.dtype, copy=False)
    counts = xp.bincount(bag[live], minlength=nbags).astype(np.int64, copy=False)
    if mode in ("sum", "mean"):
        contrib = vals if psw_flat is None else vals * psw_flat[:, None]
        if padding_idx is not None:  # (without padding every row counts: no mask pass)
            contrib = contrib * live[:, None]
        out = _segment_sum(xp, contrib, bag, nbags)
        if mode == "mean":
            scale = xp.where(counts > 0, 1.0 / xp.maximum(counts, 1), 0.0).astype(wd.dtype)
            out = out * scale[:, None]
        arg = None
    else:
        neg = xp.full((nbags, dim), -xp.inf, wd.dtype)
        masked = xp.where(live[:, None], vals, -xp.inf)
        xp.maximum.at(neg, bag, masked)
        # the first contributing position reaching each (bag, column) maximum
        pos = xp.arange(idx.size)[:, None]
        cand = xp.where(live[:, None] & (masked == neg[bag]), pos, idx.size)
        first = xp.full((nbags, dim), idx.size, np.int64)
        xp.minimum.at(first, bag, cand)
        empty = first == idx.size
        out = xp.where(empty, wd.dtype.type(0), neg).astype(wd.dtype, copy=False)
        arg = (first, empty)

    def backward(g):
        gw = None
        if w._requires_grad:
            gw = xp.zeros((rows, dim), g.dtype)
            freq = None
            if scale_grad_by_freq:
                freq = xp.bincount(idx, minlength=rows).astype(g.dtype)
            if mode == "max":
                first, empty = arg
                b_ix, c_ix = xp.nonzero(~empty)
                src_rows = idx[first[b_ix, c_ix]]
                gv = g[b_ix, c_ix]
                if freq is not None:
                    gv = gv / freq[src_rows]
                xp.add.at(gw, (src_rows, c_ix), gv)
            else:
                gb = g[bag]  # (N, dim)
                if mode == "mean":
                    gb = gb * scale[bag][:, None]
                if psw_flat is not None:
                    gb = gb * psw_flat[:, None]
                if padding_idx is not None:
                    gb = gb * live[:, None]
                if freq is not None:
                    gb = gb / freq[idx][:, None]
                gw = _scatter_rows(xp, idx, gb, rows)
            if padding_idx is not None:
                gw[padding_idx] = 0
        gp = None
        if psw is not None and psw._requires_grad:
            gp = ((g[bag] * vals).sum(axis=1) * live).reshape(psw.shape).astype(psw._data.dtype, copy=False)
        return gw, gp

    return record(Tensor._wrap(out), "EmbeddingBagBackward0", (w, psw), backward)
