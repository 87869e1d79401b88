"""exp log log1p sqrt sin cos erf abs clamp maximum minimum where: forward vs NumPy (and torch), gradients by
float64 finite differences."""
import math
import warnings

import numpy as np
import pytest

import fastnn
from op_helpers import assert_close, away_from, gradcheck_op

RNG = np.random.default_rng(99)
SHAPES = [(), (1,), (7,), (3, 5), (2, 1, 3), (0,), (4, 0, 2)]
GRAD_SHAPES = [s for s in SHAPES if 0 not in s]
FLOATS = [fastnn.float32, fastnn.float64]

UNARY = {
    # name: (fastnn fn, NumPy reference, input range)
    "exp": (fastnn.exp, np.exp, (-5.0, 5.0)),
    "log": (fastnn.log, np.log, (0.05, 10.0)),
    "sqrt": (fastnn.sqrt, np.sqrt, (0.05, 10.0)),
    "abs": (fastnn.abs, np.abs, (-3.0, 3.0)),
    "log1p": (fastnn.log1p, np.log1p, (-0.95, 10.0)),
    "sin": (fastnn.sin, np.sin, (-7.0, 7.0)),
    "cos": (fastnn.cos, np.cos, (-7.0, 7.0)),
    "erf": (fastnn.erf, np.vectorize(math.erf, otypes=[np.float64]), (-4.0, 4.0)),
}


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_unary_forward_matches_numpy(name, shape, dtype):
    fn, ref, (lo, hi) = UNARY[name]
    x = RNG.uniform(lo, hi, size=shape).astype(dtype.np)
    t = fastnn.tensor(x)
    for out in (fn(t), getattr(t, name)()):
        assert out.dtype is dtype and out.shape == shape
        assert_close(out, ref(x.astype(np.float64)))


@pytest.mark.parametrize("name", list(UNARY))
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=str)
def test_unary_gradcheck(name, shape):
    fn, _, (lo, hi) = UNARY[name]
    x = RNG.uniform(lo, hi, size=shape)
    if name == "abs":
        x = away_from(x, [0.0])
    gradcheck_op(fn, x)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "log1p", "sin", "cos", "erf"])
def test_unary_float_ops_promote_integers_to_float32(name):
    fn, ref, _ = UNARY[name]
    out = fn(fastnn.tensor([1, 2, 9]))
    assert out.dtype is fastnn.float32
    assert_close(out, ref(np.array([1.0, 2.0, 9.0])))


def test_abs_of_integers_stays_integer():
    assert_close(fastnn.abs(fastnn.tensor([-3, 0, 2])), np.array([3, 0, 2]), check_dtype=True)
    assert_close(abs(fastnn.tensor([-1.5, 2.0])), np.array([1.5, 2.0], np.float32), check_dtype=True)


def test_abs_gradient_at_zero_is_zero():
    t = fastnn.tensor([-2.0, 0.0, 3.0], dtype=fastnn.float64, requires_grad=True)
    fastnn.abs(t).sum().backward()
    assert_close(t.grad, np.array([-1.0, 0.0, 1.0]))


def test_domain_edges_give_ieee_values_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(fastnn.log(fastnn.tensor([0.0, -1.0, np.inf])), np.array([-np.inf, np.nan, np.inf]))
        assert_close(fastnn.sqrt(fastnn.tensor([-1.0, 0.0, np.inf])), np.array([np.nan, 0.0, np.inf]))
        assert_close(fastnn.exp(fastnn.tensor([1000.0, -1000.0, -np.inf])), np.array([np.inf, 0.0, 0.0]))
        t = fastnn.tensor([0.0], dtype=fastnn.float64, requires_grad=True)
        fastnn.sqrt(t).sum().backward()
        assert_close(t.grad, np.array([np.inf]))


def test_log1p_keeps_tiny_arguments_and_its_domain_edges():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(fastnn.log1p(fastnn.tensor([1e-10, -1.0, -2.0, np.inf])),
                     np.array([1e-10, -np.inf, np.nan, np.inf], np.float32), check_dtype=True)


def test_erf_tails_and_symmetry():
    x = np.array([-np.inf, -30.0, -6.0, -1e-8, 0.0, 1e-8, 2.0, 6.0, 30.0, np.inf, np.nan])
    for dt in FLOATS:
        got = fastnn.erf(fastnn.tensor(x, dtype=dt)).numpy().astype(np.float64)
        want = np.array([math.erf(v) if not math.isnan(v) else math.nan for v in x])
        f32 = dt is fastnn.float32
        assert_close(got, want, atol=1e-7 if f32 else 1e-15, rtol=1e-6 if f32 else 1e-13)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["log1p", "sin", "cos", "erf"])
def test_new_unary_ops_match_torch_values_grads_and_node_names(name):
    torch = pytest.importorskip("torch")
    x = RNG.uniform(-0.9, 3.0, size=(4, 5))
    t = fastnn.tensor(x, dtype=fastnn.float64, requires_grad=True)
    r = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out, ref = getattr(t, name)(), getattr(r, name)()
    assert out.grad_fn.name_() == type(ref.grad_fn).__name__
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    assert_close(out, ref.detach().numpy())
    assert_close(t.grad, r.grad.numpy())


def test_exp_log_chain_gradient():
    x = RNG.uniform(0.5, 2.0, size=(3, 4))
    t = fastnn.tensor(x, dtype=fastnn.float64, requires_grad=True)
    (fastnn.log(fastnn.exp(t) + 1.0) * fastnn.sqrt(t)).sum().backward()
    sig = 1 / (1 + np.exp(-x))
    assert_close(t.grad, sig * np.sqrt(x) + np.log1p(np.exp(x)) / (2 * np.sqrt(x)))


# ---- clamp ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.0, 0.0), (1.0, -1.0)], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_clamp_forward(bounds, shape, dtype):
    lo, hi = bounds
    x = RNG.uniform(-1, 1, size=shape).astype(dtype.np)
    t = fastnn.tensor(x)
    ref = x.astype(np.float64)
    if lo is not None:
        ref = np.maximum(ref, lo)
    if hi is not None:
        ref = np.minimum(ref, hi)  # min > max gives max everywhere, as PyTorch
    for out in (fastnn.clamp(t, lo, hi), t.clamp(min=lo, max=hi), fastnn.clip(t, lo, hi), t.clip(lo, hi)):
        assert out.dtype is dtype
        assert_close(out, ref)


def test_clamp_requires_a_bound():
    with pytest.raises(RuntimeError, match="At least one"):
        fastnn.clamp(fastnn.ones(3))


def test_clamp_integer_tensor_promotes_with_float_bounds():
    t = fastnn.arange(5)
    out = t.clamp(0.5, 2.5)
    assert out.dtype is fastnn.float32
    assert_close(out, np.array([0.5, 1.0, 2.0, 2.5, 2.5]))
    out = t.clamp(1, 3)
    assert out.dtype is fastnn.int64
    assert_close(out, np.array([1, 1, 2, 3, 3]))


def test_clamp_with_tensor_bounds_broadcasts():
    x = RNG.uniform(-2, 2, size=(3, 4))
    lo = RNG.uniform(-1, 0, size=(4,))
    hi = RNG.uniform(0, 1, size=(3, 1))
    out = fastnn.clamp(fastnn.tensor(x), fastnn.tensor(lo), fastnn.tensor(hi))
    assert_close(out, np.minimum(np.maximum(x, lo), hi))
    # A bound wider than the input broadcasts the result; the gradient still comes back in the input's shape.
    v = fastnn.tensor(RNG.uniform(-2, 2, size=(4,)), requires_grad=True)
    wide = fastnn.tensor(np.full((3, 4), -0.5))
    out = fastnn.clamp(v, wide)
    assert out.shape == (3, 4)
    out.sum().backward()
    assert v.grad.shape == (4,)
    assert_close(v.grad, 3.0 * (np.asarray(v.detach()) >= -0.5))


def test_clamp_gradient_passes_at_the_boundaries():
    t = fastnn.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=fastnn.float64, requires_grad=True)
    t.clamp(-1.0, 1.0).sum().backward()
    assert_close(t.grad, np.array([0.0, 1.0, 1.0, 1.0, 0.0]))


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (None, 0.3), (-0.2, None)], ids=str)
@pytest.mark.parametrize("shape", GRAD_SHAPES, ids=str)
def test_clamp_gradcheck(bounds, shape):
    x = away_from(RNG.uniform(-1, 1, size=shape), [b for b in bounds if b is not None], margin=0.05)
    gradcheck_op(lambda t: fastnn.clamp(t, *bounds), x)


# ---- maximum / minimum ----------------------------------------------------------------------------------
EXTREMA = {"maximum": (fastnn.maximum, np.maximum), "minimum": (fastnn.minimum, np.minimum)}
PAIRS = [((), ()), ((7,), (7,)), ((3, 1), (1, 4)), ((2, 3, 5), (5,)), ((1,), (6,)), ((0, 3), (3,))]


@pytest.mark.parametrize("name", list(EXTREMA))
@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_extrema_forward(name, shapes, dtype):
    fn, ref = EXTREMA[name]
    xa = RNG.uniform(-1, 1, size=shapes[0]).astype(dtype.np)
    xb = RNG.uniform(-1, 1, size=shapes[1]).astype(dtype.np)
    a, b = fastnn.tensor(xa), fastnn.tensor(xb)
    for out in (fn(a, b), getattr(a, name)(b)):
        assert out.dtype is dtype
        assert_close(out, ref(xa, xb))
    # max(a, other) / min(a, other) with a tensor second argument are the element-wise ops.
    other = getattr(fastnn, name[:3])(a, b)
    assert_close(other, ref(xa, xb))


@pytest.mark.parametrize("name", list(EXTREMA))
def test_extrema_propagate_nan_and_promote(name):
    fn, ref = EXTREMA[name]
    xa = np.array([np.nan, 1.0, 2.0], np.float32)
    xb = np.array([0.0, np.nan, 3.0], np.float64)
    out = fn(fastnn.tensor(xa), fastnn.tensor(xb))
    assert out.dtype is fastnn.float64
    assert_close(out, ref(xa.astype(np.float64), xb))
    assert_close(fn(fastnn.tensor([1, 5]), fastnn.tensor([3, 2])), ref([1, 5], [3, 2]), check_dtype=False)
    assert fn(fastnn.tensor([1, 5]), fastnn.tensor([3, 2])).dtype is fastnn.int64


@pytest.mark.parametrize("name", list(EXTREMA))
@pytest.mark.parametrize("shapes", [p for p in PAIRS if 0 not in p[0] + p[1]], ids=str)
def test_extrema_gradcheck(name, shapes):
    fn = EXTREMA[name][0]
    rng = np.random.default_rng(11)
    # a on a 0.2 grid, b halfway between grid points (each jittered by at most 0.02): every pair that
    # broadcasting brings together differs by >= 0.06, so no tie sits inside the finite-difference step.
    xa = 0.2 * rng.integers(-5, 6, size=shapes[0]) + rng.uniform(-0.02, 0.02, size=shapes[0])
    xb = 0.2 * rng.integers(-5, 6, size=shapes[1]) + 0.1 + rng.uniform(-0.02, 0.02, size=shapes[1])
    gradcheck_op(fn, xa, xb)


@pytest.mark.parametrize("name", list(EXTREMA))
def test_extrema_ties_split_the_gradient_in_half(name):
    fn = EXTREMA[name][0]
    a = fastnn.tensor([1.0, 2.0, 3.0, -1.0], dtype=fastnn.float64, requires_grad=True)
    b = fastnn.tensor([1.0, 3.0, 2.0, -1.0], dtype=fastnn.float64, requires_grad=True)
    fn(a, b).backward(fastnn.tensor([2.0, 1.0, 1.0, 4.0], dtype=fastnn.float64))
    # Elements 0 and 3 tie (half each); in 1 and 2 the winner takes all.
    if name == "maximum":
        assert_close(a.grad, np.array([1.0, 0.0, 1.0, 2.0]))
        assert_close(b.grad, np.array([1.0, 1.0, 0.0, 2.0]))
    else:
        assert_close(a.grad, np.array([1.0, 1.0, 0.0, 2.0]))
        assert_close(b.grad, np.array([1.0, 0.0, 1.0, 2.0]))


def test_maximum_broadcast_tie_gradient_matches_torch_rule():
    a = fastnn.tensor([[1.0, 2.0], [0.0, 5.0]], requires_grad=True)
    b = fastnn.tensor([1.0, 3.0], requires_grad=True)
    fastnn.maximum(a, b).sum().backward()
    assert_close(a.grad, np.array([[0.5, 0.0], [0.0, 1.0]]))
    assert_close(b.grad, np.array([1.5, 1.0]))


def test_maximum_with_python_scalar():
    # torch.maximum has no Scalar overload: a Python number is torch's TypeError; a 0-d tensor is the way.
    with pytest.raises(TypeError, match="maximum\\(\\): argument 'other' \\(position 2\\) must be Tensor, not float"):
        fastnn.maximum(fastnn.ones(3), 0.5)
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    t = fastnn.tensor(x, requires_grad=True)
    out = fastnn.maximum(t, fastnn.tensor(0.5))
    assert out.dtype is fastnn.float32
    assert_close(out, np.maximum(x, 0.5))
    out.sum().backward()
    assert_close(t.grad, np.array([0.0, 0.5, 1.0]))


# ---- where ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [((5,), (5,), (5,)), ((3, 1), (1, 4), (3, 4)), ((2, 3), (3,), ()),
                                    ((), (2, 2), (2, 1)), ((1,), (1,), (7,)), ((0, 2), (2,), (1, 2))], ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_where_forward(shapes, dtype):
    c = RNG.random(shapes[0]) < 0.5
    xa = RNG.standard_normal(shapes[1]).astype(dtype.np)
    xb = RNG.standard_normal(shapes[2]).astype(dtype.np)
    out = fastnn.where(fastnn.tensor(c), fastnn.tensor(xa), fastnn.tensor(xb))
    assert out.dtype is dtype
    assert_close(out, np.where(c, xa, xb))


@pytest.mark.parametrize("shapes", [((5,), (5,), (5,)), ((3, 1), (1, 4), (3, 4)), ((2, 3), (3,), ()),
                                    ((), (2, 2), (2, 1))], ids=str)
def test_where_gradcheck(shapes):
    c = fastnn.tensor(np.random.default_rng(2).random(shapes[0]) < 0.5)
    gradcheck_op(lambda a, b: fastnn.where(c, a, b), shapes[1], shapes[2])


def test_where_gradient_routes_by_condition():
    c = fastnn.tensor([[True, False, True]])
    a = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = fastnn.tensor([[4.0], [5.0]], requires_grad=True)
    out = fastnn.where(c, a, b)
    assert out.shape == (2, 3)
    out.backward(fastnn.tensor([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]]))
    assert_close(a.grad, np.array([3.0, 0.0, 300.0]))
    assert_close(b.grad, np.array([[10.0], [20.0]]))


def test_where_with_scalars_and_promotion():
    c = fastnn.tensor([True, False, True])
    t = fastnn.tensor([1.0, 2.0, 3.0])
    assert_close(fastnn.where(c, t, 0.0), np.array([1.0, 0.0, 3.0]))
    assert_close(fastnn.where(c, -1.0, t), np.array([-1.0, 2.0, -1.0]))
    out = fastnn.where(c, 1.0, 0.0)
    assert out.dtype is fastnn.float32
    assert_close(out, np.array([1.0, 0.0, 1.0]))
    assert fastnn.where(c, fastnn.tensor([1, 2, 3]), 0.5).dtype is fastnn.float32
    assert fastnn.where(c, fastnn.tensor([1, 2, 3]), 0).dtype is fastnn.int64
    assert fastnn.where(c, t, fastnn.tensor([1.0, 2.0, 3.0], dtype=fastnn.float64)).dtype is fastnn.float64


def test_where_requires_bool_condition():
    with pytest.raises(TypeError, match="bool"):
        fastnn.where(fastnn.tensor([1, 0]), fastnn.ones(2), fastnn.zeros(2))
