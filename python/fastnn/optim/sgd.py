"""SGD with momentum, dampening, Nesterov and weight decay: ``torch.optim.SGD`` on the fused kernel."""
from __future__ import annotations

from typing import Any, Callable, Iterable

from . import _functional as F
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, with torch.optim.SGD's arguments, defaults and update::

        g = -grad if maximize else grad;  g += weight_decay * param
        buf = g (first step) or momentum * buf + (1 - dampening) * g;  g = g + momentum * buf if nesterov else buf
        param -= lr * g

    ``foreach`` and ``fused`` are accepted for compatibility: every group is updated by one fused call.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise NotImplementedError("fastnn.optim.SGD: differentiable=True is not supported")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            momentum = group["momentum"]
            buffers = [self.state[p].get("momentum_buffer") for p in params] if momentum != 0 else []
            F.sgd(params, [p.grad for p in params], buffers, lr=group["lr"], momentum=momentum,
                  dampening=group["dampening"], nesterov=group["nesterov"], weight_decay=group["weight_decay"],
                  maximize=group["maximize"])
            if momentum != 0:
                for p, buf in zip(params, buffers):
                    self.state[p]["momentum_buffer"] = buf
        return loss
