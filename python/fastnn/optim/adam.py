"""Adam and AdamW: ``torch.optim.Adam`` / ``torch.optim.AdamW`` on the fused multi-tensor kernel."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from . import _functional as F
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam with torch.optim.Adam's arguments, defaults, state (``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` with amsgrad) and single-tensor formulas: bias corrections in double,
    ``denom = sqrt(v) / sqrt(1 - beta2**step) + eps``, ``param -= lr / (1 - beta1**step) * m / denom``.
    ``weight_decay`` adds ``wd * param`` to the gradient (L2); ``decoupled_weight_decay=True`` (AdamW)
    scales the parameter by ``1 - lr * wd`` instead. ``foreach``/``fused`` are accepted for
    compatibility: every group is one fused call.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise NotImplementedError(f"fastnn.optim.{type(self).__name__}: capturable and differentiable are not "
                                      "supported")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            amsgrad = group["amsgrad"]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    # torch keeps the step as a float32 scalar tensor; exp_avg(_sq) like the parameter
                    xp = backend_of(p._data).xp
                    state["step"] = Tensor._wrap(xp.zeros((), np.float32))
                    state["exp_avg"] = Tensor._wrap(xp.zeros_like(p._data, order="C"))
                    state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p._data, order="C"))
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p._data, order="C"))
            states = [self.state[p] for p in params]
            beta1, beta2 = group["betas"]
            F.adam(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                   [s["exp_avg_sq"] for s in states], [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
                   [s["step"] for s in states], lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                   weight_decay=group["weight_decay"], amsgrad=amsgrad, maximize=group["maximize"],
                   decoupled=group["decoupled_weight_decay"])
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (``param *= 1 - lr * weight_decay`` before the Adam update),
    torch.optim.AdamW's defaults (weight_decay=1e-2)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
