"""RMSprop: ``torch.optim.RMSprop`` (plain, centered, with momentum), a vectorised update per tensor.

RMSprop is not on a fused kernel: its step is five elementwise passes, cheap next to the
forward/backward it follows, so array ops in place (no temporaries beyond the gradient) are enough.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from ._functional import _check_lists, _mark_written, _per_tensor
from ._state import lerp_
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop with torch.optim.RMSprop's arguments, defaults, state (``step``, ``square_avg``,
    ``momentum_buffer`` when momentum > 0, ``grad_avg`` when centered) and single-tensor update::

        g = -grad if maximize else grad;  g += weight_decay * param
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        avg = sqrt(square_avg - grad_avg**2) (centered, grad_avg lerped toward g by 1 - alpha) or sqrt(square_avg)
        avg += eps
        buf = momentum * buf + g / avg;  param -= lr * buf      (momentum > 0)
        param -= lr * g / avg                                    (otherwise)

    ``foreach`` is accepted for compatibility; ``capturable``/``differentiable`` are not supported.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False, differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if capturable or differentiable:
            raise NotImplementedError("fastnn.optim.RMSprop: capturable and differentiable are not supported")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            momentum, centered = group["momentum"], group["centered"]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    xp = backend_of(p._data).xp
                    state["step"] = Tensor._wrap(xp.zeros((), np.float32))
                    state["square_avg"] = Tensor._wrap(xp.zeros_like(p._data, order="C"))
                    if momentum > 0:
                        state["momentum_buffer"] = Tensor._wrap(xp.zeros_like(p._data, order="C"))
                    if centered:
                        state["grad_avg"] = Tensor._wrap(xp.zeros_like(p._data, order="C"))
            states = [self.state[p] for p in params]
            rmsprop(params, [p.grad for p in params], [s["square_avg"] for s in states],
                    [s["grad_avg"] for s in states] if centered else [],
                    [s["momentum_buffer"] for s in states] if momentum > 0 else [],
                    [s["step"] for s in states], lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                    weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
                    maximize=group["maximize"])
        return loss


def rmsprop(params: list[Tensor], grads: list[Tensor], square_avgs: list[Tensor], grad_avgs: list[Tensor],
            momentum_buffer_list: list[Tensor], state_steps: list[Tensor], *, lr: float, alpha: float, eps: float,
            weight_decay: float, momentum: float, centered: bool, maximize: bool) -> None:
    """One RMSprop step over every tensor, in place (``torch.optim.rmsprop.rmsprop``'s functional form)."""
    _check_lists("rmsprop", params, grads=grads, square_avgs=square_avgs, state_steps=state_steps)
    if centered:
        _check_lists("rmsprop", params, grad_avgs=grad_avgs)
    if momentum > 0:
        _check_lists("rmsprop", params, momentum_buffer_list=momentum_buffer_list)
    ps = [t._data for t in params]
    for be, i in _per_tensor(ps):
        p = ps[i]
        dt = p.dtype.type  # scalars in the parameter's dtype, as torch casts them for float32 kernels
        g = grads[i]._data.astype(p.dtype, copy=False)
        g = -g if maximize else g.copy()
        state_steps[i]._data[...] += 1
        if weight_decay != 0:
            g += dt(weight_decay) * p
        sq = square_avgs[i]._data
        sq *= dt(alpha)
        sq += dt(1 - alpha) * g * g
        if centered:
            ga = grad_avgs[i]._data
            lerp_(ga, g, dt(1 - alpha))
            avg = be.xp.sqrt(sq - ga * ga)
        else:
            avg = be.xp.sqrt(sq)
        avg += dt(eps)
        if momentum > 0:
            buf = momentum_buffer_list[i]._data
            buf *= dt(momentum)
            buf += g / avg
            p -= dt(lr) * buf
        else:
            p += dt(-lr) * (g / avg)
    _mark_written(params, square_avgs, state_steps, grad_avgs if centered else (),
                  momentum_buffer_list if momentum > 0 else ())
