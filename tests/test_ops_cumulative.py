"""Scans and the extra reductions (ops/cumulative.py, ops/stats.py, ops/norms.py) against torch: cumsum,
cumprod (gradient with zeros in the input), cummax/cummin (indices of ties and NaNs), logcumsumexp (no
underflow), nansum, nanmean, count_nonzero, var_mean, std_mean, aminmax, norm / linalg.vector_norm, and the
dtype= keyword of sum, mean, prod, cumsum, cumprod, softmax and log_softmax."""
import math

import numpy as np
import pytest
import torch

import fastnn
from fastnn.ops.norms import vector_norm
from op_helpers import assert_close, distinct_values, gradcheck_op, noncontiguous

SHAPES_DIMS = [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -2), ((1,), 0), ((), 0), ((0, 3), 1), ((4, 0), 1)]


def _both(fn_name, x, *args, **kwargs):
    got = getattr(fastnn, fn_name)(fastnn.tensor(x), *args, **kwargs)
    want = getattr(torch, fn_name)(torch.from_numpy(x), *args, **kwargs)
    return got, want


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scans_match_torch(name, dtype):
    for shape, dim in SHAPES_DIMS:
        x = np.random.default_rng(0).uniform(-1.5, 1.5, size=shape).astype(dtype)
        got, want = _both(name, x, dim)
        assert_close(got, want.numpy(), 2e-6 if dtype == np.float32 else None,
                     2e-6 if dtype == np.float32 else None, msg=f"{name}{shape}")
    x = np.random.default_rng(1).uniform(-1.5, 1.5, size=(3, 5)).astype(dtype)
    assert_close(getattr(noncontiguous(x), name)(0), getattr(torch, name)(torch.from_numpy(x), 0).numpy())


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
def test_scan_gradients(name):
    for shape, dim in [((4,), 0), ((3, 4), 1), ((2, 3, 2), 0), ((), 0)]:
        gradcheck_op(lambda t: getattr(fastnn, name)(t, dim), shape)


def test_integer_scans():
    x = np.array([[1, -2, 3], [4, 5, -6]])
    for name in ("cumsum", "cumprod"):
        got, want = _both(name, x, 1)
        assert got.dtype is fastnn.int64
        assert_close(got, want.numpy())
        got, want = _both(name, np.array([True, True, False]), 0)
        assert got.dtype is fastnn.int64
        assert_close(got, want.numpy())
        got = getattr(fastnn, name)(fastnn.tensor(x), 0, dtype=fastnn.float64)
        want = getattr(torch, name)(torch.from_numpy(x), 0, dtype=torch.float64)
        assert got.dtype is fastnn.float64
        assert_close(got, want.numpy())
    with pytest.raises(NotImplementedError, match="logcumsumexp_out_cpu\" not implemented for 'Long'"):
        fastnn.logcumsumexp(fastnn.tensor(x), 0)


def test_scan_dtype_keyword_casts_first_and_grads_return_in_input_dtype():
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = fastnn.cumsum(x, 0, dtype=fastnn.float64)
    assert y.dtype is fastnn.float64
    y.sum().backward()
    assert x.grad.dtype is fastnn.float32 and x.grad.tolist() == [3.0, 2.0, 1.0]
    x.grad = None
    x.cumprod(0, dtype=fastnn.float64).sum().backward()
    assert x.grad.dtype is fastnn.float32
    assert_close(x.grad, np.array([1 + 2 + 6, 1 + 3, 2], np.float32))


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0], [2.0, 3.0, 0.0], [0.0, 0.0, 2.0],
                                    [1.5, 0.0, 2.0, 0.0, 3.0], [0.0]])
def test_cumprod_gradient_with_zeros(values):
    x = np.array(values)
    g = np.arange(1.0, len(values) + 1)
    t = torch.from_numpy(x).requires_grad_()
    torch.cumprod(t, 0).backward(torch.from_numpy(g))
    f = fastnn.tensor(x, requires_grad=True)
    fastnn.cumprod(f, 0).backward(fastnn.tensor(g))
    assert_close(f.grad, t.grad.numpy())
    # in a batch of rows, with zeros in some rows only
    m = np.stack([x, x[::-1] + 1.0])
    gradcheck_op(lambda a: fastnn.cumprod(a, 1), np.ascontiguousarray(m))
    tm = torch.from_numpy(m).requires_grad_()
    torch.cumprod(tm, 1).sum().backward()
    fm = fastnn.tensor(m, requires_grad=True)
    fastnn.cumprod(fm, 1).sum().backward()
    assert_close(fm.grad, tm.grad.numpy())


def test_logcumsumexp_does_not_underflow():
    x = np.array([-1000.0, 0.0, -np.inf, 5.0, -2000.0])
    got, want = _both("logcumsumexp", x, 0)
    assert_close(got, want.numpy())
    t = torch.from_numpy(x).requires_grad_()
    torch.logcumsumexp(t, 0).backward(torch.tensor([1.0, -2.0, 0.5, 1.0, 3.0], dtype=torch.float64))
    f = fastnn.tensor(x, requires_grad=True)
    fastnn.logcumsumexp(f, 0).backward(fastnn.tensor([1.0, -2.0, 0.5, 1.0, 3.0], dtype=fastnn.float64))
    assert_close(f.grad, t.grad.numpy())


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin(name):
    cases = [np.array([1.0, 3.0, 3.0, 2.0, np.nan, 5.0, np.nan]), np.array([3, 1, 1, 2, 5, 5]),
             np.array([True, False, True]), np.random.default_rng(2).integers(0, 3, size=(3, 6)).astype(np.float64)]
    for x in cases:
        for dim in range(x.ndim):
            got, want = _both(name, x, dim)
            assert_close(got.values, want.values.numpy(), msg=f"{name} values {x}")
            assert_close(got.indices, want.indices.numpy(), msg=f"{name} indices {x}")
            assert got.indices.dtype is fastnn.int64
    for shape in [(), (0, 2), (1,)]:
        x = np.ones(shape)
        got, want = _both(name, x, 0 if shape != (0, 2) else 1)
        assert_close(got.values, want.values.numpy())
        assert_close(got.indices, want.indices.numpy())


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_gradient(name):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(3, 5)).astype(np.float64)  # many ties: the gradient follows the indices
    t = torch.from_numpy(x).requires_grad_()
    g = rng.normal(size=(3, 5))
    getattr(torch, name)(t, 1).values.backward(torch.from_numpy(g))
    f = fastnn.tensor(x, requires_grad=True)
    getattr(fastnn, name)(f, 1).values.backward(fastnn.tensor(g))
    assert_close(f.grad, t.grad.numpy())
    gradcheck_op(lambda a: getattr(fastnn, name)(a, 0).values, distinct_values((4, 3), rng))
    assert_close(getattr(fastnn.tensor(x), name)(1).values, getattr(torch, name)(torch.from_numpy(x), 1).values)


def test_nansum_nanmean():
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]])
    for dim in (None, 0, 1, (0, 1)):
        for keepdim in (False, True):
            kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
            for name in ("nansum", "nanmean"):
                got, want = _both(name, x, **kw)
                assert_close(got, want.numpy(), msg=f"{name} {kw}")
    for name in ("nansum", "nanmean"):
        t = torch.from_numpy(x).requires_grad_()
        getattr(torch, name)(t, 1).sum().backward()
        f = fastnn.tensor(x, requires_grad=True)
        getattr(fastnn, name)(f, 1).sum().backward()
        assert_close(f.grad, t.grad.numpy(), msg=name)
    got, want = _both("nansum", np.array([1, 2, 3]))
    assert got.dtype is fastnn.int64 and got.item() == want.item()
    with pytest.raises(RuntimeError, match="nanmean\\(\\): expected input to have floating point"):
        fastnn.nanmean(fastnn.tensor([1, 2]))
    assert_close(fastnn.tensor(x).nansum(0), torch.from_numpy(x).nansum(0).numpy())
    assert_close(fastnn.tensor(x).nanmean(), torch.from_numpy(x).nanmean().numpy())


def test_count_nonzero():
    x = np.array([[0, 1, 2], [0.0, 0, 3]])
    for dim in (None, 0, 1, (0, 1), -1):
        got, want = _both("count_nonzero", x, dim=dim)
        assert got.dtype is fastnn.int64
        assert_close(got, want.numpy())
    assert fastnn.tensor(x).count_nonzero().item() == 3


@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_std_mean(name):
    x = np.random.default_rng(4).normal(size=(3, 5))
    for args, kw in [((), {}), ((1,), {}), ((0,), {"keepdim": True}), (((0, 1),), {}), ((1,), {"correction": 0}),
                     ((1, False), {}), ((False,), {}), ((True,), {})]:
        got = getattr(fastnn, name)(fastnn.tensor(x), *args, **kw)
        want = getattr(torch, name)(torch.from_numpy(x), *args, **kw)
        assert isinstance(got, tuple) and len(got) == 2
        assert_close(got[0], want[0].numpy(), msg=f"{name}{args}{kw}")
        assert_close(got[1], want[1].numpy(), msg=f"{name}{args}{kw}")
    gradcheck_op(lambda t: getattr(fastnn, name)(t, 1)[0] + getattr(fastnn, name)(t, 1)[1], (3, 4))
    with pytest.raises(RuntimeError, match=f"{name} only support floating point and complex dtypes"):
        getattr(fastnn, name)(fastnn.tensor([1, 2]))


def test_aminmax():
    x = np.array([[3.0, -1.0, 2.0], [0.5, 7.0, 7.0]])
    for kw in ({}, {"dim": 0}, {"dim": 1, "keepdim": True}, {"keepdim": True}):
        got, want = _both("aminmax", x, **kw)
        assert_close(got.min, want.min.numpy(), msg=str(kw))
        assert_close(got.max, want.max.numpy(), msg=str(kw))
    assert fastnn.tensor([1, 3, 2]).aminmax().max.item() == 3
    with pytest.raises(RuntimeError, match="cannot compute aminmax over an empty dimension"):
        fastnn.aminmax(fastnn.tensor([]))


ORDS = [2, 1, 3, 0.5, 1.5, math.inf, -math.inf, 0]


@pytest.mark.parametrize("ord", ORDS)
def test_vector_norm_matches_torch(ord):
    x = np.random.default_rng(5).normal(size=(3, 4, 2))
    x[0, 0, 0] = 0.0
    for dim in (None, 0, (1, 2), -1, ()):
        for keepdim in (False, True):
            got = vector_norm(fastnn.tensor(x), ord, dim, keepdim)
            want = torch.linalg.vector_norm(torch.from_numpy(x), ord, dim if dim != () else None, keepdim)
            assert_close(got, want.numpy(), msg=f"ord={ord} dim={dim}")
    t = torch.from_numpy(x).requires_grad_()
    torch.linalg.vector_norm(t, ord, 1).sum().backward()
    f = fastnn.tensor(x, requires_grad=True)
    vector_norm(f, ord, 1).sum().backward()
    # torch's ord=0 norm sends no gradient at all (t.grad stays None); fastnn's is zero
    assert_close(f.grad, t.grad.numpy() if t.grad is not None else np.zeros_like(x), msg=f"grad ord={ord}")


@pytest.mark.parametrize("ord", [2, 1, 3, 1.5])
def test_vector_norm_gradcheck(ord):
    rng = np.random.default_rng(6)
    x = rng.uniform(0.2, 1.5, size=(3, 4)) * rng.choice([-1, 1], size=(3, 4))
    gradcheck_op(lambda t: vector_norm(t, ord, 1), x)
    gradcheck_op(lambda t: vector_norm(t, ord), x)


def test_vector_norm_zero_vector_gradient_is_zero():
    for ord in (2, 3, 1.5):
        t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        torch.linalg.vector_norm(t, ord).backward()
        f = fastnn.zeros(3, dtype=fastnn.float64, requires_grad=True)
        vector_norm(f, ord).backward()
        assert_close(f.grad, t.grad.numpy())


def test_vector_norm_dtype_and_errors():
    x = fastnn.tensor([3.0, 4.0])
    y = vector_norm(x, dtype=fastnn.float64)
    assert y.dtype is fastnn.float64 and y.item() == 5.0
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point or complex tensor as "
                                           "input. Got Long"):
        vector_norm(fastnn.tensor([1, 2]))
    assert vector_norm(fastnn.zeros(0)).item() == 0.0


def test_norm():
    x = np.random.default_rng(7).normal(size=(3, 4))
    tx = torch.from_numpy(x)
    for args, kw in [((), {}), (("fro",), {}), ((2,), {"dim": 1}), ((1,), {"dim": 0, "keepdim": True}),
                     ((math.inf,), {}), (("fro",), {"dim": (0, 1)}), ((3,), {}), ((0,), {}), ((None,), {"dim": 1})]:
        assert_close(fastnn.norm(fastnn.tensor(x), *args, **kw), torch.norm(tx, *args, **kw).numpy(),
                     msg=f"{args}{kw}")
        assert_close(fastnn.tensor(x).norm(*args, **kw), tx.norm(*args, **kw).numpy())
    gradcheck_op(lambda t: t.norm(), x)
    gradcheck_op(lambda t: t.norm(dim=1), x)
    with pytest.raises(NotImplementedError, match="nuc"):
        fastnn.norm(fastnn.tensor(x), "nuc")


def test_reduction_dtype_keywords():
    x = np.array([[1.0, 2.0], [3.0, 4.5]], np.float32)
    i = np.array([[1, 2], [3, 4]])
    for name in ("sum", "mean", "prod"):
        for arr in (x, i):
            got = getattr(fastnn, name)(fastnn.tensor(arr), dtype=fastnn.float64)
            want = getattr(torch, name)(torch.from_numpy(arr), dtype=torch.float64)
            assert got.dtype is fastnn.float64
            assert_close(got, want.numpy())
        got = fastnn.tensor(x).prod(1, dtype=fastnn.float64)
        assert got.dtype is fastnn.float64
    b = np.array([[True, False], [True, True]])
    got = fastnn.prod(fastnn.tensor(b), 1, dtype=fastnn.bool)
    assert got.dtype is fastnn.bool and got.tolist() == torch.prod(torch.from_numpy(b), 1, dtype=torch.bool).tolist()
    for name in ("sum", "mean"):
        got = getattr(fastnn, name)(fastnn.tensor(x), (0, 1))
        assert_close(got, getattr(torch, name)(torch.from_numpy(x), (0, 1)).numpy())
    f = fastnn.tensor(x, requires_grad=True)
    f64 = fastnn.float64
    (fastnn.sum(f, dtype=f64) + fastnn.mean(f, dtype=f64) + f.prod(dtype=f64)).backward()
    assert f.grad.dtype is fastnn.float32
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype. Input dtype must be either a "
                                           "floating point or complex dtype. Got: Long"):
        fastnn.mean(fastnn.tensor(i))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype(name):
    x = np.random.default_rng(8).normal(size=(3, 4)).astype(np.float32)
    for dim in (0, 1):
        got = getattr(fastnn, name)(fastnn.tensor(x), dim, dtype=fastnn.float64)
        want = getattr(torch, name)(torch.from_numpy(x), dim, dtype=torch.float64)
        assert got.dtype is fastnn.float64
        assert_close(got, want.numpy())
        assert_close(getattr(fastnn.tensor(x), name)(dim, dtype=fastnn.float64), want.numpy())
        assert_close(getattr(fastnn.nn.functional, name)(fastnn.tensor(x), dim, dtype=fastnn.float64), want.numpy())
    f = fastnn.tensor(x, requires_grad=True)
    getattr(fastnn, name)(f, 1, dtype=fastnn.float64)[:, 0].sum().backward()
    assert f.grad.dtype is fastnn.float32
