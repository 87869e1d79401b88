"""Adadelta: ``torch.optim.Adadelta``, a vectorised update per tensor."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from ._state import check_nonnegative, refuse, scalar_state, signed_grad, weight_decay_, zeros_state
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta with torch.optim.Adadelta's arguments, defaults, state (``step``, ``square_avg``,
    ``acc_delta``) and single-tensor update::

        g = -grad if maximize else grad;  g += weight_decay * param
        square_avg = rho * square_avg + (1 - rho) * g * g
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        param -= lr * delta
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        refuse("Adadelta", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = scalar_state(p)
                    state["square_avg"] = zeros_state(p)
                    state["acc_delta"] = zeros_state(p)
            states = [self.state[p] for p in params]
            adadelta(params, [p.grad for p in params], [s["square_avg"] for s in states],
                     [s["acc_delta"] for s in states], [s["step"] for s in states], lr=group["lr"],
                     rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                     maximize=group["maximize"])
        return loss


def adadelta(params: list[Tensor], grads: list[Tensor], square_avgs: list[Tensor], acc_deltas: list[Tensor],
             state_steps: list[Tensor], *, lr: float, rho: float, eps: float, weight_decay: float,
             maximize: bool) -> None:
    """One Adadelta step over every tensor, in place (``torch.optim.adadelta.adadelta``'s functional form)."""
    _check_lists("adadelta", params, grads=grads, square_avgs=square_avgs, acc_deltas=acc_deltas,
                 state_steps=state_steps)
    ps = [t._data for t in params]
    for be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type  # scalars in the parameter's dtype, as torch's float32 kernels take them
        state_steps[i]._data[...] += 1
        g = signed_grad(grads[i], p, maximize)
        weight_decay_(p, g, weight_decay)
        sq, acc = square_avgs[i]._data, acc_deltas[i]._data
        sq *= dt(rho)
        sq += dt(1 - rho) * g * g
        delta = be.xp.sqrt(acc + dt(eps))
        delta /= be.xp.sqrt(sq + dt(eps))
        delta *= g
        acc *= dt(rho)
        acc += dt(1 - rho) * delta * delta
        p += dt(-lr) * delta
    _mark_written(params, square_avgs, acc_deltas, state_steps)
