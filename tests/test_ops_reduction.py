"""sum mean max min argmax argmin var std logsumexp prod amax amin: dims as int / tuple / negative,
keepdim, zero-size inputs, errors for bad dims; forward vs NumPy and float64 gradchecks."""
import warnings

import numpy as np
import pytest

import fastnn
from op_helpers import assert_close, distinct_values, gradcheck_op

RNG = np.random.default_rng(2024)
FLOATS = [fastnn.float32, fastnn.float64]

# (shape, dim) cases shared by the reductions that take any dims: None, ints, negatives, tuples.
DIM_CASES = [
    ((), None), ((), 0), ((), -1),
    ((1,), None), ((1,), 0),
    ((7,), None), ((7,), 0), ((7,), -1),
    ((3, 5), None), ((3, 5), 0), ((3, 5), 1), ((3, 5), -1), ((3, 5), (0, 1)), ((3, 5), (-1, 0)),
    ((2, 3, 5), 1), ((2, 3, 5), (0, 2)), ((2, 3, 5), (-1, -2)), ((2, 3, 5), [0]),
    ((1, 4, 1), (0, 2)),
]
ZERO_CASES = [((0,), None), ((0, 3), 0), ((0, 3), 1), ((2, 0, 3), (0, 2)), ((2, 0, 3), 1)]


def _np_axes(dim, ndim):
    if dim is None:
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return tuple(d % max(ndim, 1) for d in dims) if ndim else None


def _ref(npfn, x, dim, keepdim, **kw):
    axis = _np_axes(dim, x.ndim)
    return npfn(x.astype(np.float64), axis=axis, keepdims=keepdim, **kw)


def _kw(dim):
    return {} if dim is None else {"dim": dim}


def _case_id(case):
    return f"{case[0]}-dim{case[1]}"


# ---- sum / mean / prod ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name,npfn", [("sum", np.sum), ("mean", np.mean), ("prod", np.prod)])
@pytest.mark.parametrize("case", DIM_CASES + ZERO_CASES, ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_sum_mean_prod_forward(name, npfn, case, keepdim, dtype):
    shape, dim = case
    x = RNG.uniform(0.5, 1.5, size=shape).astype(dtype.np)
    t = fastnn.tensor(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own mean of nothing warns
        ref = _ref(npfn, x, dim, keepdim)
    out = getattr(t, name)(**_kw(dim), keepdim=keepdim)
    assert out.dtype is dtype
    assert_close(out, ref)
    assert_close(getattr(fastnn, name)(t, **_kw(dim), keepdim=keepdim), ref)


@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
@pytest.mark.parametrize("case", DIM_CASES, ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_prod_gradcheck(name, case, keepdim):
    shape, dim = case
    gradcheck_op(lambda t: getattr(t, name)(**_kw(dim), keepdim=keepdim), shape)


def test_prod_gradient_with_zeros_is_exact():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.5, -2.0, 0.5]])
    t = fastnn.tensor(x, requires_grad=True)
    t.prod(1).sum().backward()
    assert_close(t.grad, np.array([[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [-1.0, 0.75, -3.0]]))
    gradcheck_op(lambda a: a.prod(1), x)
    gradcheck_op(lambda a: a.prod(), x[:2])


@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
@pytest.mark.parametrize("case", ZERO_CASES, ids=_case_id)
def test_zero_size_reductions_backward(name, case):
    shape, dim = case
    t = fastnn.zeros(shape, dtype=fastnn.float64, requires_grad=True)
    out = getattr(t, name)(**_kw(dim))
    out.backward(fastnn.ones(out.shape, dtype=fastnn.float64))
    assert t.grad.shape == shape


def test_zero_size_values():
    assert_close(fastnn.zeros(0).sum(), np.array(0.0, np.float32))
    assert_close(fastnn.zeros(0).prod(), np.array(1.0, np.float32))
    assert_close(fastnn.zeros(0, 3).sum(0), np.zeros(3))
    assert np.isnan(fastnn.zeros(0).mean().item())


def test_empty_dim_tuple_reduces_everything():
    x = RNG.standard_normal((2, 3))
    t = fastnn.tensor(x)
    assert_close(t.sum(dim=()), np.array(x.sum()))
    assert_close(t.mean(dim=[]), np.array(x.mean()))
    assert_close(t.var(dim=()), np.array(x.var(ddof=1)))
    assert_close(t.std(dim=()), np.array(x.std(ddof=1)))
    assert_close(t.amax(dim=()), np.array(x.max()))


def test_sum_dtypes():
    assert_close(fastnn.tensor([True, True, False]).sum(), np.array(2), check_dtype=True)
    assert_close(fastnn.tensor([[1, 2], [3, 4]]).sum(0), np.array([4, 6]), check_dtype=True)
    x = fastnn.tensor([1.5, 2.5], dtype=fastnn.float64)
    assert x.sum(dtype=fastnn.float32).dtype is fastnn.float32
    assert fastnn.tensor([1, 2]).sum(dtype=fastnn.float64).dtype is fastnn.float64
    assert_close(fastnn.tensor([1, 2]).mean(dtype=fastnn.float64), np.array(1.5), check_dtype=True)


def test_mean_of_integers_needs_a_dtype():
    with pytest.raises(RuntimeError, match="dtype"):
        fastnn.tensor([1, 2, 3]).mean()


def test_float32_sum_is_accurate_over_many_elements():
    # Pairwise summation: a naive float32 running sum of 10**6 x 0.1 drifts by ~1e-3 relative.
    out = fastnn.full((10**6,), 0.1).sum()
    assert_close(out, np.array(np.float32(0.1), np.float64) * 10**6, atol=0, rtol=1e-5)


# ---- max / min with dim (values, indices), amax / amin ------------------------------------------------
EXT_DIM_CASES = [((7,), 0), ((7,), -1), ((3, 5), 0), ((3, 5), 1), ((3, 5), -2), ((2, 3, 5), 1), ((1,), 0),
                 ((0, 3), 1), ((1, 4, 1), 2)]


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("case", EXT_DIM_CASES, ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_max_min_with_dim_returns_values_and_indices(name, case, keepdim, dtype):
    shape, dim = case
    x = distinct_values(shape, RNG).astype(dtype.np)
    t = fastnn.tensor(x)
    res = getattr(t, name)(dim, keepdim=keepdim)
    values, indices = res
    assert res.values is values and res.indices is indices
    npred, nparg = (np.max, np.argmax) if name == "max" else (np.min, np.argmin)
    assert values.dtype is dtype and indices.dtype is fastnn.int64
    assert_close(values, npred(x, axis=dim, keepdims=keepdim))
    assert_close(indices, nparg(x, axis=dim, keepdims=keepdim))
    # The argmax/argmin functions agree with the indices.
    arg = getattr(fastnn, "arg" + name)(t, dim, keepdim=keepdim)
    assert_close(arg, np.asarray(indices))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_report_the_first_index(name):
    x = np.array([[1.0, 5.0, 5.0], [2.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    res = getattr(fastnn.tensor(x), name)(1)
    expected = [1, 0, 0] if name == "max" else [0, 1, 0]
    assert_close(res.indices, np.array(expected))
    assert_close(getattr(fastnn, "arg" + name)(fastnn.tensor(x), 1), np.array(expected))


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_full_extreme(name, dtype):
    x = RNG.standard_normal((3, 4)).astype(dtype.np)
    out = getattr(fastnn.tensor(x), name)()
    assert out.shape == () and out.dtype is dtype
    assert_close(out, np.array(np.max(x) if "max" in name else np.min(x)))


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("case", DIM_CASES + [((0, 3), 1), ((2, 0, 3), (0, 2))], ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin_forward(name, case, keepdim):
    shape, dim = case
    x = RNG.standard_normal(shape)
    out = getattr(fastnn.tensor(x), name)(**_kw(dim), keepdim=keepdim)
    assert_close(out, _ref(np.max if name == "amax" else np.min, x, dim, keepdim))


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("case", [c for c in EXT_DIM_CASES if 0 not in c[0]], ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_gradcheck(name, case, keepdim):
    shape, dim = case
    x = distinct_values(shape, np.random.default_rng(3), gap=0.1)
    gradcheck_op(lambda t: getattr(t, name)(dim, keepdim=keepdim).values, x)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5)], ids=str)
def test_full_extreme_gradcheck(name, shape):
    x = distinct_values(shape, np.random.default_rng(4), gap=0.1)
    gradcheck_op(lambda t: getattr(t, name)(), x)


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("case", [c for c in DIM_CASES if c[1] is not None], ids=_case_id)
def test_amax_amin_gradcheck(name, case):
    shape, dim = case
    x = distinct_values(shape, np.random.default_rng(5), gap=0.1)
    gradcheck_op(lambda t: getattr(t, name)(dim), x)


def test_extreme_gradients_with_ties():
    x = np.array([[1.0, 5.0, 5.0], [2.0, 0.0, 2.0]])
    # max(dim): the whole gradient goes to the reported index.
    t = fastnn.tensor(x, requires_grad=True)
    t.max(1).values.sum().backward()
    assert_close(t.grad, np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    # max() and amax: tied extremes share the gradient evenly.
    t = fastnn.tensor(x, requires_grad=True)
    t.max().backward()
    assert_close(t.grad, np.array([[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]))
    t = fastnn.tensor(x, requires_grad=True)
    t.amax(1).sum().backward()
    assert_close(t.grad, np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]]))
    t = fastnn.tensor(x, requires_grad=True)
    t.amin((0, 1)).backward()
    assert_close(t.grad, np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))


def test_max_propagates_nan():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    res = fastnn.tensor(x).max(1)
    assert_close(res.values, np.array([np.nan, 6.0]))
    assert_close(res.indices, np.array([1, 2]))
    assert np.isnan(fastnn.tensor(x).max().item())
    assert np.isnan(fastnn.tensor(x).amin().item())


def test_max_of_zero_dim_tensor():
    t = fastnn.tensor(3.0)
    res = t.max(0)
    assert res.values.shape == () and res.indices.shape == ()
    assert res.values.item() == 3.0 and res.indices.item() == 0
    assert t.argmax().item() == 0 and t.argmin(0).item() == 0


def test_max_with_tensor_argument_is_elementwise():
    a, b = fastnn.tensor([1.0, 5.0]), fastnn.tensor([3.0, 2.0])
    assert_close(fastnn.max(a, b), np.array([3.0, 5.0]))
    assert_close(a.min(b), np.array([1.0, 2.0]))


# ---- argmax / argmin ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 5)], ids=str)
def test_argmax_argmin(name, shape):
    x = distinct_values(shape, RNG)
    t = fastnn.tensor(x)
    npfn = getattr(np, name)
    out = getattr(t, name)()
    assert out.dtype is fastnn.int64 and out.shape == ()
    assert out.item() == npfn(x)
    assert getattr(t, name)(keepdim=True).shape == (1,) * len(shape)
    assert getattr(t, name)(keepdim=True).item() == npfn(x)
    for d in range(-len(shape), len(shape)):
        for keep in (False, True):
            assert_close(getattr(fastnn, name)(t, d, keepdim=keep), npfn(x, axis=d, keepdims=keep))
    assert not getattr(fastnn.tensor(x, requires_grad=True), name)().requires_grad


# ---- var / std ------------------------------------------------------------------------------------------
def _n_reduced(shape, dim):
    axis = _np_axes(dim, len(shape))
    return int(np.prod(shape)) if axis is None else int(np.prod([shape[a] for a in axis]))


# (shape, dim, correction) with more elements than the correction (fewer: test_var_with_too_few_elements).
VAR_CASES = [(s, d, c) for s, d in DIM_CASES + [((4, 6), 1)] for c in (0, 1, 2) if _n_reduced(s, d) - c > 0]


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("case", VAR_CASES, ids=lambda c: f"{c[0]}-dim{c[1]}-c{c[2]}")
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_var_std_forward(name, case, keepdim, dtype):
    shape, dim, correction = case
    x = RNG.standard_normal(shape).astype(dtype.np)
    t = fastnn.tensor(x)
    axis = _np_axes(dim, x.ndim)
    ref = getattr(np, name)(x.astype(np.float64), axis=axis, keepdims=keepdim, ddof=correction)
    out = getattr(t, name)(**_kw(dim), keepdim=keepdim, correction=correction)
    assert out.dtype is dtype
    assert_close(out, ref)
    if correction in (0, 1):
        assert_close(getattr(t, name)(**_kw(dim), unbiased=bool(correction), keepdim=keepdim), ref)
    if correction == 1:
        assert_close(getattr(fastnn, name)(t, **_kw(dim), keepdim=keepdim), ref)


def test_var_positional_unbiased_and_conflicting_arguments():
    x = RNG.standard_normal((3, 4))
    t = fastnn.tensor(x)
    assert_close(t.var(1, False), x.var(axis=1))
    assert_close(t.std(1, True), x.std(axis=1, ddof=1))
    with pytest.raises(TypeError):
        t.var(1, unbiased=True, correction=0)


def test_var_with_too_few_elements_is_nan_or_inf():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(fastnn.tensor([2.0]).var().item())
        assert np.isnan(fastnn.zeros(0).var().item())
        assert np.isnan(fastnn.zeros(0).std().item())
        assert_close(fastnn.tensor([[1.0, 2.0]]).var(0), np.array([np.nan, np.nan], np.float32))


def test_var_float32_is_stable_with_a_large_offset():
    # A one-pass E[x^2] - E[x]^2 loses all digits here; the two-pass formula is exact.
    x = np.float32(1e4) + np.arange(5, dtype=np.float32)
    assert_close(fastnn.tensor(x).var(), np.array(2.5), atol=0, rtol=1e-6)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("case", [c for c in VAR_CASES if c[2] < 2], ids=lambda c: f"{c[0]}-dim{c[1]}-c{c[2]}")
def test_var_std_gradcheck(name, case):
    shape, dim, correction = case
    gradcheck_op(lambda t: getattr(t, name)(**_kw(dim), correction=correction), shape)


def test_std_gradient_of_a_constant_is_zero():
    # PyTorch defines d std / dx = 0 where std == 0 (instead of 0/0).
    t = fastnn.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], dtype=fastnn.float64, requires_grad=True)
    t.std(1).sum().backward()
    assert_close(t.grad, np.array([[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5]]))


# ---- logsumexp ------------------------------------------------------------------------------------------
LSE_CASES = [c for c in DIM_CASES if c[1] is not None]


@pytest.mark.parametrize("case", LSE_CASES + [((0, 3), 0), ((0, 3), 1)], ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_logsumexp_forward(case, keepdim, dtype):
    shape, dim = case
    x = (RNG.standard_normal(shape) * 3).astype(dtype.np)
    axis = _np_axes(dim, x.ndim)
    with np.errstate(divide="ignore"):
        ref = np.log(np.sum(np.exp(x.astype(np.float64)), axis=axis, keepdims=keepdim))
    out = fastnn.logsumexp(fastnn.tensor(x), dim, keepdim=keepdim)
    assert out.dtype is dtype
    assert_close(out, ref)
    assert_close(fastnn.tensor(x).logsumexp(dim, keepdim), ref)


def test_logsumexp_is_stable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -1001.0, -np.inf], [np.inf, 1.0, 0.0],
                      [-np.inf, -np.inf, -np.inf]])
        for dtype in FLOATS:
            out = fastnn.logsumexp(fastnn.tensor(x, dtype=dtype), 1)
            assert_close(out, np.array([1000 + np.log(2), -1000 + np.log1p(np.exp(-1.0)), np.inf, -np.inf]))
        t = fastnn.tensor(x[:2], dtype=fastnn.float64, requires_grad=True)
        fastnn.logsumexp(t, 1).sum().backward()
        assert_close(t.grad, np.array([[0.5, 0.5, 0.0], [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1)), 0.0]]))


@pytest.mark.parametrize("case", LSE_CASES, ids=_case_id)
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_gradcheck(case, keepdim):
    shape, dim = case
    gradcheck_op(lambda t: fastnn.logsumexp(t, dim, keepdim), shape, low=-3, high=3)


# ---- shapes and errors ----------------------------------------------------------------------------------
OPS_WITH_DIM = {
    "sum": lambda t, d: t.sum(d), "mean": lambda t, d: t.mean(d), "prod": lambda t, d: t.prod(d),
    "var": lambda t, d: t.var(d), "std": lambda t, d: t.std(d), "logsumexp": lambda t, d: t.logsumexp(d),
    "amax": lambda t, d: t.amax(d), "amin": lambda t, d: t.amin(d), "max": lambda t, d: t.max(d),
    "min": lambda t, d: t.min(d), "argmax": lambda t, d: t.argmax(d), "argmin": lambda t, d: t.argmin(d),
}


@pytest.mark.parametrize("name", list(OPS_WITH_DIM))
@pytest.mark.parametrize("dim", [2, -3, 5])
def test_out_of_range_dim_raises_index_error(name, dim):
    with pytest.raises(IndexError, match="Dimension out of range"):
        OPS_WITH_DIM[name](fastnn.ones(2, 3), dim)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "logsumexp", "amax", "amin"])
def test_repeated_dim_raises(name):
    with pytest.raises(RuntimeError, match="multiple times"):
        OPS_WITH_DIM[name](fastnn.ones(2, 3), (1, -1))


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_non_int_dim_raises_type_error(name):
    with pytest.raises(TypeError):
        OPS_WITH_DIM[name](fastnn.ones(2, 3), 1.0)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin", "argmax", "argmin"])
def test_extremes_of_nothing_raise(name):
    t = fastnn.zeros(0, 3)
    with pytest.raises(RuntimeError, match="numel\\(\\) == 0"):
        getattr(t, name)()
    with pytest.raises(IndexError, match="non-zero size"):
        getattr(t, name)(0)
    # Reducing a non-empty dim of an empty tensor is fine and empty.
    out = getattr(t, name)(1)
    out = out.values if isinstance(out, tuple) else out
    assert out.shape == (0,)


@pytest.mark.parametrize("shape,dim,keepdim,expected", [
    ((2, 3, 4), 1, False, (2, 4)), ((2, 3, 4), 1, True, (2, 1, 4)), ((2, 3, 4), (0, 2), False, (3,)),
    ((2, 3, 4), (0, 2), True, (1, 3, 1)), ((2, 3, 4), None, False, ()), ((2, 3, 4), None, True, (1, 1, 1)),
    ((), 0, False, ()), ((), 0, True, ()), ((5,), -1, True, (1,)),
])
def test_reduction_output_shapes(shape, dim, keepdim, expected):
    t = fastnn.ones(shape)
    for name in ("sum", "mean", "var", "std", "amax"):
        out = getattr(t, name)(**_kw(dim), keepdim=keepdim) if name != "amax" or dim is not None else \
            t.amax(keepdim=keepdim)
        assert out.shape == expected, name


def test_reduction_backward_keepdim_false_restores_shape():
    x = RNG.standard_normal((2, 3, 4))
    t = fastnn.tensor(x, requires_grad=True)
    g = RNG.standard_normal((2, 4))
    t.sum(1).backward(fastnn.tensor(g))
    assert_close(t.grad, np.broadcast_to(g[:, None, :], x.shape))
    t.grad = None
    t.mean((0, 2)).backward(fastnn.tensor(np.array([1.0, 2.0, 3.0])))
    assert_close(t.grad, np.broadcast_to(np.array([1.0, 2.0, 3.0])[None, :, None] / 8, x.shape))
