"""Sorting and selection: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, quantile,
nanquantile, unique, unique_consecutive, multinomial.

Everything is ``be.xp.argsort`` / ``argpartition`` / ``take_along_axis``: no kernel of its own. The ops that
select values (sort, topk, kthvalue, median/mode along a dim) send the gradient back to the positions their
indices name, as PyTorch's ``value_selecting_reduction_backward``; the global median spreads it evenly over
tied elements, as PyTorch's ``evenly_distribute_backward``; quantile's flows through its interpolation.

Order conventions (PyTorch's): NaN sorts above every number (last ascending, first descending; topk's
largest); sorts are always stable here, which satisfies ``stable=False`` too (that promises no order on
ties). Where PyTorch's own kernel leaves the index of a tied value unspecified (topk, kthvalue, median),
the index returned is one holding that value.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import return_types
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, normalize_dim

_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


# ---- helpers ------------------------------------------------------------------------------------------------
def _int_arg(value, op: str, name: str, pos: int) -> int:
    if isinstance(value, Tensor) and value.ndim == 0 and not value.dtype.is_floating_point:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be int, not {type(value).__name__}")
    return int(value)


def _axis(a: Tensor, dim, op: str):
    """(x, ax): a's array with at least one dim (a 0-d tensor acts as one element) and ``dim`` normalised."""
    ax = normalize_dim(dim, a.ndim, op)
    x = a._data
    return (x.reshape(1) if a.ndim == 0 else x), ax


def _stable_argsort(xp, x, ax: int):
    """A stable argsort along ``ax``. NumPy needs ``kind="stable"``; CuPy's sort is always stable and
    refuses every ``kind`` but None."""
    try:
        return xp.argsort(x, axis=ax, kind="stable")
    except (TypeError, ValueError, NotImplementedError):
        return xp.argsort(x, axis=ax)


def _argsort(xp, x, ax: int, descending: bool):
    """Stable argsort along ``ax``; descending keeps ties in their original order too (as torch's stable
    sort): sorting the reversed array and reversing the answer puts NaN first and keeps ties in order."""
    if not descending:
        return _stable_argsort(xp, x, ax)
    n = x.shape[ax]
    flipped = _stable_argsort(xp, xp.flip(x, ax), ax)
    return (n - 1) - xp.flip(flipped, ax)


def _scatter_backward(xp, shape, idx, ax: int, input_shape):
    """The backward of values = take_along_axis(x, idx, ax) with distinct indices per line: the gradient
    written back where the values came from (idx keeps ``ax``; g may have it squeezed; x of ``shape`` is
    the input, of ``input_shape``, with a 0-d one as one element)."""
    def backward(g):
        out = xp.zeros(shape, g.dtype)
        xp.put_along_axis(out, idx, g.reshape(idx.shape), axis=ax)
        return (out.reshape(input_shape),)

    return backward


def _selected(a: Tensor, x, idx, ax: int, keepdim: bool, name: str, kind):
    """The values at ``idx`` (which keeps ``ax``) and the indices, as ``kind`` (a return type), shaped for
    ``keepdim`` and for a 0-d input, the values recording the scatter backward under ``name``."""
    xp = backend_of(x).xp
    vals = xp.take_along_axis(x, idx, axis=ax)
    out_shape = a.shape if a.ndim == 0 else (vals.shape if keepdim else vals.shape[:ax] + vals.shape[ax + 1:])
    values = Tensor._wrap(vals.reshape(out_shape))
    values = record(values, name, (a,), _scatter_backward(xp, x.shape, idx, ax, a.shape))
    return kind(values, Tensor._wrap(idx.reshape(out_shape).astype(np.int64, copy=False)))


def _check_nonempty_dim(x, ax: int, op: str) -> None:
    if x.shape[ax] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {ax} to have non-zero size.")


def _stable_flag(stable):
    if stable is not None and not isinstance(stable, (bool, np.bool_)):
        raise TypeError(f"sort(): argument 'stable' must be bool, not {type(stable).__name__}")
    return bool(stable)


# ---- sort -----------------------------------------------------------------------------------------------------
def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable=False):  # noqa: A002
    """(values, indices) of ``input`` sorted along ``dim``; ties keep their order (always stable)."""
    a = as_tensor(input, "sort")
    stable = _stable_flag(stable)
    x, ax = _axis(a, dim, "sort")
    be = backend_of(x)
    idx = _argsort(be.xp, x, ax, bool(descending))
    return _selected(a, x, idx, ax, True, "SortBackward1" if stable else "SortBackward0", return_types.sort)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable=False) -> Tensor:  # noqa: A002
    a = as_tensor(input, "argsort")
    _stable_flag(stable)
    x, ax = _axis(a, dim, "argsort")
    idx = _argsort(backend_of(x).xp, x, ax, bool(descending))
    return Tensor._wrap(idx.reshape(a.shape).astype(np.int64, copy=False))


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """``input`` sorted along its first dim (``sort(input, dim=0).values``)."""
    return sort(input, 0).values


# ---- topk / kthvalue ----------------------------------------------------------------------------------------
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices; ``sorted`` orders them
    (largest first, or smallest first). They come sorted either way: an unsorted order is unspecified."""
    a = as_tensor(input, "topk")
    k = _int_arg(k, "topk", "k", 2)
    x, ax = _axis(a, dim, "topk")
    n = x.shape[ax]
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if a.dtype.np == np.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    xp = backend_of(x).xp
    if a.ndim == 0:
        k = 1  # PyTorch returns a 0-d input itself for k = 0 too
    if 0 < k < n:
        # argpartition selects in O(n); only the k chosen are then sorted.
        part = xp.argpartition(x, n - k if largest else k - 1, axis=ax)
        chosen = xp.take(part, xp.arange(n - k, n) if largest else xp.arange(k), axis=ax)
        order = _argsort(xp, xp.take_along_axis(x, chosen, axis=ax), ax, bool(largest))
        idx = xp.take_along_axis(chosen, order, axis=ax)
    else:
        idx = _argsort(xp, x, ax, bool(largest))
        if k == 0:
            idx = xp.take(idx, xp.arange(0), axis=ax)
    return _selected(a, x, idx, ax, True, "TopkBackward0", return_types.topk)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """The ``k``-th smallest element (1-based) along ``dim`` and its index."""
    a = as_tensor(input, "kthvalue")
    k = _int_arg(k, "kthvalue", "k", 2)
    x, ax = _axis(a, dim, "kthvalue")
    _check_nonempty_dim(x, ax, "kthvalue")
    if not 1 <= k <= x.shape[ax]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {ax}")
    xp = backend_of(x).xp
    idx = xp.take(xp.argpartition(x, k - 1, axis=ax), xp.arange(k - 1, k), axis=ax)
    return _selected(a, x, idx, ax, keepdim, "KthvalueBackward0", return_types.kthvalue)


# ---- median / nanmedian / mode ------------------------------------------------------------------------------
def _median_positions(xp, x, ax: int, ignore_nan: bool):
    """For each line along ``ax``: the stable-sort order and the position in it of the (lower) median. A line
    holding NaN gives its first NaN (median), or the median of its numbers (nanmedian; an all-NaN line
    gives its first NaN)."""
    order = _stable_argsort(xp, x, ax)  # NaNs last, in their original order
    n = x.shape[ax]
    count = (~xp.isnan(x)).sum(axis=ax, keepdims=True) if x.dtype.kind in "fV" else xp.full(
        x.shape[:ax] + (1,) + x.shape[ax + 1:], n, np.int64)
    if ignore_nan:
        pos = xp.maximum((count - 1) // 2, 0)
    else:
        pos = xp.where(count < n, count, (n - 1) // 2)
    return order, pos.astype(np.int64)


def _global_median(a: Tensor, ignore_nan: bool, name: str) -> Tensor:
    x = a._data
    be = backend_of(x)
    xp = be.xp
    flat = x.reshape(-1)
    if flat.size == 0:
        y = xp.full((), np.nan, x.dtype) if x.dtype.kind in "fV" else xp.zeros((), x.dtype)
    else:
        order, pos = _median_positions(xp, flat, 0, ignore_nan)
        y = flat[order[pos[0]]]

    def backward(g):
        # Evenly over the elements equal to the median (all NaNs when it is NaN), as PyTorch.
        if x.dtype.kind in "fV" and bool(xp.isnan(y)):
            mask = xp.isnan(x)
        else:
            mask = x == y
        return ((mask * (g / mask.sum())).astype(g.dtype),)

    return record(Tensor._wrap(xp.asarray(y).reshape(())), name, (a,), backward)


def _dim_median(a: Tensor, dim, keepdim: bool, ignore_nan: bool, op: str, name: str, kind):
    x, ax = _axis(a, dim, op)
    _check_nonempty_dim(x, ax, op)
    xp = backend_of(x).xp
    order, pos = _median_positions(xp, x, ax, ignore_nan)
    idx = xp.take_along_axis(order, pos, axis=ax)
    return _selected(a, x, idx, ax, keepdim, name, kind)


def median(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A002
    """median() -> the lower median of all elements (NaN if any is NaN; no averaging, as PyTorch);
    median(dim) -> (values, indices) along ``dim``."""
    a = as_tensor(input, "median")
    if dim is None:
        return _global_median(a, False, "MedianBackward0")
    return _dim_median(a, dim, keepdim, False, "median", "MedianBackward1", return_types.median)


def nanmedian(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A002
    """median that ignores NaNs (NaN only where a line holds nothing else)."""
    a = as_tensor(input, "nanmedian")
    if dim is None:
        return _global_median(a, True, "NanmedianBackward0")
    return _dim_median(a, dim, keepdim, True, "nanmedian", "NanmedianBackward1", return_types.nanmedian)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):  # noqa: A002
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the index of its
    last occurrence, as PyTorch's CPU kernel."""
    a = as_tensor(input, "mode")
    x, ax = _axis(a, dim, "mode")
    _check_nonempty_dim(x, ax, "mode")
    xp = backend_of(x).xp
    order = _stable_argsort(xp, x, ax)
    s = xp.moveaxis(xp.take_along_axis(x, order, axis=ax), ax, -1)
    n = s.shape[-1]
    lines = s.reshape(-1, n)
    # A run ends where the next sorted value differs (NaN != NaN: each NaN is a run of its own); each run's
    # length is written at its end, so the first maximum of a line is its most frequent, smallest value and
    # its position in the stable order is that value's last occurrence.
    ends = xp.concatenate([lines[:, 1:] != lines[:, :-1], xp.ones((lines.shape[0], 1), bool)], axis=1)
    ends_flat = ends.reshape(-1)
    pos_ends = xp.flatnonzero(ends_flat)
    line_start = (pos_ends // n) * n
    prev_end = xp.concatenate([xp.full((1,), -1, pos_ends.dtype), pos_ends[:-1]])
    starts = xp.maximum(prev_end + 1, line_start)
    lengths = xp.zeros(ends_flat.shape, np.int64)
    lengths[pos_ends] = pos_ends - starts + 1
    best = lengths.reshape(lines.shape).argmax(axis=1)
    best = xp.moveaxis(best.reshape(s.shape[:-1] + (1,)), -1, ax)
    idx = xp.take_along_axis(order, best, axis=ax)
    return _selected(a, x, idx, ax, keepdim, "ModeBackward0", return_types.mode)


# ---- quantile / nanquantile ----------------------------------------------------------------------------------
def _lerp(xp, start, end, w):
    """PyTorch's lerp: start + w (end - start) below w = 0.5, end - (end - start)(1 - w) from it on."""
    return xp.where(w < 0.5, start + w * (end - start), end - (end - start) * (1 - w))


def _quantile(a, q, dim, keepdim, interpolation, ignore_nan: bool, name: str) -> Tensor:
    op = "quantile"  # PyTorch's nanquantile reports its errors as quantile() too
    scalar_q = not isinstance(q, Tensor)
    if scalar_q:
        if isinstance(q, bool) or not isinstance(q, numbers.Real):
            raise TypeError(f"{op}(): argument 'q' must be a float or a Tensor, not {type(q).__name__}")
        if not 0 <= q <= 1:
            raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
    if interpolation not in _QUANTILE_MODES:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, but "
                           f"got {interpolation}")
    if a.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if not scalar_q and q.ndim > 1:
        raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    x = a._data
    be = backend_of(x, None if scalar_q else q._data)
    xp = be.xp
    if scalar_q:
        qa = xp.full((1,), q, x.dtype)
    else:
        if q.dtype.np != x.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        qa = q._data.reshape(-1)
        if qa.size and not bool(((qa >= 0) & (qa <= 1)).all()):
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    # Lines (R, n) to reduce, and the output's shape without q's dim.
    if dim is None:
        lines, ax = x.reshape(1, -1), None
        out_shape = (1,) * a.ndim if keepdim else ()
    else:
        ax = normalize_dim(dim, a.ndim, op)
        xm = x.reshape(1) if a.ndim == 0 else xp.moveaxis(x, ax, -1)
        lines = xm.reshape(-1, xm.shape[-1])
        out_shape = (a.shape[:ax] + (1,) + a.shape[ax + 1:] if keepdim else a.shape[:ax] + a.shape[ax + 1:]) \
            if a.ndim else ()
    n = lines.shape[1]
    order = _stable_argsort(xp, lines, 1)
    srt = xp.take_along_axis(lines, order, axis=1)
    # Ranks in the input's dtype, as PyTorch computes them (q is a tensor of that dtype).
    isnan = xp.isnan(srt)
    if ignore_nan:
        ranks = qa[None, :] * ((~isnan).sum(axis=1, keepdims=True) - 1).astype(x.dtype)
        ranks = xp.maximum(ranks, 0)  # all-NaN line: rank 0, a NaN
    else:
        ranks = xp.where(isnan.any(axis=1, keepdims=True), x.dtype.type(n - 1), qa[None, :] * x.dtype.type(n - 1))
    ranks = ranks.astype(x.dtype, copy=False)
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)  # half to even, as torch.round
    below = ranks.astype(np.int64)
    vals = xp.take_along_axis(srt, below, axis=1)  # (R, K)
    parts = [(below, None)]
    if interpolation in ("linear", "midpoint"):
        w = xp.full(ranks.shape, 0.5, x.dtype) if interpolation == "midpoint" else (ranks - below).astype(x.dtype)
        above = xp.ceil(ranks).astype(np.int64)
        vals = _lerp(xp, vals, xp.take_along_axis(srt, above, axis=1), w).astype(x.dtype, copy=False)
        parts = [(below, 1 - w), (above, w)]
    k = qa.shape[0]
    y = xp.ascontiguousarray(vals.T).reshape((k,) + out_shape)
    if scalar_q or q.ndim == 0:
        y = y.reshape(out_shape)
    shape = x.shape

    def backward(g):
        gk = g.reshape(k, -1).T  # (R, K)
        cols = xp.arange(n)
        gs = xp.zeros(srt.shape, g.dtype)  # the gradient of the sorted lines
        for pos, weight in parts:
            contrib = gk if weight is None else gk * weight
            gs = gs + ((cols[None, None, :] == pos[:, :, None]) * contrib[:, :, None]).sum(axis=1)
        gl = xp.zeros(srt.shape, g.dtype)
        xp.put_along_axis(gl, order, gs, axis=1)
        if ax is None or len(shape) == 0:
            return (gl.reshape(shape),)
        moved = shape[:ax] + shape[ax + 1:] + (shape[ax],)
        return (xp.moveaxis(gl.reshape(moved), -1, ax),)

    return record(Tensor._wrap(y), name, (a,), backward)


def quantile(input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:  # noqa: A002
    """The ``q``-th quantiles (q a float, or a 0-/1-D tensor whose dim leads the result) of all elements or
    along ``dim``; NaN where a line holds NaN. ``interpolation``: linear, lower, higher, midpoint, nearest."""
    return _quantile(as_tensor(input, "quantile"), q, dim, keepdim, interpolation, False, "QuantileBackward0")


def nanquantile(input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:  # noqa: A002
    """quantile that ignores NaNs (NaN only where a line holds nothing else)."""
    return _quantile(as_tensor(input, "nanquantile"), q, dim, keepdim, interpolation, True, "NanquantileBackward0")


# ---- unique / unique_consecutive -----------------------------------------------------------------------------
def _not_differentiable(out: Tensor, a: Tensor, name: str, torch_name: str) -> Tensor:
    """PyTorch records unique's outputs in the graph, but its backward raises: so does this one."""
    def backward(g):
        raise NotImplementedError(f"the derivative for '{torch_name}' is not implemented.")

    return record(out, name, (a,), backward)


def _unique_result(a, values, inverse, counts, return_inverse, return_counts, name, torch_name):
    out = _not_differentiable(Tensor._wrap(values), a, name, torch_name)
    if not (return_inverse or return_counts):
        return out
    res = [out]
    if return_inverse:
        res.append(Tensor._wrap(inverse.astype(np.int64, copy=False)))
    if return_counts:
        res.append(Tensor._wrap(counts.astype(np.int64, copy=False)))
    return tuple(res)


def _check_unique_dim(x, ax: int) -> None:
    if x.size == 0 and x.shape[ax] != 0:
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim=None):
    """The distinct elements (or slices along ``dim``), in ascending order (``sorted=False`` promises no
    order, so the sorted one serves it), optionally with the inverse indices and the counts. NaNs are
    each distinct, as in PyTorch."""
    a = as_tensor(input, "unique")
    x = a._data
    xp = backend_of(x).xp
    if dim is None:
        flat = x.reshape(-1)
        kw = {"equal_nan": False} if flat.dtype.kind in "fV" else {}
        values, inverse, counts = xp.unique(flat, return_inverse=True, return_counts=True, **kw)
        inverse = inverse.reshape(a.shape)
        name, torch_name = "Unique2Backward0", "_unique2"
    else:
        ax = normalize_dim(dim, a.ndim, "unique")
        if a.ndim == 0:
            x = x.reshape(1)
        _check_unique_dim(x, ax)
        if x.shape[ax] == 0:
            values = x
            inverse = counts = xp.zeros((0,), np.int64)
        else:
            values, inverse, counts = xp.unique(x, return_inverse=True, return_counts=True, axis=ax)
            inverse = inverse.reshape(-1)
        name, torch_name = "UniqueDimBackward0", "unique_dim"
    return _unique_result(a, values, inverse, counts, return_inverse, return_counts, name, torch_name)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
                       dim=None):
    """Collapses each run of equal consecutive elements (or slices along ``dim``) into one."""
    a = as_tensor(input, "unique_consecutive")
    x = a._data
    xp = backend_of(x).xp
    if dim is None:
        lines = x.reshape(-1, 1)
        ax = None
    else:
        ax = normalize_dim(dim, a.ndim, "unique_consecutive")
        if a.ndim == 0:
            x = x.reshape(1)
        _check_unique_dim(x, ax)
        lines = xp.moveaxis(x, ax, 0).reshape(x.shape[ax], x.size // x.shape[ax] if x.shape[ax] else 0)
    n = lines.shape[0]
    # A new run starts where a line differs from the one before it (NaN differs from itself, as in torch).
    starts = xp.concatenate([xp.ones((min(n, 1),), bool), (lines[1:] != lines[:-1]).any(axis=1)])
    first = xp.flatnonzero(starts)
    counts = xp.diff(xp.concatenate([first, xp.full((1,), n, first.dtype)]))
    inverse = xp.cumsum(starts) - 1
    if ax is None:
        values = x.reshape(-1)[first]
        inverse = inverse.reshape(a.shape)
    else:
        values = xp.take(x, first, axis=ax)
    return _unique_result(a, values, inverse, counts, return_inverse, return_counts,
                          "UniqueConsecutiveBackward0", "unique_consecutive")


# ---- multinomial ----------------------------------------------------------------------------------------------
def _numpy_generator(generator, be):
    """The random stream for ``generator=``: the device's global one, or a Generator's own (any object
    carrying a NumPy-style generator as ``_gen``, as fastnn.Generator, of the input's device type)."""
    if generator is None:
        return be.generator()
    gen = getattr(generator, "_gen", None)
    if gen is None:
        raise TypeError(f"multinomial(): argument 'generator' must be torch.Generator, not "
                        f"{type(generator).__name__}")
    kind = getattr(generator, "device", be.device).type
    if kind != be.device.type:
        raise RuntimeError(f"Expected a '{be.device.type}' device type for generator but found '{kind}'")
    return gen


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:  # noqa: A002
    """``num_samples`` category indices per row of ``input`` (1-D or 2-D non-negative weights, not
    necessarily normalised), drawn with or without replacement. Without replacement a row's categories
    are ranked by weight / Exp(1) noise and the top ``num_samples`` taken (PyTorch's algorithm: the same
    distribution as drawing one at a time); zero-weight categories come only after every other one."""
    a = as_tensor(input, "multinomial")
    num_samples = _int_arg(num_samples, "multinomial", "num_samples", 2)
    if a.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{ {'int64': 'Long', 'bool': 'Bool'}.get(a.dtype.np.name, a.dtype.np.name)}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = a.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if n > 2 ** 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    x = a._data
    be = backend_of(x)
    xp = be.xp
    p = x.reshape(-1, n)
    rows = p.shape[0]
    out_shape = (num_samples,) if a.ndim == 1 else (rows, num_samples)
    gen = _numpy_generator(generator, be)
    if rows == 0:
        return Tensor._wrap(xp.zeros(out_shape, np.int64))
    no_mass = "invalid multinomial distribution (sum of probabilities <= 0)"
    if n == 0:
        raise RuntimeError(no_mass)
    if not replacement or num_samples == 1:
        if not bool(((p < np.inf) & (p >= 0)).all()):  # NaN fails both comparisons
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if bool((p.sum(axis=1) <= 0).any()):
            raise RuntimeError(no_mass)
        with be.errstate(divide="ignore", invalid="ignore"):
            keys = p / gen.standard_exponential(p.shape).astype(p.dtype)
        if num_samples == 1:
            idx = keys.argmax(axis=1)[:, None]
        else:
            part = xp.argpartition(keys, n - num_samples, axis=1)[:, n - num_samples:]
            order = _argsort(xp, xp.take_along_axis(keys, part, axis=1), 1, True)
            idx = xp.take_along_axis(part, order, axis=1)
    else:
        if not bool((p >= 0).all()):  # NaN fails this first, as in PyTorch's kernel
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
        if not bool(xp.isfinite(p).all()):
            raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity or NaN)")
        if bool((p.sum(axis=1) <= 0).any()):
            raise RuntimeError(no_mass)
        # Inverse CDF: each row's normalised CDF lifted by its row number makes one increasing array, so one
        # searchsorted serves every row. A draw past a row's last CDF value (rounding) takes its last
        # category of non-zero weight: a zero-weight category is never drawn.
        cdf = xp.cumsum(p.astype(np.float64), axis=1)
        cdf = cdf / cdf[:, -1:]
        lift = xp.arange(rows, dtype=np.float64)[:, None]
        u = gen.random((rows, num_samples))
        idx = xp.searchsorted((cdf + lift).reshape(-1), (u + lift).reshape(-1), side="right").reshape(rows, -1)
        idx = idx - xp.arange(rows)[:, None] * n
        last = (n - 1) - xp.flip(p > 0, 1).argmax(axis=1)
        idx = xp.minimum(idx, last[:, None])
    return Tensor._wrap(idx.astype(np.int64, copy=False).reshape(out_shape))
