"""fastnn.special (torch.special's names) and the accuracy of the special functions NumPy lacks, which fastnn
computes itself (ops/special_math.py): erfc, erfcx, erfinv, lgamma, digamma (and trigamma, digamma's derivative),
ndtr, log_ndtr, ndtri, entr, i0.

Accuracy achieved (measured here, asserted with a little headroom):
- float64 against mpmath at 30 digits: erfc relative 6e-14 (|x| < 2 goes through 1 - erf); erfinv 2e-15 on
  the CPU backend's erf (5e-15 on the composite one's; ndtri's tail down to p = 1e-300 against torch);
  lgamma absolute 4e-15 / relative 1e-14 away from its roots; digamma absolute 2e-15; trigamma relative
  1e-15 (torch's float64 trigamma is only good to ~1e-9).
- float32 against torch: within 2 ulps-ish (rtol 2e-6) everywhere compared.
"""
import math

import numpy as np
import pytest
import torch

import fastnn
from fastnn import special
from fastnn.backend import backend_of
from fastnn.ops import special_math
from op_helpers import assert_close, gradcheck_op

mpmath = pytest.importorskip("mpmath")
mpmath.mp.dps = 30


def _mp(fn, xs):
    return np.array([float(fn(mpmath.mpf(float(v)))) for v in xs])


def test_namespace_has_torch_special_names():
    for name in ("expit", "logit", "erf", "erfc", "erfcx", "erfinv", "log1p", "expm1", "exp2", "xlogy", "xlog1py",
                 "logsumexp", "softmax", "log_softmax", "gammaln", "digamma", "psi", "sinc", "entr", "ndtr",
                 "log_ndtr", "ndtri", "i0", "round"):
        assert hasattr(special, name), name
        assert hasattr(torch.special, name), name
    assert special.expit is fastnn.sigmoid
    assert special.gammaln is fastnn.lgamma
    assert fastnn.special is special


SAMPLES = np.concatenate([np.linspace(-6, 6, 97), [0.0, 1e-8, -1e-8, 0.3, 2.0, -2.0, 5.9]])


@pytest.mark.parametrize("name", ["expit", "logit", "erf", "erfc", "erfcx", "erfinv", "log1p", "expm1", "exp2",
                                  "gammaln", "digamma", "psi", "sinc", "entr", "ndtr", "log_ndtr", "ndtri", "i0",
                                  "round"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_match_torch(name, dtype):
    x = SAMPLES
    if name in ("logit", "ndtri"):
        x = np.linspace(0.001, 0.999, 101)
    elif name == "erfinv":
        x = np.linspace(-0.999, 0.999, 101)
    elif name in ("gammaln", "digamma", "psi"):
        x = x[np.abs(x - np.round(x)) > 1e-3]  # away from the poles, where a last-ulp argument swings the value
    x = x.astype(dtype)
    got = getattr(special, name)(fastnn.tensor(x))
    want = getattr(torch.special, name)(torch.from_numpy(x))
    rtol, atol = (2e-6, 2e-6) if dtype == np.float32 else (1e-12, 1e-12)
    if name in ("gammaln",) and dtype == np.float64:
        atol = 1e-13
    assert got.dtype.name == str(want.dtype).split(".")[1]
    assert_close(got, want.numpy(), atol, rtol, msg=name)


@pytest.mark.parametrize("name", ["expit", "logit", "erfc", "erfcx", "erfinv", "gammaln", "digamma", "entr", "ndtr",
                                  "log_ndtr", "ndtri", "i0"])
def test_gradients_match_torch(name):
    x = np.array([0.2, 0.45, 0.7, 0.9]) if name in ("logit", "erfinv", "ndtri") else np.array([0.3, 1.7, 2.5, 4.0])
    t = torch.from_numpy(x).requires_grad_()
    getattr(torch.special, name)(t).sum().backward()
    f = fastnn.tensor(x, requires_grad=True)
    getattr(special, name)(f).sum().backward()
    tol = 1e-8 if name == "digamma" else 1e-11  # torch's trigamma: ~1e-9 (see the module docstring)
    assert_close(f.grad, t.grad.numpy(), tol, tol, msg=name)
    gradcheck_op(getattr(special, name), x)


def test_erfc_float64_accuracy():
    x = np.concatenate([np.linspace(-5, 26, 311), [1.99999, 2.0, 2.00001, 0.0]])
    got = special.erfc(fastnn.tensor(x)).numpy()
    want = _mp(mpmath.erfc, x)
    assert_close(got, want, 0, 6e-14)
    # the tail keeps full relative precision where 1 - erf(x) would be 0
    assert special.erfc(fastnn.tensor([10.0], dtype=fastnn.float64)).item() == pytest.approx(2.088487583762545e-45,
                                                                                          rel=1e-14)


def test_erfinv_float64_accuracy():
    y = np.concatenate([np.linspace(-0.999, 0.999, 101), 1 - np.logspace(-16, -1, 12), -(1 - np.logspace(-17, -2, 9))])
    got = special.erfinv(fastnn.tensor(y)).numpy()
    want = _mp(mpmath.erfinv, y)
    # Newton's residual uses the backend's erf: 2e-15 with the CPU kernel, 5e-15 with the composite one.
    assert_close(got, want, 0, 1e-14)
    edge = special.erfinv(fastnn.tensor([1.0, -1.0, 1.5, -0.0], dtype=fastnn.float64)).numpy()
    assert edge[0] == np.inf and edge[1] == -np.inf and np.isnan(edge[2]) and math.copysign(1, edge[3]) == -1


def test_ndtri_deep_tail():
    p = np.array([1e-300, 1e-100, 1e-22, 1e-5, 0.5, 1 - 1e-12])
    assert_close(special.ndtri(fastnn.tensor(p)), torch.special.ndtri(torch.from_numpy(p)).numpy(), 0, 2e-15)


def test_lgamma_float64_accuracy():
    x = np.concatenate([np.linspace(0.01, 30, 150), np.linspace(-9.9, -0.1, 60) + 1e-3, [1e-30, 1e5, 1e10, 171.5]])
    got = special.gammaln(fastnn.tensor(x)).numpy()
    want = _mp(lambda v: mpmath.log(abs(mpmath.gamma(v))), x)
    assert_close(got, want, 4e-15, 1e-14)
    poles = fastnn.lgamma(fastnn.tensor([0.0, -1.0, -2.0, np.inf, -np.inf], dtype=fastnn.float64)).numpy()
    assert_close(poles, torch.lgamma(torch.tensor([0.0, -1.0, -2.0, np.inf, -np.inf], dtype=torch.float64)).numpy())


def test_digamma_and_trigamma_float64_accuracy():
    x = np.concatenate([np.linspace(0.01, 30, 150), np.linspace(-9.9, -0.1, 60) + 1e-3, [1e-30, 1e5, 1e10]])
    be = backend_of(x)
    with np.errstate(all="ignore"):  # the ops run these under the backend's errstate; called directly here
        psi, psi1 = special_math.digamma64(be, x), special_math.trigamma64(be, x)
    assert_close(psi, _mp(mpmath.digamma, x), 2e-15, 2e-15)
    assert_close(psi1, _mp(lambda v: mpmath.psi(1, v), x), 0, 1e-15)
    poles = fastnn.digamma(fastnn.tensor([0.0, -0.0, -1.0, -3.0, np.inf], dtype=fastnn.float64)).numpy()
    assert_close(poles, torch.digamma(torch.tensor([0.0, -0.0, -1.0, -3.0, np.inf], dtype=torch.float64)).numpy())


def test_log_ndtr_tails():
    x = np.array([-40.0, -20.0, -5.0, -1.0, 0.0, 3.0, 10.0, 40.0])
    assert_close(special.log_ndtr(fastnn.tensor(x)), torch.special.log_ndtr(torch.from_numpy(x)).numpy(), 1e-14,
                 1e-13)
    t = torch.from_numpy(x).requires_grad_()
    torch.special.log_ndtr(t).sum().backward()
    f = fastnn.tensor(x, requires_grad=True)
    special.log_ndtr(f).sum().backward()
    assert_close(f.grad, t.grad.numpy(), 1e-12, 1e-10)


def test_i0_large_arguments_and_gradient():
    x = np.array([0.0, 1.0, -5.0, 29.0, 31.0, 60.0, -100.0])
    assert_close(special.i0(fastnn.tensor(x)), torch.special.i0(torch.from_numpy(x)).numpy(), 0, 1e-14)
    t = torch.from_numpy(x).requires_grad_()
    torch.special.i0(t).sum().backward()
    f = fastnn.tensor(x, requires_grad=True)
    fastnn.i0(f).sum().backward()
    assert_close(f.grad, t.grad.numpy(), 0, 1e-13)


def test_binary_and_reductions():
    a, b = np.array([0.0, 1.0, 2.0]), np.array([3.0, 0.5, -0.5])
    assert_close(special.xlogy(fastnn.tensor(a), fastnn.tensor(np.abs(b))),
                 torch.special.xlogy(torch.from_numpy(a), torch.from_numpy(np.abs(b))).numpy())
    assert_close(special.xlog1py(fastnn.tensor(a), fastnn.tensor(b)),
                 torch.special.xlog1py(torch.from_numpy(a), torch.from_numpy(b)).numpy())
    m = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    assert_close(special.logsumexp(fastnn.tensor(m), 1), torch.special.logsumexp(torch.from_numpy(m), 1).numpy())
    for name in ("softmax", "log_softmax"):
        got = getattr(special, name)(fastnn.tensor(m), 0, dtype=fastnn.float64)
        want = getattr(torch.special, name)(torch.from_numpy(m), 0, dtype=torch.float64)
        assert got.dtype is fastnn.float64
        assert_close(got, want.numpy())


def test_entr_edges():
    x = np.array([0.0, -1.0, 0.5, np.nan, np.inf])
    assert_close(special.entr(fastnn.tensor(x)), torch.special.entr(torch.from_numpy(x)).numpy())


def test_erfcx_range():
    x = np.concatenate([np.linspace(-26, 1e3, 301), [1e10, 1e300, np.inf, -np.inf, np.nan]])
    assert_close(special.erfcx(fastnn.tensor(x)), torch.special.erfcx(torch.from_numpy(x)).numpy(), 0, 2e-14)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_polygamma(n):
    x = np.concatenate([np.linspace(0.05, 12, 60), np.linspace(-4.9, -0.1, 25) + 1e-2, [30.0, 200.0]])
    got = fastnn.polygamma(n, fastnn.tensor(x))
    want = torch.polygamma(n, torch.from_numpy(x)).numpy()
    # torch's own float64 trigamma is good to ~1e-9 (mpmath says ours is exact): compare n = 1 with mpmath
    if n == 1:
        want = _mp(lambda v: mpmath.psi(1, v), x)
    assert_close(got, want, 1e-13, 1e-12 if n else 1e-12)
    assert_close(fastnn.special.polygamma(n, fastnn.tensor(x[:5])), got.numpy()[:5])
    assert_close(fastnn.tensor(x[:5]).polygamma(n), got.numpy()[:5])
    xf = x.astype(np.float32)
    assert_close(fastnn.polygamma(n, fastnn.tensor(xf)), torch.polygamma(n, torch.from_numpy(xf)).numpy(), 1e-5, 2e-5)
    gradcheck_op(lambda t: fastnn.polygamma(n, t), np.array([0.7, 1.9, 3.3, 6.0]))
    with pytest.raises(RuntimeError, match="polygamma\\(n, x\\) does not support negative n."):
        fastnn.polygamma(-1, fastnn.tensor([1.0]))


def test_zeta():
    s = np.array([1.0, 1.5, 2.0, 3.0, 10.0, 30.0, 0.5, 2.0, 2.0, 2.0, 4.0, 2.5])
    q = np.array([1.0, 2.0, 0.5, -1.5, 3.0, 1e-3, 1.0, 0.0, -2.0, -1.5, 100.0, -0.5])
    assert_close(special.zeta(fastnn.tensor(s), fastnn.tensor(q)),
                 torch.special.zeta(torch.from_numpy(s), torch.from_numpy(q)).numpy(), 0, 1e-13)
    # large s: the direct sum stops at 120 (no million-step loop), and the value still matches
    big_s, big_q = np.array([100.0, 130.0, 1e6, 200.0]), np.array([1.0, 120.0, 1.0, 1.5])
    assert_close(special.zeta(fastnn.tensor(big_s), fastnn.tensor(big_q)),
                 torch.special.zeta(torch.from_numpy(big_s), torch.from_numpy(big_q)).numpy(), 0, 1e-13)
    s2 = fastnn.tensor([2.0, 3.0], dtype=fastnn.float64)
    assert_close(special.zeta(s2, 1.0), np.array([math.pi ** 2 / 6, 1.2020569031595942]), 0, 1e-14)
    t = fastnn.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::special_zeta is not implemented"):
        special.zeta(t, fastnn.tensor([1.0])).sum().backward()


@pytest.mark.parametrize("name", ["i0e", "i1", "i1e", "modified_bessel_i0", "modified_bessel_i1",
                                  "spherical_bessel_j0"])
def test_bessel_family(name):
    x = np.concatenate([np.linspace(-50, 50, 201), [0.0, 29.99, 30.01, 700.0, -720.0]])
    got = getattr(special, name)(fastnn.tensor(x))
    assert_close(got, getattr(torch.special, name)(torch.from_numpy(x)).numpy(), 1e-300, 2e-14)
    xf = x.astype(np.float32)[:-2]
    assert_close(getattr(special, name)(fastnn.tensor(xf)), getattr(torch.special, name)(torch.from_numpy(xf)).numpy(),
                 1e-30, 2e-6)
    if name in ("i0e", "i1", "i1e"):
        pts = np.array([0.0, 0.4, -1.3, 5.0, 35.0, -40.0])
        t = torch.from_numpy(pts).requires_grad_()
        getattr(torch.special, name)(t).sum().backward()
        f = fastnn.tensor(pts, requires_grad=True)
        getattr(special, name)(f).sum().backward()
        assert_close(f.grad, t.grad.numpy(), 1e-14, 1e-12)
        gradcheck_op(getattr(special, name), pts[1:])


def test_mvlgamma():
    x = np.array([2.5, 3.0, 7.25])
    for p in (1, 3, 5):
        got = fastnn.mvlgamma(fastnn.tensor(x), p)
        assert_close(got, torch.mvlgamma(torch.from_numpy(x), p).numpy(), 1e-13, 1e-13)
        assert_close(special.multigammaln(fastnn.tensor(x), p), got)
        assert_close(fastnn.tensor(x).mvlgamma(p), got)
        gradcheck_op(lambda t: fastnn.mvlgamma(t, p), x)
    with pytest.raises(RuntimeError, match="All elements must be greater than \\(p-1\\)/2"):
        fastnn.mvlgamma(fastnn.tensor([1.0]), 3)
