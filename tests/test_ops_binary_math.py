"""Binary and ternary math (ops/binary_math.py) against torch: remainder / fmod / floor_divide and the // and %
operators (signs, integer dtypes, ZeroDivisionError), div's rounding modes, atan2, hypot, copysign, logaddexp(2),
xlogy, xlog1py, fmax/fmin, lerp, addcmul/addcdiv, isclose/allclose/equal, clamp_min/max, heaviside,
float_power; broadcasting, gradients (gradcheck in float64 and torch's gradients) and PyTorch's errors."""
import numpy as np
import pytest
import torch

import fastnn
from op_helpers import assert_close, gradcheck_op, noncontiguous

RNG = np.random.default_rng(0)

# name -> (sampling range of both operands, whether it is differentiable in both)
BINARY = {
    "remainder": (-5, 5), "fmod": (-5, 5), "atan2": (-3, 3), "hypot": (-3, 3), "copysign": (-3, 3),
    "logaddexp": (-5, 5), "logaddexp2": (-5, 5), "xlogy": (0.1, 4), "fmax": (-3, 3), "fmin": (-3, 3),
}


def _pair(shape_a, shape_b, lo, hi, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, size=shape_a).astype(dtype), rng.uniform(lo, hi, size=shape_b).astype(dtype)


def _torch_fn(name):
    return torch.special.xlog1py if name == "xlog1py" else getattr(torch, name)


def _fastnn_fn(name):
    return fastnn.special.xlog1py if name == "xlog1py" else getattr(fastnn, name)


@pytest.mark.parametrize("name", sorted(BINARY) + ["xlog1py"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_match_torch(name, dtype):
    lo, hi = BINARY.get(name, (0.1, 4))
    for sa, sb in [((4, 5), (4, 5)), ((3, 1), (1, 4)), ((), (3,)), ((0, 2), (2,)), ((1,), ())]:
        a, b = _pair(sa, sb, lo, hi, dtype)
        got = _fastnn_fn(name)(fastnn.tensor(a), fastnn.tensor(b))
        want = _torch_fn(name)(torch.from_numpy(a), torch.from_numpy(b))
        assert got.dtype.name == str(want.dtype).split(".")[1]
        assert_close(got, want.numpy(), msg=f"{name}{sa}{sb}")
    a, b = _pair((3, 4), (3, 4), lo, hi, dtype)
    assert_close(_fastnn_fn(name)(noncontiguous(a), noncontiguous(b, "step")),
                 _torch_fn(name)(torch.from_numpy(a), torch.from_numpy(b)).numpy())
    if name != "xlog1py":
        assert_close(getattr(fastnn.tensor(a), name)(fastnn.tensor(b)),
                     _torch_fn(name)(torch.from_numpy(a), torch.from_numpy(b)).numpy())


@pytest.mark.parametrize("name", sorted(BINARY) + ["xlog1py"])
def test_gradients_match_torch(name):
    lo, hi = BINARY.get(name, (0.1, 4))
    a, b = _pair((3, 4), (4,), lo, hi, seed=2)
    if name in ("fmax", "fmin"):
        b[0] = a[0, 0]  # a tie: the gradient goes to the first operand, as torch's
        a[1, 1] = np.nan
    ta, tb = torch.from_numpy(a).requires_grad_(), torch.from_numpy(b).requires_grad_()
    _torch_fn(name)(ta, tb).backward(torch.ones(3, 4, dtype=torch.float64))
    fa, fb = fastnn.tensor(a, requires_grad=True), fastnn.tensor(b, requires_grad=True)
    _fastnn_fn(name)(fa, fb).backward(fastnn.ones(3, 4, dtype=fastnn.float64))
    assert_close(fa.grad, ta.grad.numpy(), msg=f"{name} d/da")
    assert_close(fb.grad, tb.grad.numpy(), msg=f"{name} d/db")


@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "logaddexp2", "xlogy", "copysign"])
def test_gradcheck(name):
    lo, hi = BINARY[name]
    a, b = _pair((3, 2), (2,), lo, hi, seed=5)
    if name in ("hypot", "atan2", "copysign"):  # away from the origin / zero, where they have kinks
        a = np.where(np.abs(a) < 0.3, 0.5, a)
        b = np.where(np.abs(b) < 0.3, -0.5, b)
    gradcheck_op(getattr(fastnn, name), a, b)


def test_remainder_fmod_gradients():
    a = np.array([5.5, -5.5, 3.2, -1.1])
    b = np.array([2.0, 2.0, -1.5, 0.7])
    for name in ("remainder", "fmod"):
        gradcheck_op(getattr(fastnn, name), a, b)


INTS_A = np.array([5, -5, 7, -7, 0, 9])
INTS_B = np.array([3, 3, -2, -2, 4, 1])


@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide"])
def test_integer_division_stays_integer(name):
    got = getattr(fastnn, name)(fastnn.tensor(INTS_A), fastnn.tensor(INTS_B))
    want = getattr(torch, name)(torch.from_numpy(INTS_A), torch.from_numpy(INTS_B))
    assert got.dtype is fastnn.int64
    assert_close(got, want.numpy())
    # an int tensor with a float scalar promotes to float32; a scalar first works too
    assert_close(getattr(fastnn, name)(fastnn.tensor(INTS_A), 2.5),
                 getattr(torch, name)(torch.from_numpy(INTS_A), 2.5).numpy())
    if name != "fmod":  # torch.fmod takes no scalar dividend (fastnn's does)
        assert_close(getattr(fastnn, name)(7, fastnn.tensor(INTS_B)),
                     getattr(torch, name)(7, torch.from_numpy(INTS_B)).numpy())


@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide"])
def test_integer_division_by_zero_raises(name):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        getattr(fastnn, name)(fastnn.tensor([1, 2]), fastnn.tensor([1, 0]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        getattr(torch, name)(torch.tensor([1, 2]), torch.tensor([1, 0]))


@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide"])
def test_bool_refused(name):
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        getattr(fastnn, name)(fastnn.tensor([True]), fastnn.tensor([True]))


def test_float_division_edge_cases():
    # (Not compared: remainder(1e308, 1e-308), whose quotient overflows: torch's vectorised loop gives NaN
    # there and its scalar loop the exact fmod, which NumPy, so fastnn, gives.)
    a = np.array([1.0, -1.0, 0.0, -7.5, 0.5, 5.5, -5.5, 6.0, 1e300])
    b = np.array([0.0, 0.0, 0.0, 2.0, -0.0, -2.0, 2.0, 3.0, 7.0])
    for name in ("remainder", "fmod", "floor_divide"):
        assert_close(getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b)),
                     getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy(), 0, 0, msg=name)


def test_operators():
    a, b = fastnn.tensor(INTS_A), fastnn.tensor(INTS_B)
    ta, tb = torch.from_numpy(INTS_A), torch.from_numpy(INTS_B)
    assert_close(a // b, (ta // tb).numpy())
    assert_close(a % b, (ta % tb).numpy())
    assert_close(a // 2, (ta // 2).numpy())
    assert_close(-7 // b, (-7 // tb).numpy())
    assert_close(-7 % b, (-7 % tb).numpy())
    assert_close(a % 2.5, (ta % 2.5).numpy())
    x = np.array([5.5, -5.5, 0.3])
    assert_close(fastnn.tensor(x) % -2.0, (torch.from_numpy(x) % -2.0).numpy())
    assert_close(10.0 // fastnn.tensor(x), (10.0 // torch.from_numpy(x)).numpy())
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a % 0


def test_floor_divide_has_no_derivative():
    x = fastnn.tensor([1.5, 2.5], requires_grad=True)
    y = x // 2
    assert y.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        y.sum().backward()


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_modes(mode):
    for a, b in [(INTS_A, INTS_B), (INTS_A.astype(np.float32) + 0.5, INTS_B.astype(np.float32)),
                 (INTS_A, 2.5), (INTS_A, 2)]:
        fb = fastnn.tensor(b) if isinstance(b, np.ndarray) else b
        tb = torch.from_numpy(b) if isinstance(b, np.ndarray) else b
        got = fastnn.div(fastnn.tensor(a), fb, rounding_mode=mode)
        want = torch.div(torch.from_numpy(a), tb, rounding_mode=mode)
        assert got.dtype.name == str(want.dtype).split(".")[1]
        assert_close(got, want.numpy())
        assert_close(fastnn.tensor(a).div(fb, rounding_mode=mode), want.numpy())
        assert_close(fastnn.divide(fastnn.tensor(a), fb, rounding_mode=mode), want.numpy())
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fastnn.div(fastnn.tensor([3]), 0, rounding_mode=mode)
    x = fastnn.tensor([1.5, -2.5], requires_grad=True)
    fastnn.div(x, 2.0, rounding_mode=mode).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_div_true_and_bad_mode():
    assert_close(fastnn.div(fastnn.tensor([3, 4]), 2), np.array([1.5, 2.0], np.float32))
    assert fastnn.true_divide(fastnn.tensor([3.0]), 2).tolist() == [1.5]
    with pytest.raises(RuntimeError, match="div expected rounding_mode to be one of None, 'trunc', or 'floor'"):
        fastnn.div(fastnn.tensor([3.0]), 2, rounding_mode="round")


def test_float_only_ops_refuse_or_promote_integers():
    a, b = fastnn.tensor([3, 4]), fastnn.tensor([4, 3])
    for name in ("hypot", "logaddexp", "logaddexp2"):
        with pytest.raises(NotImplementedError, match=f"{name}_cpu\" not implemented for 'Long'"):
            getattr(fastnn, name)(a, b)
    for name in ("atan2", "copysign", "xlogy"):
        got = getattr(fastnn, name)(a, b)
        want = getattr(torch, name)(torch.tensor([3, 4]), torch.tensor([4, 3]))
        assert got.dtype is fastnn.float32 and want.dtype == torch.float32
        assert_close(got, want.numpy())
    assert fastnn.arctan2 is fastnn.atan2


def test_logaddexp_extremes():
    a = np.array([np.inf, -np.inf, -np.inf, 1000.0, -1000.0, np.nan])
    b = np.array([np.inf, -np.inf, 3.0, 1000.0, -1001.0, 1.0])
    for name in ("logaddexp", "logaddexp2"):
        assert_close(getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b)),
                     getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy(), msg=name)


def test_xlogy_special_points():
    x = np.array([0.0, 0.0, 0.0, 1.0, 2.0])
    y = np.array([0.0, np.nan, -1.0, 0.0, 3.0])
    for name in ("xlogy", "xlog1py"):
        tx, ty = torch.from_numpy(x).requires_grad_(), torch.from_numpy(y).requires_grad_()
        out = _torch_fn(name)(tx, ty)
        out.backward(torch.ones(5, dtype=torch.float64))
        fx, fy = fastnn.tensor(x, requires_grad=True), fastnn.tensor(y, requires_grad=True)
        fout = _fastnn_fn(name)(fx, fy)
        fout.backward(fastnn.ones(5, dtype=fastnn.float64))
        assert_close(fout, out.detach().numpy(), msg=name)
        assert_close(fx.grad, tx.grad.numpy(), msg=name)
        assert_close(fy.grad, ty.grad.numpy(), msg=name)
    assert_close(fastnn.xlogy(2, fastnn.tensor([3.0])), torch.xlogy(2, torch.tensor([3.0])).numpy())


def test_fmax_fmin_nan_handling():
    a = np.array([1.0, np.nan, np.nan, 2.0])
    b = np.array([np.nan, 3.0, np.nan, 1.0])
    for name in ("fmax", "fmin"):
        assert_close(getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b)),
                     getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy(), 0, 0)
    assert fastnn.fmax(fastnn.tensor([1, 5]), fastnn.tensor([3, 2])).dtype is fastnn.int64


@pytest.mark.parametrize("weight", [0.3, 0.8, "tensor"])
def test_lerp(weight):
    s, e = _pair((3, 4), (4,), -2, 2, seed=7)
    w = RNG.uniform(-0.5, 1.5, size=(3, 1)) if weight == "tensor" else weight
    fw = fastnn.tensor(w, requires_grad=True) if weight == "tensor" else w
    tw = torch.from_numpy(w).requires_grad_() if weight == "tensor" else w
    ts, te = torch.from_numpy(s).requires_grad_(), torch.from_numpy(e).requires_grad_()
    fs, fe = fastnn.tensor(s, requires_grad=True), fastnn.tensor(e, requires_grad=True)
    want = torch.lerp(ts, te, tw)
    got = fastnn.lerp(fs, fe, fw)
    assert_close(got, want.detach().numpy())
    want.backward(torch.ones(3, 4, dtype=torch.float64))
    got.backward(fastnn.ones(3, 4, dtype=fastnn.float64))
    assert_close(fs.grad, ts.grad.numpy())
    assert_close(fe.grad, te.grad.numpy())
    if weight == "tensor":
        assert_close(fw.grad, tw.grad.numpy())
        gradcheck_op(fastnn.lerp, s, e, w)
    else:
        gradcheck_op(lambda a, b: fastnn.lerp(a, b, weight), s, e)
    assert_close(fastnn.tensor(s).lerp(fastnn.tensor(e), 0.3), torch.lerp(torch.from_numpy(s),
                                                                          torch.from_numpy(e), 0.3).numpy())


def test_lerp_errors_and_inplace():
    with pytest.raises(NotImplementedError, match="lerp_kernel_scalar\" not implemented for 'Long'"):
        fastnn.lerp(fastnn.tensor([1, 2]), fastnn.tensor([3, 4]), 0.5)
    with pytest.raises(RuntimeError, match="expected dtype float for `end` but got dtype double"):
        fastnn.lerp(fastnn.tensor([1.0]), fastnn.tensor([2.0], dtype=fastnn.float64), 0.5)
    x = fastnn.tensor([0.0, 10.0])
    assert x.lerp_(fastnn.tensor([10.0, 0.0]), 0.25) is x and x.tolist() == [2.5, 7.5]


def test_addcmul_addcdiv():
    i, t1, t2 = _pair((3, 4), (4,), -2, 2, seed=8) + (RNG.uniform(0.5, 2, size=(3, 1)),)
    for name, value in (("addcmul", 1), ("addcmul", -0.5), ("addcdiv", 1), ("addcdiv", 2.0)):
        tt = [torch.from_numpy(v).requires_grad_() for v in (i, t1, t2)]
        ft = [fastnn.tensor(v, requires_grad=True) for v in (i, t1, t2)]
        want = getattr(torch, name)(*tt, value=value)
        got = getattr(fastnn, name)(*ft, value=value)
        assert_close(got, want.detach().numpy())
        want.backward(torch.ones(3, 4, dtype=torch.float64))
        got.backward(fastnn.ones(3, 4, dtype=fastnn.float64))
        for f, t in zip(ft, tt):
            assert_close(f.grad, t.grad.numpy(), msg=name)
        assert_close(getattr(fastnn.tensor(i), name)(fastnn.tensor(t1), fastnn.tensor(t2), value=value),
                     want.detach().numpy())
    assert_close(fastnn.addcmul(fastnn.tensor([1, 2]), fastnn.tensor([3, 4]), fastnn.tensor([3, 4]), value=2),
                 np.array([19, 34]))
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        fastnn.addcdiv(fastnn.tensor([1, 2]), fastnn.tensor([3, 4]), fastnn.tensor([3, 4]))
    p = fastnn.tensor([1.0, 2.0])
    assert p.addcmul_(fastnn.tensor([2.0, 2.0]), fastnn.tensor([3.0, 0.5]), value=0.5) is p
    assert p.tolist() == [4.0, 2.5]
    assert p.addcdiv_(fastnn.tensor([1.0, 1.0]), fastnn.tensor([2.0, 4.0])).tolist() == [4.5, 2.75]


def test_isclose_allclose_equal():
    a = np.array([1.0, 1.0 + 1e-6, np.inf, -np.inf, np.nan, 1.0, 0.0])
    b = np.array([1.0, 1.0, np.inf, np.inf, np.nan, 1.1, 1e-9])
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 0.0, "rtol": 0.0}):
        assert_close(fastnn.isclose(fastnn.tensor(a), fastnn.tensor(b), **kw),
                     torch.isclose(torch.from_numpy(a), torch.from_numpy(b), **kw).numpy())
        assert fastnn.allclose(fastnn.tensor(a[:2]), fastnn.tensor(b[:2]), **kw) == \
            torch.allclose(torch.from_numpy(a[:2]), torch.from_numpy(b[:2]), **kw)
    assert fastnn.tensor(a[:2]).allclose(fastnn.tensor(b[:2]))
    ia, ib = np.array([1, 2, 3]), np.array([1, 3, 3])
    assert_close(fastnn.isclose(fastnn.tensor(ia), fastnn.tensor(ib)),
                 torch.isclose(torch.from_numpy(ia), torch.from_numpy(ib)).numpy())
    with pytest.raises(RuntimeError, match="Long did not match Float"):
        fastnn.isclose(fastnn.tensor([1]), fastnn.tensor([1.0]))
    assert fastnn.equal(fastnn.tensor([1, 2]), fastnn.tensor([1.0, 2.0])) is True
    assert fastnn.equal(fastnn.tensor([1, 2]), fastnn.tensor([1, 2, 3])) is False
    assert fastnn.tensor([1.0]).equal(fastnn.tensor([2.0])) is False


def test_clamp_min_max():
    x = np.array([-2.0, 0.5, 3.0])
    assert_close(fastnn.clamp_min(fastnn.tensor(x), 0.0), torch.clamp_min(torch.from_numpy(x), 0.0).numpy())
    assert_close(fastnn.clamp_max(fastnn.tensor(x), 1.0), torch.clamp_max(torch.from_numpy(x), 1.0).numpy())
    assert_close(fastnn.tensor([1, 5]).clamp_min(0.5), torch.tensor([1, 5]).clamp_min(0.5).numpy())
    gradcheck_op(lambda t: fastnn.clamp_min(t, 0.1), np.array([-1.0, 0.5, 2.0]))
    y = fastnn.tensor(x)
    assert y.clamp_max_(1.0) is y and y.tolist() == [-2.0, 0.5, 1.0]


@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_clamp_min_max_tensor_bound_gradients(name):
    x = np.array([[1.0, np.nan, 3.0, 2.0], [0.5, -1.0, 2.0, 4.0]])
    m = np.array([2.0, 2.0, np.nan, 2.0])
    tx, tm = torch.from_numpy(x).requires_grad_(), torch.from_numpy(m).requires_grad_()
    want = getattr(torch, name)(tx, tm)
    want.backward(torch.ones_like(want))
    fx, fm = fastnn.tensor(x, requires_grad=True), fastnn.tensor(m, requires_grad=True)
    got = getattr(fastnn, name)(fx, fm)
    got.backward(fastnn.ones(2, 4, dtype=fastnn.float64))
    assert_close(got, want.detach().numpy())
    assert got.grad_fn.name == want.grad_fn.name()
    assert_close(fx.grad, tx.grad.numpy())
    assert_close(fm.grad, tm.grad.numpy())
    assert getattr(fastnn, name)(fastnn.tensor([1, 5]), 3).dtype is fastnn.int64


def test_heaviside():
    x = np.array([-1.0, 0.0, 2.0, 0.0])
    v = np.array([0.5])
    assert_close(fastnn.heaviside(fastnn.tensor(x), fastnn.tensor(v)),
                 torch.heaviside(torch.from_numpy(x), torch.from_numpy(v)).numpy())
    assert_close(fastnn.tensor([-3, 0, 4]).heaviside(fastnn.tensor([7])), np.array([0, 7, 1]))
    with pytest.raises(RuntimeError, match="heaviside is not yet implemented for tensors with different dtypes."):
        fastnn.heaviside(fastnn.tensor(x), fastnn.tensor([1]))
    t = fastnn.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
        fastnn.heaviside(t, fastnn.tensor(v)).sum().backward()


def test_float_power():
    a = np.array([1, 2, 3])
    got = fastnn.float_power(fastnn.tensor(a), 2)
    assert got.dtype is fastnn.float64
    assert_close(got, torch.float_power(torch.from_numpy(a), 2).numpy())
    x = fastnn.tensor([1.5, 2.0], requires_grad=True)
    y = fastnn.float_power(x, fastnn.tensor([2.0, 0.5]))
    assert y.dtype is fastnn.float64
    y.sum().backward()
    assert x.grad.dtype is fastnn.float32
    assert_close(x.grad, np.array([3.0, 0.5 * 2.0 ** -0.5], np.float32))
    assert_close(fastnn.tensor([2.0]).float_power(3), np.array([8.0]))
