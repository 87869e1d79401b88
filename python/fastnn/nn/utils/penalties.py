"""L1 / L2 weight penalties to add to a loss: ``loss + lam * l2_penalty(model.parameters())``.

Both are differentiable single graph nodes over the whole parameter list (fastnn.ops.penalty).

- ``l1_penalty(params)`` = sum_k sum_i |p_ki|; its gradient is sign(p) (0 at 0, as torch's abs).
- ``l2_penalty(params)`` = sum_k sum_i p_ki^2 (no 1/2); its gradient is 2 p. So
  ``loss + 0.5 * wd * l2_penalty(params)`` adds exactly ``wd * p`` to each gradient, the same as
  ``optim.SGD(..., weight_decay=wd)`` (but not AdamW's decoupled decay).

torch has no such helpers; the usual torch spelling is ``sum(p.abs().sum() for p in params)`` /
``sum(p.pow(2).sum() for p in params)``, which gives the same value and gradients.
"""
from __future__ import annotations

from ...ops.penalty import norm_penalty
from ..._tensor import Tensor


def _params(parameters) -> list:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def l1_penalty(parameters) -> Tensor:
    """Sum of absolute values over every element of ``parameters`` (a tensor or an iterable), as a 0-d
    differentiable tensor."""
    return norm_penalty(_params(parameters), "l1")


def l2_penalty(parameters) -> Tensor:
    """Sum of squares over every element of ``parameters`` (a tensor or an iterable), as a 0-d
    differentiable tensor; 0.5 * wd * l2_penalty(...) matches SGD's weight_decay=wd."""
    return norm_penalty(_params(parameters), "l2")
