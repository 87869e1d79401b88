"""Shared helpers for the op tests: a strict closeness check that explains its failures, and a float64
finite-difference gradient check that builds its own inputs."""
from __future__ import annotations

import numpy as np

import fastnn
from fastnn.autograd import gradcheck

# Per-dtype defaults: float32 ops are compared against float64 NumPy references, so a few ulps of
# accumulated rounding (~1e-6 relative) must pass while a wrong formula (errors ~1e-2 and up) cannot.
_DEFAULT_TOL = {
    np.dtype(np.float32): (1e-5, 1e-5),
    np.dtype(np.float64): (1e-12, 1e-10),
}


def to_numpy(x) -> np.ndarray:
    """x (Tensor, array, scalar) as a NumPy array, detached from any graph."""
    if isinstance(x, fastnn.Tensor):
        return np.asarray(x.detach())
    return np.asarray(x)


def assert_close(actual, expected, atol: float | None = None, rtol: float | None = None, *,
                 check_dtype: bool = False, msg: str = "") -> None:
    """Asserts |actual - expected| <= atol + rtol * |expected| element-wise (NaNs must sit in the same places,
    infinities must match exactly). On failure the message gives the max abs error, the max rel error and the
    number of mismatches. Without atol/rtol the tolerance follows actual's dtype (exact for ints and bools)."""
    a = to_numpy(actual)
    e = to_numpy(expected)
    head = f"{msg}: " if msg else ""
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(f"{head}dtype mismatch: actual {a.dtype}, expected {e.dtype}")
    if a.shape != e.shape:
        raise AssertionError(f"{head}shape mismatch: actual {a.shape}, expected {e.shape}")
    if atol is None or rtol is None:
        d_atol, d_rtol = _DEFAULT_TOL.get(a.dtype, (0.0, 0.0))
        atol = d_atol if atol is None else atol
        rtol = d_rtol if rtol is None else rtol
    if a.size == 0:
        return
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":  # integers compare exactly (float64 drops bits > 2**53)
        bad = a.astype(np.int64) != e.astype(np.int64)
        if np.any(bad):
            raise AssertionError(f"{head}{int(bad.sum())} of {bad.size} integer elements differ; first at "
                                 f"{tuple(int(i) for i in np.argwhere(bad)[0])}: actual {a[bad][0]!r}, "
                                 f"expected {e[bad][0]!r}")
        return
    a64 = a.astype(np.float64)
    e64 = e.astype(np.float64)
    nan_a, nan_e = np.isnan(a64), np.isnan(e64)
    inf_mismatch = (np.isinf(a64) | np.isinf(e64)) & (a64 != e64)
    finite = ~(nan_a | nan_e) & ~(np.isinf(a64) | np.isinf(e64))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(finite, np.abs(a64 - e64), 0.0)
        bad = (nan_a != nan_e) | inf_mismatch | (err > atol + rtol * np.abs(np.where(finite, e64, 0.0)))
        if np.any(bad):
            rel = np.where(finite & (e64 != 0), err / np.abs(np.where(e64 == 0, 1.0, e64)),
                           np.where(err > 0, np.inf, 0.0))
            raise AssertionError(
                f"{head}{int(bad.sum())} of {bad.size} elements differ (atol={atol:g}, rtol={rtol:g}): "
                f"max abs error {err.max():.3g}, max rel error {rel.max():.3g}, "
                f"NaN mismatches {int((nan_a != nan_e).sum())}, inf mismatches {int(inf_mismatch.sum())}\n"
                f"first bad index {tuple(int(i) for i in np.argwhere(bad)[0])}: "
                f"actual {a64[bad][0]!r}, expected {e64[bad][0]!r}")


def make_input(spec, rng: np.random.Generator, *, low: float = -2.0, high: float = 2.0):
    """A float64 leaf that requires grad, from a shape (uniform in [low, high)), an array or a Tensor.
    Integer and bool Tensors pass through untouched (they are indices or masks, not differentiable)."""
    if isinstance(spec, fastnn.Tensor):
        if not spec.dtype.is_floating_point:
            return spec
        arr = np.asarray(spec.detach(), dtype=np.float64)
    elif isinstance(spec, (np.ndarray, np.generic)):
        spec = np.asarray(spec)
        if spec.dtype.kind not in "f":
            return fastnn.tensor(spec)
        arr = spec.astype(np.float64)
    else:
        arr = rng.uniform(low, high, size=tuple(spec))
    return fastnn.tensor(np.ascontiguousarray(arr), dtype=fastnn.float64, requires_grad=True)


def gradcheck_op(fn, *shapes_or_tensors, seed: int = 0, low: float = -2.0, high: float = 2.0,
                 eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3):
    """Runs fastnn.autograd.gradcheck on fn over float64 inputs built from shapes (random in [low, high)),
    arrays or tensors; returns the inputs so a test can inspect them. Raises GradcheckError on a mismatch."""
    rng = np.random.default_rng(seed)
    inputs = tuple(make_input(s, rng, low=low, high=high) for s in shapes_or_tensors)
    assert gradcheck(fn, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=True)
    return inputs


def away_from(values: np.ndarray, points, margin: float = 0.1) -> np.ndarray:
    """values nudged so that none lies within ``margin`` of any of ``points`` (kinks of relu, abs, clamp ...)."""
    out = np.array(values, dtype=np.float64, copy=True)
    for p in points:
        d = out - p
        near = np.abs(d) < margin
        out[near] = p + np.where(d[near] >= 0, margin, -margin)
    return out


def distinct_values(shape, rng: np.random.Generator, scale: float = 1.0, gap: float = 0.05) -> np.ndarray:
    """float64 values of ``shape`` whose pairwise gaps are at least ``gap`` (no ties for max/min/sort)."""
    n = int(np.prod(shape)) if len(shape) else 1
    vals = (np.arange(n) - n / 2) * gap * scale
    return rng.permutation(vals).reshape(shape)


def noncontiguous(arr: np.ndarray, kind: str = "transpose"):
    """A non-contiguous fastnn tensor with arr's values: a transposed or step-sliced view sharing storage
    with a larger (or permuted) buffer."""
    arr = np.asarray(arr)
    if kind == "transpose":
        base = np.ascontiguousarray(np.swapaxes(arr, -1, -2)) if arr.ndim >= 2 else arr.copy()
        t = fastnn.from_numpy(base)
        return t.transpose(-1, -2) if arr.ndim >= 2 else t
    if kind == "step":
        big = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],) if arr.ndim else (), arr.dtype)
        if arr.ndim:
            big[..., ::2] = arr
            return fastnn.from_numpy(big)[..., ::2]
        return fastnn.from_numpy(arr.copy())
    raise ValueError(kind)


def run_both(fn_t, fn_f):
    """Runs torch's call and fastnn's; returns (torch result, fastnn result), or checks both raise the same
    exception type with the same first line of message (and returns (None, None))."""
    import pytest

    try:
        t = fn_t()
    except Exception as e:
        with pytest.raises(type(e)) as info:
            fn_f()
        assert str(info.value).split("\n")[0] == str(e).split("\n")[0]
        return None, None
    return t, fn_f()
