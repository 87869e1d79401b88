"""relu sigmoid tanh gelu ('none', 'tanh') leaky_relu softmax log_softmax: forward vs NumPy (float64 math),
numerical stability at extreme inputs without warnings, float64 gradchecks away from kinks."""
import math
import warnings

import numpy as np
import pytest

import fastnn
from op_helpers import assert_close, away_from, gradcheck_op

RNG = np.random.default_rng(8)
SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 4), (0,), (2, 0, 3)]
GRAD_SHAPES = [(), (1,), (7,), (3, 5), (2, 1, 3)]
FLOATS = [fastnn.float32, fastnn.float64]
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu_ref(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _gelu_tanh_ref(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _sigmoid_ref(x):
    # float64 reference that is itself stable: 1/(1+exp(-x)) for x >= 0, exp(x)/(1+exp(x)) below.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


ACTS = {
    "relu": (fastnn.relu, lambda x: np.maximum(x, 0)),
    "sigmoid": (fastnn.sigmoid, _sigmoid_ref),
    "tanh": (fastnn.tanh, np.tanh),
    "gelu": (fastnn.gelu, _gelu_ref),
    "gelu_tanh": (lambda t: fastnn.gelu(t, approximate="tanh"), _gelu_tanh_ref),
    "leaky_relu": (fastnn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda t: fastnn.leaky_relu(t, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
}
METHODS = {"relu": lambda t: t.relu(), "sigmoid": lambda t: t.sigmoid(), "tanh": lambda t: t.tanh(),
           "gelu": lambda t: t.gelu(), "gelu_tanh": lambda t: t.gelu(approximate="tanh"),
           "leaky_relu": lambda t: t.leaky_relu(), "leaky_relu_0.2": lambda t: t.leaky_relu(0.2)}


@pytest.mark.parametrize("name", list(ACTS))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_activation_forward(name, shape, dtype):
    fn, ref = ACTS[name]
    x = (RNG.standard_normal(shape) * 3).astype(dtype.np)
    t = fastnn.tensor(x)
    expected = ref(x.astype(np.float64))
    for out in (fn(t), METHODS[name](t)):
        assert out.dtype is dtype and out.shape == shape
        assert_close(out, expected)


@pytest.mark.parametrize("name", list(ACTS))
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=str)
def test_activation_gradcheck(name, shape):
    fn, _ = ACTS[name]
    x = away_from(np.random.default_rng(1).uniform(-3, 3, size=shape), [0.0])  # relu / leaky_relu kink at 0
    gradcheck_op(fn, x)


@pytest.mark.parametrize("name", list(ACTS))
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_activation_extremes_are_finite_and_silent(name, dtype):
    fn, ref = ACTS[name]
    x = np.array([-1000.0, -100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, 1000.0], dtype.np)
    t = fastnn.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow / invalid / divide-by-zero warnings fail the test
        out = fn(t)
        out.sum().backward()
    assert not np.any(np.isnan(np.asarray(out.detach())))
    assert not np.any(np.isnan(np.asarray(t.grad)))
    with np.errstate(over="ignore", under="ignore"):
        expected = ref(x.astype(np.float64))
    assert_close(out, expected)


def test_sigmoid_saturates_exactly_and_keeps_tiny_values():
    t = fastnn.tensor([-1000.0, -80.0, 0.0, 80.0, 1000.0], dtype=fastnn.float64, requires_grad=True)
    out = fastnn.sigmoid(t)
    assert_close(out, np.array([0.0, np.exp(-80.0) / (1 + np.exp(-80.0)), 0.5, 1.0, 1.0]), atol=0, rtol=1e-14)
    out.sum().backward()
    assert_close(t.grad, np.array([0.0, np.exp(-80.0), 0.25, 0.0, 0.0]), atol=1e-300, rtol=1e-6)


def test_relu_and_leaky_relu_gradient_at_zero():
    t = fastnn.tensor([-1.0, 0.0, 2.0], dtype=fastnn.float64, requires_grad=True)
    fastnn.relu(t).sum().backward()
    assert_close(t.grad, np.array([0.0, 0.0, 1.0]))
    t.grad = None
    fastnn.leaky_relu(t, 0.1).sum().backward()
    assert_close(t.grad, np.array([0.1, 0.1, 1.0]))


def test_relu_keeps_integer_dtype_and_gelu_rejects_bad_mode():
    assert_close(fastnn.relu(fastnn.tensor([-2, 3])), np.array([0, 3]), check_dtype=True)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):  # as torch
        fastnn.gelu(fastnn.ones(2), approximate="fast")


def test_gelu_modes_differ_by_the_known_approximation_error():
    x = np.linspace(-5, 5, 101)
    exact = fastnn.gelu(fastnn.tensor(x, dtype=fastnn.float64))
    approx = fastnn.gelu(fastnn.tensor(x, dtype=fastnn.float64), approximate="tanh")
    diff = np.abs(np.asarray(exact) - np.asarray(approx))
    assert 1e-5 < diff.max() < 1e-3  # the tanh form is close to, but not the same as, the erf form


# ---- softmax / log_softmax ------------------------------------------------------------------------------
SOFTMAX_CASES = [((7,), 0), ((7,), -1), ((3, 5), 0), ((3, 5), 1), ((3, 5), -1), ((2, 3, 4), 1), ((2, 3, 4), -3),
                 ((1,), 0), ((4, 1), 1), ((), 0), ((0, 3), 1), ((0, 3), 0)]


def _softmax_ref(x, dim):
    if x.ndim == 0:
        return np.ones_like(x)
    z = x - np.max(x, axis=dim, keepdims=True) if x.size else x
    e = np.exp(z)
    return e / e.sum(axis=dim, keepdims=True)


def _log_softmax_ref(x, dim):
    if x.ndim == 0:
        return np.zeros_like(x)
    z = x - np.max(x, axis=dim, keepdims=True) if x.size else x
    with np.errstate(divide="ignore"):  # an empty softmax dim: log(0) for a result that is empty anyway
        return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=lambda c: f"{c[0]}-dim{c[1]}")
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_softmax_log_softmax_forward(case, dtype):
    shape, dim = case
    x = (RNG.standard_normal(shape) * 4).astype(dtype.np)
    t = fastnn.tensor(x)
    s, ls = fastnn.softmax(t, dim), fastnn.log_softmax(t, dim)
    assert s.dtype is dtype and ls.dtype is dtype and s.shape == shape
    assert_close(s, _softmax_ref(x.astype(np.float64), dim))
    assert_close(ls, _log_softmax_ref(x.astype(np.float64), dim))
    assert_close(t.softmax(dim), np.asarray(s))
    assert_close(t.log_softmax(dim=dim), np.asarray(ls))
    if x.size and x.ndim:
        assert_close(s.sum(dim), np.ones(np.sum(x, axis=dim).shape))


@pytest.mark.parametrize("case", [c for c in SOFTMAX_CASES if 0 not in c[0]], ids=lambda c: f"{c[0]}-dim{c[1]}")
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_gradcheck(case, name):
    shape, dim = case
    gradcheck_op(lambda t: getattr(fastnn, name)(t, dim), shape, low=-3, high=3)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_softmax_is_stable_with_large_logits(dim, dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1001.0], [3e4, 3e4, 3e4]], dtype.np)
    t = fastnn.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = fastnn.softmax(t, dim)
        ls = fastnn.log_softmax(t, dim)
        (s * fastnn.tensor(np.arange(9.0).reshape(3, 3), dtype=dtype)).sum().backward()
        ls.sum().backward()
    x64 = x.astype(np.float64)
    assert_close(s, _softmax_ref(x64, dim))
    assert_close(ls, _log_softmax_ref(x64, dim))
    assert np.all(np.isfinite(np.asarray(ls.detach())))
    assert np.all(np.isfinite(np.asarray(t.grad)))


def test_log_softmax_beats_log_of_softmax_in_the_tail():
    x = fastnn.tensor([0.0, -200.0], dtype=fastnn.float32)
    # softmax's tail underflows to 0 in float32, so log(softmax) would be -inf; log_softmax stays exact.
    assert np.asarray(fastnn.softmax(x, 0))[1] == 0.0
    assert_close(fastnn.log_softmax(x, 0), np.array([0.0, -200.0]))


def test_softmax_gradients_vs_closed_form():
    x = RNG.standard_normal((3, 4))
    g = RNG.standard_normal((3, 4))
    t = fastnn.tensor(x, requires_grad=True)
    fastnn.softmax(t, 1).backward(fastnn.tensor(g))
    s = _softmax_ref(x, 1)
    assert_close(t.grad, s * (g - (g * s).sum(1, keepdims=True)))
    t.grad = None
    fastnn.log_softmax(t, 1).backward(fastnn.tensor(g))
    assert_close(t.grad, g - s * g.sum(1, keepdims=True))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_bad_dim_raises(name):
    with pytest.raises(IndexError):
        getattr(fastnn, name)(fastnn.ones(2, 3), 2)
    with pytest.raises(IndexError):
        getattr(fastnn, name)(fastnn.ones(2, 3), -3)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "gelu"])
def test_activation_on_non_contiguous_input(name):
    fn, ref = ACTS[name]
    x = RNG.standard_normal((5, 4))
    t = fastnn.tensor(np.ascontiguousarray(x.T)).t()[:, ::-1]
    assert_close(fn(t), ref(x[:, ::-1]))
