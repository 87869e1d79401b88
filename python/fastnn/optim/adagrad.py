"""Adagrad: ``torch.optim.Adagrad``, a vectorised update per tensor (three elementwise passes; not
worth a fused kernel next to the step it follows)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad with torch.optim.Adagrad's arguments, defaults, state and single-tensor update::

        g = -grad if maximize else grad;  g += weight_decay * param
        clr = lr / (1 + (step - 1) * lr_decay)
        sum += g * g;  param -= clr * g / (sqrt(sum) + eps)

    As in torch, every parameter's state (``step`` = 0, ``sum`` = initial_accumulator_value) is created by
    the constructor, so a fresh optimizer's ``state_dict()`` already lists it. ``foreach`` is accepted for
    compatibility; ``fused``/``differentiable`` are not supported.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if fused or differentiable:
            raise NotImplementedError("fastnn.optim.Adagrad: fused and differentiable are not supported")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, initial_accumulator_value)

    def _init_state(self, p: Tensor, initial_accumulator_value: float) -> None:
        state = self.state[p]
        xp = backend_of(p._data).xp
        state["step"] = Tensor._wrap(xp.zeros((), np.float32))
        state["sum"] = Tensor._wrap(xp.full_like(p._data, initial_accumulator_value, order="C"))

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                if len(self.state[p]) == 0:  # a group added after construction (torch would raise KeyError)
                    self._init_state(p, group["initial_accumulator_value"])
            states = [self.state[p] for p in params]
            adagrad(params, [p.grad for p in params], [s["sum"] for s in states], [s["step"] for s in states],
                    lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                    eps=group["eps"], maximize=group["maximize"])
        return loss


def adagrad(params: list[Tensor], grads: list[Tensor], state_sums: list[Tensor], state_steps: list[Tensor], *,
            lr: float, weight_decay: float, lr_decay: float, eps: float, maximize: bool) -> None:
    """One Adagrad step over every tensor, in place (``torch.optim.adagrad.adagrad``'s functional form)."""
    _check_lists("adagrad", params, grads=grads, state_sums=state_sums, state_steps=state_steps)
    ps = [t._data for t in params]
    for be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type
        step_arr = state_steps[i]._data
        step_arr[...] += 1
        step = float(step_arr)
        g = grads[i]._data.astype(p.dtype, copy=False)
        g = -g if maximize else g.copy()
        if weight_decay != 0:
            g += dt(weight_decay) * p
        clr = lr / (1 + (step - 1) * lr_decay)  # in double, as torch's Python-side arithmetic
        s = state_sums[i]._data
        s += g * g
        std = be.xp.sqrt(s)
        std += dt(eps)
        p += dt(-clr) * (g / std)
    _mark_written(params, state_sums, state_steps)
