"""RAdam: ``torch.optim.RAdam`` (Adam with a rectified adaptive learning rate), a vectorised update per tensor."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from ._state import check_betas, check_nonnegative, lerp_, refuse, scalar_state, signed_grad, weight_decay_, zeros_state
from .optimizer import Optimizer


class RAdam(Optimizer):
    """RAdam with torch.optim.RAdam's arguments, defaults, state (``step``, ``exp_avg``, ``exp_avg_sq``) and
    single-tensor update: Adam's moments; while the variance estimate is untrustworthy (rho_t <= 5) the
    step is SGD with momentum on the bias-corrected first moment, afterwards Adam's step scaled by the
    rectification term::

        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        rect = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        param -= lr * m / (1 - beta1**t) * [rect * sqrt(1 - beta2**t) / (sqrt(v) + eps)   if rho_t > 5]
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        refuse("RAdam", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = scalar_state(p)
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
            states = [self.state[p] for p in params]
            beta1, beta2 = group["betas"]
            radam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                  [s["exp_avg_sq"] for s in states], [s["step"] for s in states], beta1=beta1, beta2=beta2,
                  lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
                  decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
        return loss


def radam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
          state_steps: list[Tensor], *, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
          decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
    """One RAdam step over every tensor, in place (``torch.optim.radam.radam``'s functional form)."""
    _check_lists("radam", params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, state_steps=state_steps)
    ps = [t._data for t in params]
    rho_inf = 2 / (1 - beta2) - 1
    for be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type
        step_arr = state_steps[i]._data
        step_arr[...] += 1
        step = float(step_arr)
        g = signed_grad(grads[i], p, maximize)
        weight_decay_(p, g, weight_decay, lr, decoupled_weight_decay)
        m, v = exp_avgs[i]._data, exp_avg_sqs[i]._data
        lerp_(m, g, dt(1 - beta1))
        v *= dt(beta2)
        v += dt(1 - beta2) * g * g
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        update = (m / dt(bias_correction1)) * dt(lr)
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            denom = be.xp.sqrt(v)
            denom += dt(eps)
            update *= dt(bias_correction2 ** 0.5) / denom
            update *= dt(rect)
        p -= update
    _mark_written(params, exp_avgs, exp_avg_sqs, state_steps)
