"""ldexp, frexp, nextafter, gcd, lcm (ops/float_bits.py), the complex accessors on real tensors
(ops/complex_parts.py), the trapezoidal rule (ops/integrate.py), dist / renorm (ops/norms.py) and rsub,
against torch: values, dtypes, gradients and errors."""
import math

import numpy as np
import pytest
import torch

import fastnn
from op_helpers import assert_close, gradcheck_op


def test_ldexp():
    x = np.array([1.5, -2.0, 0.0, 3.0])
    e = np.array([2, 3, 1, -2])
    assert_close(fastnn.ldexp(fastnn.tensor(x), fastnn.tensor(e)), torch.ldexp(torch.from_numpy(x),
                                                                               torch.from_numpy(e)).numpy())
    got = fastnn.ldexp(fastnn.tensor([1, 2]), fastnn.tensor([2, 3]))
    assert got.dtype is fastnn.float32 and got.tolist() == [4.0, 16.0]
    gradcheck_op(fastnn.ldexp, x, np.array([0.5, 1.0, -1.0, 2.0]))
    assert_close(fastnn.tensor(x).ldexp(fastnn.tensor(e)), fastnn.ldexp(fastnn.tensor(x), fastnn.tensor(e)))


def test_frexp():
    x = np.array([8.0, -0.3, 0.0, np.inf, 1e-310, 3.0])
    m, e = fastnn.frexp(fastnn.tensor(x))
    tm, te = torch.frexp(torch.from_numpy(x))
    assert_close(m, tm.numpy())
    assert_close(e, te.numpy())
    assert e.dtype is fastnn.int32  # torch's exponent dtype
    f = fastnn.tensor([1.0, 2.0], requires_grad=True)
    f.frexp().mantissa.sum().backward()
    assert f.grad.tolist() == [0.5, 0.25]
    with pytest.raises(RuntimeError, match="frexp\\(\\) only supports floating-point dtypes"):
        fastnn.frexp(fastnn.tensor([1, 2]))


def test_nextafter():
    a, b = np.array([1.0, 2.0, 0.0], np.float32), np.array([2.0, 0.0, -1.0], np.float32)
    got = fastnn.nextafter(fastnn.tensor(a), fastnn.tensor(b))
    assert_close(got, torch.nextafter(torch.from_numpy(a), torch.from_numpy(b)).numpy(), 0, 0)
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    fastnn.nextafter(x, fastnn.tensor([2.0, 0.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with pytest.raises(NotImplementedError, match="nextafter_cpu\" not implemented for 'Long'"):
        fastnn.nextafter(fastnn.tensor([1]), fastnn.tensor([2]))


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm(name):
    a, b = np.array([12, -18, 0, 7, 0]), np.array([8, 12, 0, -3, 5])
    got = getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b))
    assert got.dtype is fastnn.int64
    assert_close(got, getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b)).numpy())
    assert_close(getattr(fastnn.tensor(a), name)(fastnn.tensor(b)), got)
    with pytest.raises(NotImplementedError, match=f"{name}_cpu\" not implemented for 'Float'"):
        getattr(fastnn, name)(fastnn.tensor([1.0]), fastnn.tensor([2.0]))


def test_complex_accessors_on_real_tensors():
    x = fastnn.tensor([1.0, -2.0], requires_grad=True)
    for name in ("real", "conj", "conj_physical", "resolve_conj", "resolve_neg"):
        assert getattr(fastnn, name)(x) is x
    assert x.real is x and x.conj() is x
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex dtypes."):
        fastnn.imag(x)
    with pytest.raises(RuntimeError, match="imag is not implemented"):
        x.imag  # noqa: B018


def test_angle():
    for arr in (np.array([-1.0, 0.0, 2.0, np.nan, -0.0]), np.array([-1, 2]), np.array([True, False])):
        got = fastnn.angle(fastnn.tensor(arr))
        want = torch.angle(torch.from_numpy(arr))
        assert got.dtype.name == str(want.dtype).split(".")[1]
        assert_close(got, want.numpy())
    x = fastnn.tensor([1.0, -2.0], requires_grad=True)
    x.angle().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    assert fastnn.angle(fastnn.tensor([-3.0])).item() == pytest.approx(math.pi)


@pytest.mark.parametrize("name", ["trapezoid", "trapz", "cumulative_trapezoid"])
def test_trapezoid_family(name):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(3, 5))
    xs = np.sort(rng.uniform(0, 4, size=5))
    ff, tf = getattr(fastnn, name), getattr(torch, name)
    for args, kw in [((), {}), ((), {"dim": 0}), ((), {"dx": 0.5}), ((fastnn.tensor(xs),), {}),
                     ((fastnn.tensor(np.sort(rng.uniform(0, 4, size=(3, 5)), axis=1)),), {})]:
        targs = tuple(torch.from_numpy(a.numpy()) for a in args)
        if name == "trapz" and "dx" in kw:
            kw = {"dx": kw["dx"]}
        assert_close(ff(fastnn.tensor(y), *args, **kw), tf(torch.from_numpy(y), *targs, **kw).numpy(),
                     msg=f"{name} {kw}")
    iy = np.array([1, 2, 4])
    got, want = ff(fastnn.tensor(iy)), tf(torch.from_numpy(iy))
    assert got.dtype is fastnn.float32 and want.dtype == torch.float32
    assert_close(got, want.numpy())
    for shape in [(0,), (1,), (2, 0)]:
        z = np.ones(shape)
        assert_close(ff(fastnn.tensor(z)), tf(torch.from_numpy(z)).numpy(), msg=str(shape))
    gradcheck_op(lambda a, b: ff(a, b), y, xs)


def test_dist_and_renorm():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    for p in (2, 1, 3.5, math.inf, 0):
        assert_close(fastnn.dist(fastnn.tensor(a), fastnn.tensor(b), p),
                     torch.dist(torch.from_numpy(a), torch.from_numpy(b), p).numpy(), msg=str(p))
    assert_close(fastnn.tensor(a).dist(fastnn.tensor(b)), torch.from_numpy(a).dist(torch.from_numpy(b)).numpy())
    gradcheck_op(lambda u, v: fastnn.dist(u, v, 3), a, b)
    x = rng.normal(size=(4, 3)) * 2
    for p, dim, maxnorm in [(2, 0, 1.5), (1, 1, 2.0), (3, -1, 0.5), (2, 1, 100.0)]:
        assert_close(fastnn.renorm(fastnn.tensor(x), p, dim, maxnorm),
                     torch.renorm(torch.from_numpy(x), p, dim, maxnorm).numpy())
        t = torch.from_numpy(x).requires_grad_()
        torch.renorm(t, p, dim, maxnorm).sum().backward()
        f = fastnn.tensor(x, requires_grad=True)
        f.renorm(p, dim, maxnorm).sum().backward()
        assert_close(f.grad, t.grad.numpy(), 1e-10, 1e-8)
    with pytest.raises(RuntimeError, match="renorm: input needs at least 2 dimensions, got 1 dimensions"):
        fastnn.renorm(fastnn.tensor([1.0, 2.0]), 2, 0, 1.0)


def test_rsub():
    x = np.array([1.0, 2.0])
    assert_close(fastnn.rsub(fastnn.tensor(x), 5.0, alpha=2), torch.rsub(torch.from_numpy(x), 5.0, alpha=2).numpy())
    got = fastnn.rsub(fastnn.tensor([1, 2]), fastnn.tensor([3, 3]))
    assert got.dtype is fastnn.int64 and got.tolist() == [2, 1]
    gradcheck_op(lambda a, b: fastnn.rsub(a, b, alpha=0.5), (2, 3), (3,))
