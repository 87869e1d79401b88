"""ASGD: ``torch.optim.ASGD`` (averaged SGD), a vectorised update per tensor."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from ._state import check_nonnegative, refuse, scalar_state, signed_grad, weight_decay_, zeros_state
from .optimizer import Optimizer


class ASGD(Optimizer):
    """Averaged SGD with torch.optim.ASGD's arguments, defaults, state (``step``, ``eta``, ``mu``, ``ax``) and
    single-tensor update::

        param *= 1 - lambd * eta;  param -= eta * g
        ax = param (mu == 1) or ax + mu * (param - ax)
        eta = lr / (1 + lambd * lr * step)**alpha;  mu = 1 / max(1, step - t0)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_nonnegative(lr=lr, weight_decay=weight_decay)
        refuse("ASGD", capturable=capturable, differentiable=differentiable)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = scalar_state(p)
                    state["eta"] = scalar_state(p, group["lr"])
                    state["mu"] = scalar_state(p, 1.0)
                    state["ax"] = zeros_state(p)
            states = [self.state[p] for p in params]
            asgd(params, [p.grad for p in params], [s["ax"] for s in states], [s["mu"] for s in states],
                 [s["eta"] for s in states], [s["step"] for s in states], lambd=group["lambd"], lr=group["lr"],
                 t0=group["t0"], alpha=group["alpha"], weight_decay=group["weight_decay"],
                 maximize=group["maximize"])
        return loss


def asgd(params: list[Tensor], grads: list[Tensor], axs: list[Tensor], mus: list[Tensor], etas: list[Tensor],
         state_steps: list[Tensor], *, lambd: float, lr: float, t0: float, alpha: float, weight_decay: float,
         maximize: bool = False) -> None:
    """One ASGD step over every tensor, in place (``torch.optim.asgd.asgd``'s functional form)."""
    _check_lists("asgd", params, grads=grads, axs=axs, mus=mus, etas=etas, state_steps=state_steps)
    ps = [t._data for t in params]
    for _be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type
        step_arr = state_steps[i]._data
        step_arr[...] += 1
        g = signed_grad(grads[i], p, maximize)
        weight_decay_(p, g, weight_decay)
        eta = float(etas[i]._data)
        p *= dt(1 - lambd * eta)
        p += dt(-eta) * g
        ax, mu = axs[i]._data, float(mus[i]._data)
        if mu != 1:
            ax += (p - ax) * dt(mu)
        else:
            ax[...] = p
        step = float(step_arr)
        etas[i]._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
        mus[i]._data[...] = 1 / max(1, step - t0)
    _mark_written(params, axs, mus, etas, state_steps)
