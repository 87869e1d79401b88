"""fastnn.distributions against torch.distributions: log_prob, entropy, moments and KL exactly (same
parameters), sampling statistically (fastnn's generator is not torch's) and reproducibly under manual_seed;
rsample's reparameterised gradients; validate_args' ValueErrors; the policy-gradient pattern."""
import numpy as np
import pytest
import torch
import torch.distributions as TD

import fastnn
import fastnn.distributions as D
from op_helpers import assert_close, gradcheck_op

RNG = np.random.default_rng(7)


def _t(a, grad=False):
    return fastnn.tensor(np.asarray(a, np.float64), requires_grad=grad), torch.tensor(np.asarray(a, np.float64),
                                                                                      requires_grad=grad)


def _close(a, b, **kw):
    assert tuple(a.shape) == tuple(b.shape)
    assert_close(a, b.detach().numpy(), **kw)


def test_normal_matches_torch_and_statistics():
    (loc, tloc), (scale, tscale) = _t(RNG.standard_normal((2, 3)), True), _t(RNG.uniform(0.5, 2, (2, 3)), True)
    d, td = D.Normal(loc, scale), TD.Normal(tloc, tscale)
    assert d.batch_shape == td.batch_shape and d.event_shape == td.event_shape
    v, tv = _t(RNG.standard_normal((4, 2, 3)))
    _close(d.log_prob(v), td.log_prob(tv))
    _close(d.entropy(), td.entropy())
    _close(d.cdf(v), td.cdf(tv), atol=1e-9, rtol=1e-9)
    for attr in ("mean", "stddev", "variance", "mode"):
        _close(getattr(d, attr), getattr(td, attr))
    (d.log_prob(v).sum() + d.entropy().sum()).backward()
    (td.log_prob(tv).sum() + td.entropy().sum()).backward()
    _close(loc.grad, tloc.grad)
    _close(scale.grad, tscale.grad)
    fastnn.manual_seed(0)
    s = D.Normal(fastnn.tensor([1.0, -2.0]), fastnn.tensor([0.5, 3.0])).sample((20000,))
    assert s.shape == (20000, 2) and s.dtype is fastnn.float32 and not s.requires_grad
    assert np.allclose(np.asarray(s).mean(0), [1.0, -2.0], atol=0.06)
    assert np.allclose(np.asarray(s).std(0), [0.5, 3.0], rtol=0.03)
    fastnn.manual_seed(0)
    s2 = D.Normal(fastnn.tensor([1.0, -2.0]), fastnn.tensor([0.5, 3.0])).sample((20000,))
    assert_close(s, np.asarray(s2))
    assert repr(D.Normal(0.0, 1.0)) == repr(TD.Normal(0.0, 1.0))


def test_normal_rsample_is_reparameterised():
    loc = fastnn.tensor([0.5], dtype=fastnn.float64, requires_grad=True)
    scale = fastnn.tensor([2.0], dtype=fastnn.float64, requires_grad=True)
    fastnn.manual_seed(1)
    x = D.Normal(loc, scale).rsample((1000,))
    x.sum().backward()
    eps = (np.asarray(x.detach()) - 0.5) / 2.0
    assert_close(loc.grad, [1000.0])
    assert_close(scale.grad, [eps.sum()])
    gradcheck_op(lambda m, s: D.Normal(m, s).log_prob(fastnn.tensor([0.3, -1.0], dtype=fastnn.float64)),
                 (2,), np.array([0.7, 1.5]))


def test_validate_args_errors():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(1,\)\) of distribution "
                                         r"Normal\(loc: 0.0, scale: -1.0\) to satisfy the constraint "
                                         r"GreaterThan\(lower_bound=0.0\), but found invalid values"):
        D.Normal(fastnn.tensor([0.0]), fastnn.tensor([-1.0]))
    D.Normal(fastnn.tensor([0.0]), fastnn.tensor([-1.0]), validate_args=False)  # no check when asked
    with pytest.raises(ValueError, match="constraint Simplex()"):
        D.Categorical(fastnn.tensor([0.5, -0.1]))
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Categorical()
    with pytest.raises(ValueError, match=r"Interval\(lower_bound=0.0, upper_bound=1.0\)"):
        D.Bernoulli(fastnn.tensor([1.5]))
    with pytest.raises(ValueError, match=r"LessThan\(upper_bound=0.0\)"):
        D.Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match=r"to be within the support \(Boolean\(\)\)"):
        D.Bernoulli(fastnn.tensor([0.5])).log_prob(fastnn.tensor([0.5]))
    with pytest.raises(ValueError, match=r"IntegerInterval\(lower_bound=0, upper_bound=1\)"):
        D.Categorical(fastnn.tensor([0.5, 0.5])).log_prob(fastnn.tensor([3]))
    with pytest.raises(ValueError, match="PositiveDefinite()"):
        D.MultivariateNormal(fastnn.zeros(2), -fastnn.eye(2))


@pytest.mark.parametrize("use_logits", [False, True])
def test_categorical_matches_torch(use_logits):
    raw = RNG.uniform(0.1, 1.0, (2, 4)) if not use_logits else RNG.standard_normal((2, 4))
    (p, tp) = _t(raw, True)
    d = D.Categorical(logits=p) if use_logits else D.Categorical(probs=p)
    td = TD.Categorical(logits=tp) if use_logits else TD.Categorical(probs=tp)
    assert d.batch_shape == td.batch_shape and d.event_shape == td.event_shape
    v = np.array([[0, 3], [2, 1], [3, 3]])
    _close(d.log_prob(fastnn.tensor(v)), td.log_prob(torch.tensor(v)))
    _close(d.entropy(), td.entropy())
    _close(d.probs, td.probs)
    _close(d.logits, td.logits)
    (d.log_prob(fastnn.tensor(v)).sum() + d.entropy().sum()).backward()
    (td.log_prob(torch.tensor(v)).sum() + td.entropy().sum()).backward()
    _close(p.grad, tp.grad)
    assert np.isnan(np.asarray(d.mean)).all() and d.mean.shape == (2,)
    assert_close(d.mode, td.mode.numpy())
    assert repr(d) == repr(td)
    _close(d.enumerate_support(), td.enumerate_support())


def test_categorical_sampling_and_zero_probabilities():
    fastnn.manual_seed(0)
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.0, 0.5]])
    d = D.Categorical(fastnn.tensor(probs))
    s = d.sample((40000,))
    assert s.dtype is fastnn.int64 and s.shape == (40000, 2)
    freq = np.stack([(np.asarray(s) == k).mean(0) for k in range(3)], -1)
    assert np.allclose(freq, probs, atol=0.01)
    assert (np.asarray(s)[:, 1] != 1).all()
    assert d.sample().shape == (2,)
    fastnn.manual_seed(0)
    assert (np.asarray(d.sample((40000,))) == np.asarray(s)).all()
    tp = torch.tensor([0.0, 1.0])
    _close(D.Categorical(fastnn.tensor([0.0, 1.0])).entropy(), TD.Categorical(tp).entropy())
    _close(D.Categorical(fastnn.tensor([0.0, 1.0])).log_prob(fastnn.tensor(0)), TD.Categorical(tp).log_prob(
        torch.tensor(0)))


def test_policy_gradient_pattern():
    # dist = Categorical(probs); a = dist.sample(); loss = -dist.log_prob(a) * R  (written as torch users do)
    torch_ = fastnn
    logits = torch_.tensor([[0.2, -0.4, 1.0]], requires_grad=True)
    probs = torch_.softmax(logits, dim=-1)
    dist = D.Categorical(probs)
    fastnn.manual_seed(3)
    a = dist.sample()
    loss = -dist.log_prob(a) * 2.5
    loss.sum().backward()
    tl = torch.tensor([[0.2, -0.4, 1.0]], requires_grad=True)
    tdist = TD.Categorical(torch.softmax(tl, -1))
    (-tdist.log_prob(torch.tensor(a.tolist())) * 2.5).sum().backward()
    assert_close(logits.grad, tl.grad.numpy(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("use_logits", [False, True])
def test_bernoulli_matches_torch_and_samples(use_logits):
    raw = RNG.uniform(0.05, 0.95, (3,)) if not use_logits else RNG.standard_normal((3,))
    p, tp = _t(raw, True)
    d = D.Bernoulli(logits=p) if use_logits else D.Bernoulli(probs=p)
    td = TD.Bernoulli(logits=tp) if use_logits else TD.Bernoulli(probs=tp)
    v, tv = _t([[0, 1, 1], [1, 0, 0]])
    _close(d.log_prob(v), td.log_prob(tv))
    _close(d.entropy(), td.entropy())
    for attr in ("mean", "variance", "probs", "logits"):
        _close(getattr(d, attr), getattr(td, attr))
    (d.log_prob(v).sum() + d.entropy().sum()).backward()
    (td.log_prob(tv).sum() + td.entropy().sum()).backward()
    _close(p.grad, tp.grad)
    fastnn.manual_seed(0)
    s = D.Bernoulli(fastnn.tensor([0.2, 0.9])).sample((20000,))
    assert s.dtype is fastnn.float32 and set(np.unique(np.asarray(s))) <= {0.0, 1.0}
    assert np.allclose(np.asarray(s).mean(0), [0.2, 0.9], atol=0.012)
    _close(D.Bernoulli(fastnn.tensor([0.0, 1.0])).entropy(), TD.Bernoulli(torch.tensor([0.0, 1.0])).entropy())


def test_uniform_matches_torch_and_rsample():
    (lo, tlo), (hi, thi) = _t([0.0, -1.0], True), _t([2.0, 3.0], True)
    d, td = D.Uniform(lo, hi), TD.Uniform(tlo, thi)
    v, tv = _t([[0.5, 2.5], [1.9, -0.5]])
    _close(d.log_prob(v), td.log_prob(tv))
    _close(d.entropy(), td.entropy())
    _close(d.cdf(v), td.cdf(tv))
    for attr in ("mean", "variance", "stddev"):
        _close(getattr(d, attr), getattr(td, attr))
    (d.log_prob(v).sum() + d.entropy().sum()).backward()
    (td.log_prob(tv).sum() + td.entropy().sum()).backward()
    _close(lo.grad, tlo.grad)
    _close(hi.grad, thi.grad)
    fastnn.manual_seed(0)
    s = np.asarray(D.Uniform(fastnn.tensor([0.0, -1.0]), fastnn.tensor([2.0, 3.0])).sample((20000,)))
    assert (s >= [0, -1]).all() and (s < [2, 3]).all()
    assert np.allclose(s.mean(0), [1.0, 1.0], atol=0.04)
    out = D.Uniform(0.0, 1.0, validate_args=False).log_prob(fastnn.tensor([2.0]))
    assert np.isneginf(np.asarray(out)).all()


@pytest.mark.parametrize("param", ["covariance_matrix", "scale_tril", "precision_matrix"])
def test_multivariate_normal_matches_torch(param):
    a = RNG.standard_normal((2, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + 3 * np.eye(3)
    mat = {"covariance_matrix": cov, "scale_tril": np.linalg.cholesky(cov), "precision_matrix": np.linalg.inv(cov)}
    (loc, tloc), (m, tm) = _t(RNG.standard_normal((2, 3)), True), _t(mat[param], True)
    d, td = D.MultivariateNormal(loc, **{param: m}), TD.MultivariateNormal(tloc, **{param: tm})
    assert d.batch_shape == td.batch_shape and d.event_shape == td.event_shape
    v, tv = _t(RNG.standard_normal((4, 2, 3)))
    _close(d.log_prob(v), td.log_prob(tv), atol=1e-9, rtol=1e-9)
    _close(d.entropy(), td.entropy(), atol=1e-9, rtol=1e-9)
    for attr in ("mean", "variance", "covariance_matrix", "scale_tril"):
        _close(getattr(d, attr), getattr(td, attr), atol=1e-9, rtol=1e-9)
    (d.log_prob(v).sum() + d.entropy().sum()).backward()
    (td.log_prob(tv).sum() + td.entropy().sum()).backward()
    _close(loc.grad, tloc.grad, atol=1e-9, rtol=1e-8)
    if param != "precision_matrix":  # torch symmetrises differently through its precision path
        _close(m.grad, tm.grad, atol=1e-8, rtol=1e-7)
    assert repr(d) == repr(td)


def test_multivariate_normal_sampling():
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    fastnn.manual_seed(0)
    d = D.MultivariateNormal(fastnn.tensor([1.0, -1.0], dtype=fastnn.float64),
                             covariance_matrix=fastnn.tensor(cov))
    s = np.asarray(d.sample((40000,)))
    assert s.shape == (40000, 2)
    assert np.allclose(s.mean(0), [1, -1], atol=0.03)
    assert np.allclose(np.cov(s.T), cov, atol=0.05)
    loc = fastnn.tensor([1.0, -1.0], dtype=fastnn.float64, requires_grad=True)
    D.MultivariateNormal(loc, scale_tril=fastnn.eye(2, dtype=fastnn.float64)).rsample((5,)).sum().backward()
    assert_close(loc.grad, [5.0, 5.0])


def test_independent_and_kl_divergence():
    (loc, tloc), (scale, tscale) = _t(RNG.standard_normal((2, 3))), _t(RNG.uniform(0.5, 2, (2, 3)))
    d, td = D.Independent(D.Normal(loc, scale), 1), TD.Independent(TD.Normal(tloc, tscale), 1)
    assert d.batch_shape == td.batch_shape and d.event_shape == td.event_shape
    v, tv = _t(RNG.standard_normal((2, 3)))
    _close(d.log_prob(v), td.log_prob(tv))
    _close(d.entropy(), td.entropy())
    assert repr(d) == repr(td)
    (l2, tl2), (s2, ts2) = _t(RNG.standard_normal((2, 3))), _t(RNG.uniform(0.5, 2, (2, 3)))
    pairs = [
        (D.Normal(loc, scale), D.Normal(l2, s2), TD.Normal(tloc, tscale), TD.Normal(tl2, ts2)),
        (d, D.Independent(D.Normal(l2, s2), 1), td, TD.Independent(TD.Normal(tl2, ts2), 1)),
    ]
    pr, qr = RNG.uniform(0.1, 1, (2, 4)), RNG.uniform(0.1, 1, (2, 4))
    pairs.append((D.Categorical(fastnn.tensor(pr)), D.Categorical(fastnn.tensor(qr)),
                  TD.Categorical(torch.tensor(pr)), TD.Categorical(torch.tensor(qr))))
    pairs.append((D.Bernoulli(fastnn.tensor(pr[0] / 1.1)), D.Bernoulli(fastnn.tensor(qr[0] / 1.1)),
                  TD.Bernoulli(torch.tensor(pr[0] / 1.1)), TD.Bernoulli(torch.tensor(qr[0] / 1.1))))
    a = RNG.standard_normal((3, 3))
    c1, c2 = a @ a.T + np.eye(3), np.eye(3) * 2
    pairs.append((D.MultivariateNormal(fastnn.tensor(pr[0, :3]), fastnn.tensor(c1)),
                  D.MultivariateNormal(fastnn.tensor(qr[0, :3]), fastnn.tensor(c2)),
                  TD.MultivariateNormal(torch.tensor(pr[0, :3]), torch.tensor(c1)),
                  TD.MultivariateNormal(torch.tensor(qr[0, :3]), torch.tensor(c2))))
    pairs.append((D.Uniform(0.0, 1.0), D.Uniform(-1.0, 2.0), TD.Uniform(0.0, 1.0), TD.Uniform(-1.0, 2.0)))
    for p, q, tp, tq in pairs:
        _close(D.kl_divergence(p, q), TD.kl_divergence(tp, tq), atol=1e-6, rtol=1e-6)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(fastnn.tensor(0.3)))


def test_one_hot_categorical():
    pr = RNG.uniform(0.1, 1, (2, 3))
    d, td = D.OneHotCategorical(fastnn.tensor(pr)), TD.OneHotCategorical(torch.tensor(pr))
    v = np.eye(3)[[0, 2]]
    _close(d.log_prob(fastnn.tensor(v)), td.log_prob(torch.tensor(v)))
    _close(d.entropy(), td.entropy())
    assert d.event_shape == td.event_shape and d.batch_shape == td.batch_shape
    fastnn.manual_seed(0)
    s = np.asarray(d.sample((20000,)))
    assert s.shape == (20000, 2, 3) and (s.sum(-1) == 1).all()
    assert np.allclose(s.mean(0), pr / pr.sum(-1, keepdims=True), atol=0.015)
