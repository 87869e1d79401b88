"""NAdam: ``torch.optim.NAdam`` (Adam with Nesterov momentum and momentum decay), a vectorised update per tensor."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from ._state import check_betas, check_nonnegative, lerp_, refuse, scalar_state, signed_grad, weight_decay_, zeros_state
from .optimizer import Optimizer


class NAdam(Optimizer):
    """NAdam with torch.optim.NAdam's arguments, defaults, state (``step``, ``mu_product``, ``exp_avg``,
    ``exp_avg_sq``) and single-tensor update::

        mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay));  mu_product *= mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        param -= lr * (1 - mu_t) / (1 - mu_product) * g / denom
        param -= lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

    ``decoupled_weight_decay`` scales the parameter by ``1 - lr * weight_decay`` (NAdamW) instead of adding
    the decay to the gradient.
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        refuse("NAdam", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = scalar_state(p)
                    state["mu_product"] = scalar_state(p, 1.0)
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
            states = [self.state[p] for p in params]
            beta1, beta2 = group["betas"]
            nadam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                  [s["exp_avg_sq"] for s in states], [s["mu_product"] for s in states], [s["step"] for s in states],
                  beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                  momentum_decay=group["momentum_decay"], eps=group["eps"],
                  decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
        return loss


def nadam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
          mu_products: list[Tensor], state_steps: list[Tensor], *, beta1: float, beta2: float, lr: float,
          weight_decay: float, momentum_decay: float, eps: float, decoupled_weight_decay: bool = False,
          maximize: bool = False) -> None:
    """One NAdam step over every tensor, in place (``torch.optim.nadam.nadam``'s functional form)."""
    _check_lists("nadam", params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
                 mu_products=mu_products, state_steps=state_steps)
    ps = [t._data for t in params]
    for be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type
        step_arr = state_steps[i]._data
        step_arr[...] += 1
        step = float(step_arr)
        g = signed_grad(grads[i], p, maximize)
        weight_decay_(p, g, weight_decay, lr, decoupled_weight_decay)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_arr = mu_products[i]._data
        mu_arr *= mu_arr.dtype.type(mu)  # the product is kept in float32, as torch's state tensor
        mu_product = float(mu_arr)
        m, v = exp_avgs[i]._data, exp_avg_sqs[i]._data
        lerp_(m, g, dt(1 - beta1))
        v *= dt(beta2)
        v += dt(1 - beta2) * g * g
        denom = be.xp.sqrt(v / dt(1 - beta2 ** step))
        denom += dt(eps)
        p += dt(-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
        p += dt(-lr * mu_next / (1.0 - mu_product * mu_next)) * (m / denom)
    _mark_written(params, exp_avgs, exp_avg_sqs, mu_products, state_steps)
