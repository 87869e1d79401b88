"""Rounding, sign and classification ops (ops/rounding.py) against torch: dtypes kept (ints unchanged), halves
rounded to even, round(decimals=), zero gradients, nan_to_num's defaults and gradient, the logical_* and
bitwise_* functions, and PyTorch's errors for bool inputs."""
import numpy as np
import pytest
import torch

import fastnn
from op_helpers import assert_close, gradcheck_op, noncontiguous

VALUES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 0.0, -0.0, 3.99, -3.01, 1e10 + 0.5, np.inf, -np.inf,
                   np.nan])
ROUNDING = ["floor", "ceil", "round", "trunc", "fix", "frac", "sgn", "signbit", "isinf", "isposinf", "isneginf",
            "isreal", "nan_to_num", "positive", "negative"]


@pytest.mark.parametrize("name", ROUNDING)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_values_match_torch(name, dtype):
    x = VALUES.astype(dtype)
    got = getattr(fastnn, name)(fastnn.tensor(x))
    want = getattr(torch, name)(torch.from_numpy(x))
    assert str(got.dtype).split(".")[1].replace("bool_", "bool") == str(want.dtype).split(".")[1]
    assert_close(got, want.numpy(), 0, 0, msg=name)
    for shape in [(3, 5), (1,), (), (0, 2)]:
        y = np.random.default_rng(0).uniform(-5, 5, size=shape).astype(dtype)
        assert_close(getattr(fastnn, name)(fastnn.tensor(y)), getattr(torch, name)(torch.from_numpy(y)).numpy())
    y = np.random.default_rng(1).uniform(-5, 5, size=(4, 3)).astype(dtype)
    assert_close(getattr(noncontiguous(y), name)(), getattr(torch, name)(torch.from_numpy(y)).numpy())


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "fix", "sgn", "signbit", "isinf", "isposinf",
                                  "isneginf", "isreal", "nan_to_num", "positive", "negative"])
def test_integer_inputs(name):
    x = np.array([3, -2, 0, 7])
    got = getattr(fastnn, name)(fastnn.tensor(x))
    want = getattr(torch, name)(torch.from_numpy(x))
    assert str(want.dtype).endswith(got.dtype.name)
    assert_close(got, want.numpy())


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc"])
def test_bool_inputs_raise_like_torch(name):
    with pytest.raises(NotImplementedError, match=f"{name}_vml_cpu"):
        getattr(fastnn, name)(fastnn.tensor([True, False]))
    with pytest.raises(NotImplementedError):
        getattr(torch, name)(torch.tensor([True, False]))


def test_bool_and_int_special_cases():
    b = fastnn.tensor([True, False])
    assert fastnn.sgn(b).tolist() == [True, False] and fastnn.sgn(b).dtype is fastnn.bool
    assert fastnn.signbit(b).tolist() == [False, False]
    with pytest.raises(RuntimeError, match="The `\\+` operator, on a bool tensor is not supported."):
        fastnn.positive(b)
    with pytest.raises(NotImplementedError, match="frac_cpu"):
        fastnn.frac(fastnn.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="round_cpu"):
        fastnn.round(fastnn.tensor([1, 2]), decimals=1)


@pytest.mark.parametrize("decimals", [-2, -1, 1, 2, 3])
def test_round_decimals(decimals):
    x = np.array([1.2345, 2.5, -0.555, 1234.5, 0.125, -77.77, 1e-3], np.float32)
    got = fastnn.round(fastnn.tensor(x), decimals=decimals)
    assert_close(got, torch.round(torch.from_numpy(x), decimals=decimals).numpy(), 0, 1e-6)
    assert_close(fastnn.tensor(x).round(decimals=decimals), got)


def test_zero_gradients_and_frac_passes_through():
    for name in ("floor", "ceil", "round", "trunc", "sgn"):
        x = fastnn.tensor([0.3, -1.7, 2.2], requires_grad=True)
        getattr(fastnn, name)(x).sum().backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0], name
    gradcheck_op(fastnn.frac, np.array([0.3, -1.7, 2.2, 5.5]))


def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    for kwargs in ({}, {"nan": 2.0}, {"posinf": 9.0, "neginf": -9.0}, {"nan": -1.0, "posinf": 1e3}):
        assert_close(fastnn.nan_to_num(fastnn.tensor(x), **kwargs),
                     torch.nan_to_num(torch.from_numpy(x), **kwargs).numpy(), 0, 0)
    t = fastnn.tensor(x.astype(np.float64), requires_grad=True)
    fastnn.nan_to_num(t).sum().backward()
    assert t.grad.tolist() == [0.0, 0.0, 0.0, 1.0]  # torch: grad * isfinite(x)
    y = fastnn.tensor(x.copy())
    assert y.nan_to_num_() is y and np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical(name):
    a = np.array([0.0, 1.5, -2.0, 0.0])
    b = np.array([[0], [3]])
    got = getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b))
    want = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b))
    assert got.dtype is fastnn.bool
    assert_close(got, want.numpy())
    assert_close(getattr(fastnn.tensor(a), name)(fastnn.tensor(b)), want.numpy())
    assert fastnn.logical_not(fastnn.tensor([0, 2])).tolist() == [True, False]


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                                  "bitwise_right_shift"])
def test_bitwise(name):
    a, b = np.array([5, -6, 12, 0]), np.array([3, 1, 2, 7])
    got = getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b))
    assert_close(got, getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy())
    assert_close(getattr(fastnn.tensor(a), name)(fastnn.tensor(b)), got)
    assert fastnn.bitwise_not(fastnn.tensor([5, 0])).tolist() == [-6, -1]


def test_inplace_rounding_outside_the_graph():
    x = fastnn.tensor([1.5, -0.5, 2.7])
    assert x.floor_() is x and x.tolist() == [1.0, -1.0, 2.0]
    x = fastnn.tensor([1.5, -0.5, 2.7])
    assert x.round_().tolist() == [2.0, -0.0, 3.0]
    assert fastnn.tensor([1.5, -1.5]).ceil_().tolist() == [2.0, -1.0]
    assert fastnn.tensor([1.5, -1.5]).trunc_().tolist() == [1.0, -1.0]
    with pytest.raises(RuntimeError, match="in-place"):
        fastnn.tensor([1.5], requires_grad=True).floor_()
