"""Adamax: ``torch.optim.Adamax`` (Adam with an infinity-norm second moment), a vectorised update per tensor."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from ._state import check_betas, check_nonnegative, lerp_, refuse, scalar_state, signed_grad, weight_decay_, zeros_state
from .optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax with torch.optim.Adamax's arguments, defaults, state (``step``, ``exp_avg``, ``exp_inf``) and
    single-tensor update::

        g = -grad if maximize else grad;  g += weight_decay * param
        exp_avg = lerp(exp_avg, g, 1 - beta1);  exp_inf = max(beta2 * exp_inf, |g| + eps)
        param -= lr / (1 - beta1**step) * exp_avg / exp_inf
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        refuse("Adamax", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = scalar_state(p)
                    state["exp_avg"] = zeros_state(p)
                    state["exp_inf"] = zeros_state(p)
            states = [self.state[p] for p in params]
            beta1, beta2 = group["betas"]
            adamax(params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_inf"] for s in states],
                   [s["step"] for s in states], eps=group["eps"], beta1=beta1, beta2=beta2, lr=group["lr"],
                   weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss


def adamax(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_infs: list[Tensor],
           state_steps: list[Tensor], *, eps: float, beta1: float, beta2: float, lr: float, weight_decay: float,
           maximize: bool) -> None:
    """One Adamax step over every tensor, in place (``torch.optim.adamax.adamax``'s functional form)."""
    _check_lists("adamax", params, grads=grads, exp_avgs=exp_avgs, exp_infs=exp_infs, state_steps=state_steps)
    ps = [t._data for t in params]
    for be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type
        step_arr = state_steps[i]._data
        step_arr[...] += 1
        g = signed_grad(grads[i], p, maximize)
        weight_decay_(p, g, weight_decay)
        m, u = exp_avgs[i]._data, exp_infs[i]._data
        lerp_(m, g, dt(1 - beta1))
        u *= dt(beta2)
        be.xp.maximum(u, be.xp.abs(g) + dt(eps), out=u)
        clr = lr / (1 - beta1 ** float(step_arr))  # in double, as torch's Python-side arithmetic
        p += dt(-clr) * (m / u)
    _mark_written(params, exp_avgs, exp_infs, state_steps)
