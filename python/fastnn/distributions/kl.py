"""kl_divergence(p, q) for the pairs with closed forms, dispatched on the two types (register_kl adds more)."""
from __future__ import annotations

from ..ops import decompositions as _dec
from ..ops import elementwise as _ew
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .independent import Independent, _sum_rightmost
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .uniform import Uniform

_KL_REGISTRY: dict = {}


def register_kl(type_p, type_q):
    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


def kl_divergence(p, q):
    for (tp, tq), fn in _KL_REGISTRY.items():
        if type(p) is tp and type(q) is tq:
            return fn(p, q)
    for (tp, tq), fn in _KL_REGISTRY.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__} and q = {type(q).__name__}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) * (p.scale / q.scale)
    t1 = ((p.loc - q.loc) / q.scale) * ((p.loc - q.loc) / q.scale)
    return 0.5 * (var_ratio + t1 - 1 - _ew.log(var_ratio))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = _ew.where(q.probs == 0, float("inf"), t)
    t = _ew.where(p.probs == 0, 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (_ew.log1p(_ew.exp(-q.logits)) - _ew.log1p(_ew.exp(-p.logits)))
    t2 = (1 - p.probs) * (_ew.log1p(_ew.exp(q.logits)) - _ew.log1p(_ew.exp(p.logits)))
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = _ew.log((q.high - q.low) / (p.high - p.low))
    outside = (q.low > p.low) | (q.high < p.high)
    return _ew.where(outside, float("inf"), result)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different event dims is not implemented")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    n = p.event_shape[0]
    lp, lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    # tr(Sq^-1 Sp) = ||Lq^-1 Lp||_F^2; the Mahalanobis term ||Lq^-1 (mu_q - mu_p)||^2.
    a = _dec.solve(lq, lp)
    diff = (q.loc - p.loc).unsqueeze(-1)
    b = _dec.solve(lq, diff).squeeze(-1)
    half_term = q._half_log_det() - p._half_log_det()
    return half_term + 0.5 * ((a * a).sum((-2, -1)) + (b * b).sum(-1) - n)


