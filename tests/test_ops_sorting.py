"""Sorting and selection ops against torch: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode,
quantile, nanquantile, unique, unique_consecutive, multinomial, and the named-tuple return types.

Ties: where torch's kernel leaves the index of a tied value unspecified (unstable sort, topk, kthvalue,
median), indices are compared exactly only on distinct values; with ties the values must match and each
index must point at an element equal to its value."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import fastnn
from fastnn.autograd import gradcheck
from op_helpers import assert_close, distinct_values, gradcheck_op, noncontiguous

SHAPES = [(7,), (3, 5), (2, 3, 4), (1,), (), (0, 3), (4, 0)]
NAN = float("nan")


def _pair(arr):
    return fastnn.tensor(arr), torch.tensor(arr)


def _dims(shape):
    return list(range(-len(shape), len(shape))) or [0]


def _data(shape, rng, ties: bool, dtype=np.float64):
    if ties:
        return rng.integers(0, 3, shape).astype(dtype)
    return distinct_values(shape, rng).astype(dtype)


def _check_indices_point_at_values(x, dim, vals, idx):
    """Every index names an element (along dim) equal to its value (x a numpy array, 0-d allowed)."""
    x1 = x.reshape(1) if x.ndim == 0 else x
    v, i = np.asarray(vals), np.asarray(idx)
    v1, i1 = (v.reshape(1), i.reshape(1)) if x.ndim == 0 else (v, i)
    if i1.ndim < x1.ndim:  # keepdim=False
        v1, i1 = np.expand_dims(v1, dim), np.expand_dims(i1, dim)
    got = np.take_along_axis(x1, i1, axis=dim)
    np.testing.assert_array_equal(got, v1)


# ---- sort / argsort / msort ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_sort_matches_torch(shape, ties):
    rng = np.random.default_rng(0)
    x = _data(shape, rng, ties)
    a, t = _pair(x)
    for dim in _dims(shape):
        for descending in (False, True):
            for stable in (False, True):
                got = fastnn.sort(a, dim, descending, stable=stable)
                want = torch.sort(t, dim=dim, descending=descending, stable=stable)
                assert isinstance(got, fastnn.return_types.sort) and isinstance(got, tuple)
                assert_close(got.values, want.values.numpy(), check_dtype=True)
                assert got.indices.dtype == fastnn.int64 and got.indices.shape == tuple(want.indices.shape)
                if stable or not ties:  # a stable sort fixes the index order of ties
                    assert_close(got.indices, want.indices.numpy())
                else:
                    _check_indices_point_at_values(x, dim if x.ndim else 0, got.values, got.indices)
                assert_close(fastnn.argsort(a, dim, descending, stable=True),
                             torch.argsort(t, dim=dim, descending=descending, stable=True).numpy())


def test_sort_nan_int_bool_and_noncontiguous():
    x = np.array([[1.0, NAN, -0.5, 3.0, NAN], [2.0, 2.0, NAN, -1.0, 0.0]])
    a, t = _pair(x)
    for desc in (False, True):
        got, want = a.sort(descending=desc, stable=True), t.sort(descending=desc, stable=True)
        assert_close(got.values, want.values.numpy())
        assert_close(got.indices, want.indices.numpy())
    for arr in (np.array([3, -1, 2, 2, 7]), np.array([True, False, True, False])):
        a, t = _pair(arr)
        for desc in (False, True):
            got, want = a.sort(descending=desc, stable=True), t.sort(descending=desc, stable=True)
            assert_close(got.values, want.values.numpy(), check_dtype=True)
            assert_close(got.indices, want.indices.numpy())
    base = distinct_values((4, 6), np.random.default_rng(1))
    for kind in ("transpose", "step"):
        nc = noncontiguous(base, kind)
        want = torch.sort(torch.tensor(np.asarray(nc)), dim=0, descending=True)
        got = nc.sort(0, True)
        assert_close(got.values, want.values.numpy())
        assert_close(got.indices, want.indices.numpy())
    m = np.array([[2.0, 1.0, 5.0], [1.0, 3.0, 0.0]])
    assert_close(fastnn.msort(fastnn.tensor(m)), torch.msort(torch.tensor(m)).numpy())
    assert_close(fastnn.tensor(m).msort(), np.sort(m, axis=0))


def test_sort_errors():
    a = fastnn.tensor([1.0, 2.0])
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.sort(1)
    with pytest.raises(TypeError, match="stable"):
        a.sort(stable="yes")


# ---- topk / kthvalue -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_topk_matches_torch(shape, ties):
    rng = np.random.default_rng(2)
    x = _data(shape, rng, ties)
    a, t = _pair(x)
    for dim in _dims(shape):
        n = x.shape[dim] if x.ndim else 1
        for k in sorted({0, min(1, n), n // 2, n}):
            for largest in (True, False):
                got = fastnn.topk(a, k, dim, largest)
                want = torch.topk(t, k, dim=dim, largest=largest)
                assert isinstance(got, fastnn.return_types.topk)
                assert_close(got.values, want.values.numpy(), check_dtype=True)
                if ties:
                    _check_indices_point_at_values(x, dim if x.ndim else 0, got.values, got.indices)
                else:
                    assert_close(got.indices, want.indices.numpy())


def test_topk_nan_errors_and_method():
    a, t = _pair(np.array([1.0, NAN, 3.0, -2.0]))
    for largest in (True, False):
        assert_close(a.topk(2, largest=largest).values, torch.topk(t, 2, largest=largest).values.numpy())
        assert_close(a.topk(2, largest=largest).indices, torch.topk(t, 2, largest=largest).indices.numpy())
    assert_close(a.topk(2, sorted=False).values, [NAN, 3.0])
    for k in (5, -1):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            a.topk(k)
    with pytest.raises(TypeError, match="argument 'k'"):
        fastnn.topk(a, 2.0)
    with pytest.raises(RuntimeError, match="bool"):
        fastnn.topk(fastnn.tensor([True, False]), 1)
    nc = noncontiguous(distinct_values((5, 3), np.random.default_rng(3)), "transpose")
    want = torch.topk(torch.tensor(np.asarray(nc)), 2, dim=1)
    assert_close(nc.topk(2, 1).indices, want.indices.numpy())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_kthvalue_matches_torch(shape, ties):
    rng = np.random.default_rng(4)
    x = _data(shape, rng, ties)
    a, t = _pair(x)
    for dim in _dims(shape):
        n = x.shape[dim] if x.ndim else 1
        if n == 0:
            with pytest.raises(IndexError, match="kthvalue\\(\\): Expected reduction dim"):
                a.kthvalue(1, dim)
            continue
        for k in sorted({1, (n + 1) // 2, n}):
            for keepdim in (False, True):
                got = fastnn.kthvalue(a, k, dim, keepdim)
                want = torch.kthvalue(t, k, dim=dim, keepdim=keepdim)
                assert isinstance(got, fastnn.return_types.kthvalue)
                assert_close(got.values, want.values.numpy(), check_dtype=True)
                if ties:
                    _check_indices_point_at_values(x, dim if x.ndim else 0, got.values, got.indices)
                else:
                    assert_close(got.indices, want.indices.numpy())
    if x.ndim and x.shape[-1]:
        with pytest.raises(RuntimeError, match="kthvalue\\(\\): selected number k out of range for dimension"):
            a.kthvalue(x.shape[-1] + 1)
        with pytest.raises(RuntimeError, match="selected number k out of range"):
            a.kthvalue(0)


# ---- median / nanmedian / mode ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
def test_median_nanmedian_match_torch(shape, ties):
    rng = np.random.default_rng(5)
    x = _data(shape, rng, ties)
    if x.size > 2:
        x.reshape(-1)[[0, x.size // 2]] = NAN  # some lines get NaNs
    a, t = _pair(x)
    for name in ("median", "nanmedian"):
        ours, theirs = getattr(fastnn, name), getattr(torch, name)
        assert_close(ours(a), theirs(t).numpy(), check_dtype=True)
        for dim in _dims(shape):
            n = x.shape[dim] if x.ndim else 1
            if n == 0:
                with pytest.raises(IndexError, match=f"{name}\\(\\): Expected reduction dim"):
                    ours(a, dim)
                continue
            for keepdim in (False, True):
                got, want = ours(a, dim, keepdim), theirs(t, dim=dim, keepdim=keepdim)
                assert type(got).__name__ == name
                assert_close(got.values, want.values.numpy(), check_dtype=True)
                if ties:
                    ix = np.asarray(got.indices)
                    xx = np.where(np.isnan(x), -1e300, x)  # NaN != NaN: compare through a sentinel
                    vv = np.where(np.isnan(np.asarray(got.values)), -1e300, np.asarray(got.values))
                    _check_indices_point_at_values(xx, dim if x.ndim else 0, vv, ix)
                else:
                    assert_close(got.indices, want.indices.numpy())


def test_median_is_lower_and_int():
    a, t = _pair(np.array([4, 1, 3, 2]))
    assert fastnn.median(a).item() == torch.median(t).item() == 2
    assert fastnn.median(a).dtype == fastnn.int64
    assert np.isnan(fastnn.median(fastnn.tensor([])).item())


@pytest.mark.parametrize("shape", SHAPES)
def test_mode_matches_torch(shape):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 4, shape)
    for arr in (x, x.astype(np.float32)):
        a, t = _pair(arr)
        for dim in _dims(shape):
            n = arr.shape[dim] if arr.ndim else 1
            if n == 0:
                with pytest.raises(IndexError, match="mode\\(\\): Expected reduction dim"):
                    a.mode(dim)
                continue
            for keepdim in (False, True):
                got, want = fastnn.mode(a, dim, keepdim), torch.mode(t, dim=dim, keepdim=keepdim)
                assert isinstance(got, fastnn.return_types.mode)
                assert_close(got.values, want.values.numpy(), check_dtype=True)
                assert_close(got.indices, want.indices.numpy())  # the last occurrence, as torch's CPU kernel
    a, t = _pair(np.array([1.0, NAN, NAN]))
    assert_close(a.mode().values, t.mode().values.numpy())


# ---- quantile / nanquantile ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quantile_matches_torch(name, dtype):
    rng = np.random.default_rng(7)
    ours, theirs = getattr(fastnn, name), getattr(torch, name)
    for shape in [(7,), (3, 5), (2, 3, 4), (1,), ()]:
        x = rng.standard_normal(shape).astype(dtype)
        if x.size > 3:
            x.reshape(-1)[1] = NAN
        a, t = _pair(x)
        qs = [0.0, 0.3, 0.5, 1.0, np.array([0.25, 0.5, 0.9], dtype), np.array(0.4, dtype)]
        for q in qs:
            qa, qt = (fastnn.tensor(q), torch.tensor(q)) if isinstance(q, np.ndarray) else (q, q)
            for dim in [None] + _dims(shape):
                for keepdim in (False, True):
                    for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
                        got = ours(a, qa, dim, keepdim, interpolation=mode)
                        want = theirs(t, qt, dim=dim, keepdim=keepdim, interpolation=mode)
                        assert_close(got, want.numpy(), check_dtype=True, msg=f"{shape} {q} {dim} {mode}")


def test_quantile_backward_matches_torch():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 6))
    x[0, 2] = x[0, 4]  # a tie
    for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
        for q, dim in ((0.3, 1), (np.array([0.1, 0.5, 0.75]), 0), (0.6, None)):
            a = fastnn.tensor(x, requires_grad=True)
            t = torch.tensor(x, requires_grad=True)
            qa, qt = (fastnn.tensor(q), torch.tensor(q)) if isinstance(q, np.ndarray) else (q, q)
            fastnn.quantile(a, qa, dim, interpolation=mode).sum().backward()
            torch.quantile(t, qt, dim=dim, interpolation=mode).sum().backward()
            assert_close(a.grad, t.grad.numpy(), msg=mode)


def test_quantile_errors():
    a = fastnn.tensor([3.0, 1.0, 2.0])
    cases = [
        (lambda: a.quantile(1.5), "quantile\\(\\) q must be in the range \\[0, 1\\] but got 1.5"),
        (lambda: a.quantile(fastnn.tensor([1.5])), "q values must be in the range"),
        (lambda: a.quantile(0.5, interpolation="cubic"), "interpolation must be one of linear"),
        (lambda: a.quantile(fastnn.tensor([[0.5]])), "q must be a scalar or 1D tensor"),
        (lambda: a.quantile(fastnn.tensor([0.5], dtype=fastnn.float64)), "same dtype as the input"),
        (lambda: fastnn.tensor([]).quantile(0.5), "input tensor must be non-empty"),
        (lambda: fastnn.tensor([1, 2]).nanquantile(0.5), "either float or double"),
    ]
    for fn, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            fn()
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.quantile(0.5, dim=1)


# ---- gradients -------------------------------------------------------------------------------------------------
def test_gradcheck_selection_ops():
    rng = np.random.default_rng(9)
    x = distinct_values((3, 5), rng)
    y = distinct_values((2, 3, 4), rng)
    gradcheck_op(lambda t: t.sort(1, descending=True).values, x)
    gradcheck_op(lambda t: t.sort(0).values, y)
    gradcheck_op(lambda t: fastnn.msort(t), x)
    gradcheck_op(lambda t: t.topk(3, 1).values, x)
    gradcheck_op(lambda t: t.topk(2, 0, largest=False).values, x)
    gradcheck_op(lambda t: t.kthvalue(2, 1).values, y)
    gradcheck_op(lambda t: t.median(), x)
    gradcheck_op(lambda t: t.median(1, keepdim=True).values, y)
    gradcheck_op(lambda t: t.nanmedian(0).values, x)
    gradcheck_op(lambda t: t.nanmedian(), y)
    # Each value once: the mode is a line's smallest (a tie between equal counts breaks under any nudge).
    gradcheck_op(lambda t: t.mode(1).values, x)
    gradcheck_op(lambda t: t.sort().values, fastnn.tensor(np.array(1.5)))
    for mode in ("linear", "lower", "higher", "midpoint", "nearest"):
        gradcheck_op(lambda t, m=mode: t.quantile(fastnn.tensor([0.2, 0.7], dtype=fastnn.float64), 1,
                                                     interpolation=m), x)
        gradcheck_op(lambda t, m=mode: t.nanquantile(0.35, interpolation=m), y)


def test_gradients_scatter_to_selected_positions_like_torch():
    rng = np.random.default_rng(10)
    x = rng.integers(0, 3, (4, 6)).astype(np.float64)  # ties everywhere
    g = rng.standard_normal((4, 6))
    for fn in (lambda m, t: m.sort(t, dim=1, stable=True).values,
               lambda m, t: m.median(t),  # evenly over the tied medians
               lambda m, t: m.nanmedian(t),
               lambda m, t: m.mode(t, 1).values):
        a = fastnn.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        out_a, out_t = fn(fastnn, a), fn(torch, t)
        ga = g.reshape(-1)[:out_t.numel()].reshape(tuple(out_t.shape))
        out_a.backward(fastnn.tensor(ga))
        out_t.backward(torch.tensor(ga))
        assert_close(a.grad, t.grad.numpy())
    assert fastnn.tensor(x, requires_grad=True).sort().values.grad_fn.name == "SortBackward0"


# ---- unique / unique_consecutive ---------------------------------------------------------------------------------
def _compare_tuples(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g, w.detach().numpy(), check_dtype=True)


@pytest.mark.parametrize("shape", [(9,), (4, 3), (2, 3, 2), (1,), (), (0,), (0, 3)])
def test_unique_matches_torch(shape):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 3, shape)
    for arr in (x, x.astype(np.float32), x > 0):
        a, t = _pair(arr)
        for inv in (False, True):
            for cnt in (False, True):
                _compare_tuples(fastnn.unique(a, return_inverse=inv, return_counts=cnt),
                                torch.unique(t, return_inverse=inv, return_counts=cnt))
                _compare_tuples(a.unique_consecutive(return_inverse=inv, return_counts=cnt),
                                torch.unique_consecutive(t, return_inverse=inv, return_counts=cnt))
                for dim in (_dims(shape) if arr.ndim else []):
                    if arr.size == 0 and arr.shape[dim] != 0:
                        with pytest.raises(RuntimeError, match="0 sized dimensions"):
                            fastnn.unique(a, dim=dim)
                        continue
                    _compare_tuples(fastnn.unique(a, return_inverse=inv, return_counts=cnt, dim=dim),
                                    torch.unique(t, return_inverse=inv, return_counts=cnt, dim=dim))
                    _compare_tuples(fastnn.unique_consecutive(a, inv, cnt, dim=dim),
                                    torch.unique_consecutive(t, return_inverse=inv, return_counts=cnt, dim=dim))


def test_unique_nan_and_backward_refused():
    a, t = _pair(np.array([1.0, NAN, NAN, 1.0]))
    _compare_tuples(a.unique(return_counts=True), torch.unique(t, return_counts=True))
    _compare_tuples(a.unique_consecutive(return_counts=True), torch.unique_consecutive(t, return_counts=True))
    r = fastnn.tensor([3.0, 1.0, 3.0], requires_grad=True)
    out = r.unique()
    assert out.requires_grad and out.grad_fn.name == "Unique2Backward0"
    with pytest.raises(NotImplementedError, match="derivative for '_unique2' is not implemented"):
        out.sum().backward()


# ---- multinomial ---------------------------------------------------------------------------------------------
def test_multinomial_errors_match_torch():
    cases = [
        ([0.1, 0.0, 0.9], 4, False), ([-1.0, 2.0], 1, False), ([0.0, 0.0], 1, False), ([float("inf"), 1.0], 1, False),
        ([NAN, 1.0], 2, False), (1.0, 1, False), ([[[1.0]]], 1, False), ([0.5, 0.5], 0, False),
        ([-1.0, 2.0], 2, True), ([0.0, 0.0], 2, True), ([NAN, 1.0], 2, True), ([float("inf"), 1.0], 2, True),
        ([1, 2], 1, False),
    ]
    for p, n, rep in cases:
        with pytest.raises(RuntimeError) as want:
            torch.multinomial(torch.tensor(p), n, rep)
        with pytest.raises(RuntimeError) as got:
            fastnn.multinomial(fastnn.tensor(p), n, rep)
        assert str(got.value) == str(want.value), (p, n, rep)
    with pytest.raises(TypeError, match="num_samples"):
        fastnn.multinomial(fastnn.ones(3), 2.0)
    with pytest.raises(TypeError, match="generator"):
        fastnn.multinomial(fastnn.ones(3), 2, generator=5)


def test_multinomial_shapes_and_support():
    fastnn.manual_seed(0)
    p = fastnn.tensor([[0.0, 1.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    s = fastnn.multinomial(p, 3, replacement=True)
    assert s.shape == (2, 3) and s.dtype == fastnn.int64
    assert set(np.asarray(s[0]).tolist()) <= {1, 3}
    s = p.multinomial(4)  # without replacement: each row a permutation, zero weights drawn last
    assert sorted(np.asarray(s[1]).tolist()) == [0, 1, 2, 3]
    assert set(np.asarray(s[0, :2]).tolist()) == {1, 3} and set(np.asarray(s[0, 2:]).tolist()) == {0, 2}
    assert fastnn.multinomial(fastnn.tensor([0.2, 0.8]), 1).shape == (1,)
    assert fastnn.multinomial(fastnn.zeros(0, 3), 2, True).shape == (0, 2)
    fastnn.manual_seed(5)
    a = fastnn.multinomial(fastnn.ones(10), 6)
    fastnn.manual_seed(5)
    assert np.array_equal(np.asarray(a), np.asarray(fastnn.multinomial(fastnn.ones(10), 6)))


def test_multinomial_distribution():
    fastnn.manual_seed(1)
    p = np.array([0.5, 0.3, 0.2, 0.0])
    n = 20000
    draws = np.asarray(fastnn.multinomial(fastnn.tensor(p * 7.0), n, replacement=True))  # unnormalised weights
    freq = np.bincount(draws, minlength=4) / n
    assert np.abs(freq - p).max() < 0.015  # binomial sd <= 0.0036
    # Without replacement, rows of 2 draws: P(first=i, second=j) = p_i p_j / (1 - p_i).
    pairs = np.asarray(fastnn.multinomial(fastnn.tensor(np.tile(p, (n, 1))), 2))
    assert (pairs[:, 0] != pairs[:, 1]).all()
    for i, j in ((0, 1), (1, 0), (2, 0)):
        want = p[i] * p[j] / (1 - p[i])
        assert abs(np.mean((pairs[:, 0] == i) & (pairs[:, 1] == j)) - want) < 0.015


# ---- return types ----------------------------------------------------------------------------------------------
def test_return_types_behave_like_torch():
    a = fastnn.tensor([[3.0, 1.0], [0.0, 2.0]])
    r = a.max(1)
    assert isinstance(r, fastnn.return_types.max) and isinstance(a.min(0), fastnn.return_types.min)
    values, indices = r
    assert r[0] is values and r.indices is indices and len(r) == 2 and r.n_fields == 2
    assert repr(a.sort()).startswith("fastnn.return_types.sort(\nvalues=tensor(")
    assert fastnn.return_types.sort._fields == torch.return_types.sort(
        (torch.zeros(1), torch.zeros(1))).__class__.__match_args__


def test_tied_values_gradcheck_guard():
    # With distinct values the selection is locally constant: gradcheck sees one smooth function.
    x = fastnn.tensor(distinct_values((6,), np.random.default_rng(12)), requires_grad=True)
    assert gradcheck(lambda t: t.topk(6).values, (x,), raise_exception=True)
