"""+ - * / ** neg, comparisons, dtype promotion and broadcasting (forward vs NumPy, float64 gradchecks)."""
import operator
import warnings

import numpy as np
import pytest

import fastnn
from op_helpers import assert_close, gradcheck_op, to_numpy

RNG = np.random.default_rng(1234)

# Operand shape pairs: scalars, size 1, odd sizes, broadcasting on either side, zero-size.
SHAPE_PAIRS = [
    ((), ()),
    ((), (3,)),
    ((5,), ()),
    ((1,), (7,)),
    ((7,), (7,)),
    ((3, 1), (1, 5)),
    ((2, 3, 5), (5,)),
    ((4, 1, 3), (2, 1)),
    ((0, 3), (1, 3)),
    ((2, 0), (2, 1)),
]
GRAD_SHAPE_PAIRS = [p for p in SHAPE_PAIRS if 0 not in p[0] + p[1]]

BINARY = {
    "add": (fastnn.add, operator.add, np.add),
    "sub": (fastnn.sub, operator.sub, np.subtract),
    "mul": (fastnn.mul, operator.mul, np.multiply),
    "div": (fastnn.div, operator.truediv, np.divide),
}


def _rand(shape, dtype=np.float64, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape).astype(dtype)


def _nonzero(shape, dtype=np.float64):
    x = _rand(shape, dtype, 0.5, 2.0)
    return x * np.where(RNG.random(shape) < 0.5, -1, 1).astype(dtype)


# ---- forward ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", [fastnn.float32, fastnn.float64], ids=str)
def test_binary_forward_matches_numpy(name, shapes, dtype):
    fn, op, ref = BINARY[name]
    xa = _rand(shapes[0], dtype.np)
    xb = _nonzero(shapes[1], dtype.np)
    a, b = fastnn.tensor(xa), fastnn.tensor(xb)
    expected = ref(xa.astype(np.float64), xb.astype(np.float64))
    for out in (fn(a, b), op(a, b)):
        assert out.dtype is dtype
        assert out.shape == np.broadcast_shapes(xa.shape, xb.shape)
        assert_close(out, expected)


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("dtype", [fastnn.float32, fastnn.float64], ids=str)
def test_pow_forward_matches_numpy(shapes, dtype):
    xa = _rand(shapes[0], dtype.np, 0.1, 3.0)
    xb = _rand(shapes[1], dtype.np, -2.0, 2.0)
    out = fastnn.tensor(xa) ** fastnn.tensor(xb)
    assert out.dtype is dtype
    assert_close(out, np.power(xa.astype(np.float64), xb.astype(np.float64)))
    assert_close(fastnn.pow(fastnn.tensor(xa), 3), xa.astype(np.float64) ** 3)
    assert_close(fastnn.tensor(xa) ** 0.5, np.sqrt(xa.astype(np.float64)))
    assert_close(2.0 ** fastnn.tensor(xb), 2.0 ** xb.astype(np.float64))


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (0, 4)], ids=str)
def test_neg_and_pos(shape):
    x = _rand(shape)
    t = fastnn.tensor(x)
    assert_close(-t, -x)
    assert_close(fastnn.neg(t), -x)
    assert_close(t.neg(), -x)
    assert (+t) is t
    assert_close(-fastnn.tensor([3, -4]), np.array([-3, 4]), check_dtype=True)


def test_neg_of_bool_raises():
    with pytest.raises(RuntimeError, match="bool"):
        -fastnn.tensor([True, False])


@pytest.mark.parametrize("make", [lambda m: fastnn.ones(2) - m, lambda m: m - fastnn.ones(2), lambda m: m - m,
                                  lambda m: fastnn.ones(2) - True, lambda m: 1 - m, lambda m: fastnn.sub(m, 1)],
                         ids=["f-mask", "mask-f", "mask-mask", "f-True", "1-mask", "sub(mask,1)"])
def test_subtraction_with_bool_raises(make):
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        make(fastnn.tensor([True, False]))


@pytest.mark.parametrize("scalar", [2, 0.5, -3.25])
def test_scalar_operands_on_both_sides(scalar):
    x = _nonzero((3, 4), np.float32)
    t = fastnn.tensor(x)
    x64, s = x.astype(np.float64), float(scalar)
    cases = {
        "t+s": (t + scalar, x64 + s), "s+t": (scalar + t, s + x64),
        "t-s": (t - scalar, x64 - s), "s-t": (scalar - t, s - x64),
        "t*s": (t * scalar, x64 * s), "s*t": (scalar * t, s * x64),
        "t/s": (t / scalar, x64 / s), "s/t": (scalar / t, s / x64),
    }
    for key, (out, ref) in cases.items():
        assert out.dtype is fastnn.float32, key
        assert_close(out, ref, msg=key)


def test_numpy_array_operand_on_the_left_gives_a_tensor():
    x = _rand((2, 3))
    t = fastnn.tensor(x)
    out = np.ones((2, 3)) + t
    assert isinstance(out, fastnn.Tensor)
    assert_close(out, x + 1)
    out = np.full((2, 3), 2.0) * t
    assert isinstance(out, fastnn.Tensor)
    assert_close(out, 2 * x)


def test_alpha_in_add_and_sub():
    xa, xb = _rand((3, 4)), _rand((4,))
    a, b = fastnn.tensor(xa, requires_grad=True), fastnn.tensor(xb, requires_grad=True)
    assert_close(fastnn.add(a, b, alpha=3), xa + 3 * xb)
    assert_close(fastnn.sub(a, b, alpha=2), xa - 2 * xb)
    fastnn.sub(a, b, alpha=2).sum().backward()
    assert_close(a.grad, np.ones((3, 4)))
    assert_close(b.grad, np.full(4, -2.0 * 3))
    gradcheck_op(lambda p, q: fastnn.add(p, q, alpha=-1.5), (2, 3), (3,))
    gradcheck_op(lambda p, q: fastnn.sub(p, q, alpha=0.5), (2, 3), (2, 1))


def test_division_by_zero_gives_ieee_values_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fastnn.tensor([1.0, -1.0, 0.0]) / 0.0
        int_out = fastnn.tensor([1, -1, 0]) / 0
    assert_close(out, np.array([np.inf, -np.inf, np.nan], np.float32))
    assert int_out.dtype is fastnn.float32
    assert_close(int_out, np.array([np.inf, -np.inf, np.nan], np.float32))


def test_integer_arithmetic_stays_exact():
    a = fastnn.tensor([2**40 + 1, -7, 3])
    b = fastnn.tensor([3, 2, -5])
    assert_close(a + b, np.array([2**40 + 4, -5, -2]), check_dtype=True)
    assert_close(a * b, np.array([3 * (2**40 + 1), -14, -15]), check_dtype=True)
    assert_close(a - b, np.array([2**40 - 2, -9, 8]), check_dtype=True)
    assert_close(fastnn.tensor([2**20 + 1, -7]) ** 2, np.array([(2**20 + 1) ** 2, 49]), check_dtype=True)


def test_integer_to_negative_power_raises():
    with pytest.raises(RuntimeError, match="negative integer powers"):
        fastnn.tensor([1, 2, 3]) ** -1
    assert (fastnn.tensor([1, 2, 4]) ** -1.0).dtype is fastnn.float32


# ---- promotion ------------------------------------------------------------------------------------------
def _t(dtype, shape=(3,)):
    return fastnn.ones(shape, dtype=dtype)


PROMOTION = [
    # (lhs, rhs, expected) built lazily: tensors of a dtype, Python scalars, 0-d tensors.
    ("f32 * 2.0", lambda: _t(fastnn.float32) * 2.0, fastnn.float32),
    ("f32 * 2", lambda: _t(fastnn.float32) * 2, fastnn.float32),
    ("f64 * 0.5", lambda: _t(fastnn.float64) * 0.5, fastnn.float64),
    ("i64 * 0.5", lambda: _t(fastnn.int64) * 0.5, fastnn.float32),
    ("0.5 * i64", lambda: 0.5 * _t(fastnn.int64), fastnn.float32),
    ("i64 * 2", lambda: _t(fastnn.int64) * 2, fastnn.int64),
    ("i64 + True", lambda: _t(fastnn.int64) + True, fastnn.int64),
    ("bool * 2", lambda: _t(fastnn.bool) * 2, fastnn.int64),
    ("bool * 2.5", lambda: _t(fastnn.bool) * 2.5, fastnn.float32),
    ("bool + bool", lambda: _t(fastnn.bool) + _t(fastnn.bool), fastnn.bool),
    ("f32 * f64", lambda: _t(fastnn.float32) * _t(fastnn.float64), fastnn.float64),
    ("f64 + f32", lambda: _t(fastnn.float64) + _t(fastnn.float32), fastnn.float64),
    ("i64 * f32", lambda: _t(fastnn.int64) * _t(fastnn.float32), fastnn.float32),
    ("i64 * f64", lambda: _t(fastnn.int64) * _t(fastnn.float64), fastnn.float64),
    ("bool * i64", lambda: _t(fastnn.bool) * _t(fastnn.int64), fastnn.int64),
    ("i64 / i64", lambda: _t(fastnn.int64) / _t(fastnn.int64), fastnn.float32),
    ("i64 / 2", lambda: _t(fastnn.int64) / 2, fastnn.float32),
    ("2 / i64", lambda: 2 / _t(fastnn.int64), fastnn.float32),
    ("bool / bool", lambda: _t(fastnn.bool) / _t(fastnn.bool), fastnn.float32),
    ("i64 ** 2", lambda: _t(fastnn.int64) ** 2, fastnn.int64),
    ("i64 ** 0.5", lambda: _t(fastnn.int64) ** 0.5, fastnn.float32),
    ("f32 - f64", lambda: _t(fastnn.float32) - _t(fastnn.float64), fastnn.float64),
    # A 0-d tensor beside a tensor with dims acts like a scalar of its dtype (PyTorch's rule).
    ("f32[3] * f64[]", lambda: _t(fastnn.float32) * _t(fastnn.float64, ()), fastnn.float32),
    ("f64[] * f32[3]", lambda: _t(fastnn.float64, ()) * _t(fastnn.float32), fastnn.float32),
    ("i64[3] * f64[]", lambda: _t(fastnn.int64) * _t(fastnn.float64, ()), fastnn.float64),
    ("i64[3] * f32[]", lambda: _t(fastnn.int64) * _t(fastnn.float32, ()), fastnn.float32),
    ("bool[3] + i64[]", lambda: _t(fastnn.bool) + _t(fastnn.int64, ()), fastnn.int64),
    ("i64[3] + bool[]", lambda: _t(fastnn.int64) + _t(fastnn.bool, ()), fastnn.int64),
    ("f32[] * f64[]", lambda: _t(fastnn.float32, ()) * _t(fastnn.float64, ()), fastnn.float64),
]


@pytest.mark.parametrize("case", PROMOTION, ids=[c[0] for c in PROMOTION])
def test_promotion(case):
    _, make, expected = case
    out = make()
    assert out.dtype is expected
    assert np.asarray(out).dtype == expected.np


def test_int_true_division_values():
    out = fastnn.tensor([7, -7, 1]) / fastnn.tensor([2, 2, 3])
    assert out.dtype is fastnn.float32
    assert_close(out, np.array([3.5, -3.5, 1 / 3]))


def test_mixed_precision_gradients_keep_each_leaf_dtype():
    a = fastnn.tensor(_rand((3,)), dtype=fastnn.float32, requires_grad=True)
    b = fastnn.tensor(_rand((3,)), dtype=fastnn.float64, requires_grad=True)
    out = a * b
    assert out.dtype is fastnn.float64
    out.sum().backward()
    assert a.grad.dtype is fastnn.float32 and b.grad.dtype is fastnn.float64
    assert_close(a.grad, np.asarray(b.detach()).astype(np.float32))
    assert_close(b.grad, np.asarray(a.detach()).astype(np.float64))


# ---- gradients ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@pytest.mark.parametrize("shapes", GRAD_SHAPE_PAIRS, ids=str)
def test_binary_gradcheck(name, shapes):
    fn = BINARY[name][0]
    gradcheck_op(fn, *shapes)


@pytest.mark.parametrize("shapes", GRAD_SHAPE_PAIRS, ids=str)
def test_div_gradcheck(shapes):
    gradcheck_op(fastnn.div, shapes[0], _nonzero(shapes[1]))


@pytest.mark.parametrize("shapes", GRAD_SHAPE_PAIRS, ids=str)
def test_pow_gradcheck(shapes):
    base = np.random.default_rng(3).uniform(0.3, 2.0, size=shapes[0])
    gradcheck_op(fastnn.pow, base, shapes[1])


@pytest.mark.parametrize("fn", [lambda x: x ** 3, lambda x: x ** 0.5, lambda x: x ** -1.5, lambda x: 2.0 ** x,
                                lambda x: 3.0 - x, lambda x: 2.5 / x, lambda x: -x, lambda x: x * x * x],
                         ids=["x**3", "x**0.5", "x**-1.5", "2**x", "3-x", "2.5/x", "neg", "x*x*x"])
def test_scalar_operand_gradcheck(fn):
    gradcheck_op(fn, np.random.default_rng(5).uniform(0.5, 2.0, size=(2, 3)))


def test_pow_gradient_conventions_at_zero():
    # PyTorch: d/da a^b is 0 where b == 0; d/db a^b is 0 where a == 0 and b >= 0.
    a = fastnn.tensor([0.0, 0.0, 2.0, 3.0], dtype=fastnn.float64, requires_grad=True)
    b = fastnn.tensor([0.0, 2.0, 0.0, 2.0], dtype=fastnn.float64, requires_grad=True)
    (a ** b).sum().backward()
    assert_close(a.grad, np.array([0.0, 0.0, 0.0, 6.0]))
    assert_close(b.grad, np.array([0.0, 0.0, np.log(2.0), 9 * np.log(3.0)]))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div"])
def test_broadcast_gradient_is_reduced_to_operand_shape(name):
    fn = BINARY[name][0]
    xa = _nonzero((4, 1, 3))
    xb = _nonzero((2, 1))
    a = fastnn.tensor(xa, requires_grad=True)
    b = fastnn.tensor(xb, requires_grad=True)
    gout = _rand((4, 2, 3))
    fn(a, b).backward(fastnn.tensor(gout))
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    A, B = np.broadcast_to(xa, gout.shape), np.broadcast_to(xb, gout.shape)
    local_a = {"add": np.ones_like(A), "sub": np.ones_like(A), "mul": B, "div": 1 / B}[name]
    local_b = {"add": np.ones_like(B), "sub": -np.ones_like(B), "mul": A, "div": -A / B ** 2}[name]
    assert_close(a.grad, (gout * local_a).sum(axis=1, keepdims=True))
    assert_close(b.grad, (gout * local_b).sum(axis=(0, 2))[:, None])


def test_gradient_with_respect_to_a_scalar_tensor_sums_everything():
    s = fastnn.tensor(2.0, dtype=fastnn.float64, requires_grad=True)
    x = _rand((3, 5))
    (fastnn.tensor(x) * s).sum().backward()
    assert s.grad.shape == ()
    assert_close(s.grad, np.array(x.sum()))


def test_same_tensor_on_both_sides_accumulates():
    x = _rand((4,))
    t = fastnn.tensor(x, requires_grad=True)
    (t * t + t).sum().backward()
    assert_close(t.grad, 2 * x + 1)


def test_integer_operand_gives_gradient_only_to_the_float_side():
    a = fastnn.tensor(_rand((3,)), dtype=fastnn.float64, requires_grad=True)
    b = fastnn.tensor([1, 2, 3])
    (a * b).sum().backward()
    assert_close(a.grad, np.array([1.0, 2.0, 3.0]))
    assert b.grad is None


# ---- comparisons ----------------------------------------------------------------------------------------
CMP = {"eq": (fastnn.eq, operator.eq, np.equal), "ne": (fastnn.ne, operator.ne, np.not_equal),
       "lt": (fastnn.lt, operator.lt, np.less), "le": (fastnn.le, operator.le, np.less_equal),
       "gt": (fastnn.gt, operator.gt, np.greater), "ge": (fastnn.ge, operator.ge, np.greater_equal)}


@pytest.mark.parametrize("name", list(CMP))
@pytest.mark.parametrize("shapes", [((), ()), ((7,), (7,)), ((3, 1), (1, 4)), ((2, 3), ()), ((0, 2), (2,))],
                         ids=str)
def test_comparisons_match_numpy(name, shapes):
    fn, op, ref = CMP[name]
    # Small integers as floats so that equality actually happens.
    xa = RNG.integers(-2, 3, size=shapes[0]).astype(np.float32)
    xb = RNG.integers(-2, 3, size=shapes[1]).astype(np.float32)
    a = fastnn.tensor(xa, requires_grad=True)
    b = fastnn.tensor(xb)
    for out in (fn(a, b), op(a, b), getattr(a, name)(b)):
        assert out.dtype is fastnn.bool
        assert not out.requires_grad and out.grad_fn is None
        assert_close(out, ref(xa, xb))
    assert_close(op(a, 1), ref(xa, 1))
    assert_close(op(a, 0.5), ref(xa, 0.5))


def test_comparisons_promote_before_comparing():
    ints = fastnn.tensor([0, 1, 2])
    assert_close(ints > 0.5, np.array([False, True, True]))
    assert_close(ints == fastnn.tensor([0.0, 1.5, 2.0]), np.array([True, False, True]))
    f32 = fastnn.tensor([0.1], dtype=fastnn.float32)
    f64 = fastnn.tensor([0.1], dtype=fastnn.float64)
    # float32 0.1 widened to float64 is not float64 0.1.
    assert_close(f32 == f64, np.array([False]))
    assert_close(f32 == 0.1, np.array([True]))


def test_comparison_with_nan_is_false_except_ne():
    t = fastnn.tensor([np.nan, 1.0])
    assert_close(t == t, np.array([False, True]))
    assert_close(t != t, np.array([True, False]))
    assert_close(t < np.inf, np.array([False, True]))


@pytest.mark.parametrize("fn", [fastnn.add, fastnn.sub, fastnn.mul, fastnn.div, fastnn.pow, fastnn.eq, fastnn.lt,
                                fastnn.maximum, fastnn.minimum])
def test_incompatible_broadcast_raises_runtime_error_naming_the_sizes(fn):
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\) at "
                                           r"non-singleton dimension 1"):
        fn(fastnn.ones(2, 3), fastnn.ones(4))


def test_result_of_arith_on_requires_grad_tensor_is_in_graph_and_numpy_refuses():
    a = fastnn.ones(3, requires_grad=True)
    out = a * 2
    assert out.requires_grad and out.grad_fn is not None
    with pytest.raises(RuntimeError, match="detach"):
        out.numpy()
    assert_close(to_numpy(out), np.full(3, 2.0))
    with fastnn.no_grad():
        assert not (a * 2).requires_grad


@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@pytest.mark.parametrize("shapes", GRAD_SHAPE_PAIRS, ids=str)
def test_operator_gradcheck(name, shapes):
    """The operators (``+`` has its own same-shape fast path) against finite differences."""
    gradcheck_op(BINARY[name][1], *shapes)


def test_plus_fast_path_with_one_tensor_on_both_sides():
    x = gradcheck_op(lambda a: a + a, (3, 4))[0]
    (x + x).sum().backward()
    assert_close(x.grad, np.full((3, 4), 2.0))
