"""Per-parameter state and the small in-place array helpers shared by the vectorised optimizers
(the ones whose step is a few elementwise passes per tensor, not a fused kernel)."""
from __future__ import annotations

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor


def scalar_state(p: Tensor, value: float = 0.0) -> Tensor:
    """A 0-d float32 state tensor (torch keeps ``step``, ``mu_product``, ``eta``, ``mu`` as such), on the
    parameter's device."""
    return Tensor._wrap(backend_of(p._data).xp.full((), value, np.float32))


def zeros_state(p: Tensor) -> Tensor:
    """A zero buffer shaped like the parameter, C-contiguous."""
    return Tensor._wrap(backend_of(p._data).xp.zeros_like(p._data, order="C"))


def lerp_(start, end, weight) -> None:
    """``start.lerp_(end, weight)`` with torch's two-sided formula (exact at both ends of the weight)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def signed_grad(grad: Tensor, p, maximize: bool):
    """The gradient as an array of the parameter's dtype that the step may modify (a private copy)."""
    g = grad._data.astype(p.dtype, copy=False)
    return -g if maximize else g.copy()


def weight_decay_(p, g, weight_decay: float, lr: float = 0.0, decoupled: bool = False) -> None:
    """torch's weight decay, in place: the parameter shrinks by ``1 - lr * weight_decay`` (decoupled, as in
    AdamW / NAdamW) or ``weight_decay * param`` joins the gradient ``g`` (L2)."""
    if weight_decay == 0:
        return
    dt = p.dtype.type
    if decoupled:
        p *= dt(1 - lr * weight_decay)
    else:
        g += dt(weight_decay) * p


def check_betas(betas) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def check_nonnegative(**values) -> None:
    """torch's "Invalid <what>: <value>" ValueErrors for hyper-parameters that must be >= 0."""
    labels = {"lr": "learning rate", "eps": "epsilon value"}
    for key, v in values.items():
        if not 0.0 <= v:
            raise ValueError(f"Invalid {labels.get(key, key + ' value')}: {v}")


def refuse(name: str, **flags) -> None:
    """Raises for the torch options fastnn does not implement (rather than ignoring them)."""
    on = [k for k, v in flags.items() if v]
    if on:
        raise NotImplementedError(f"fastnn.optim.{name}: {' and '.join(on)} {'is' if len(on) == 1 else 'are'} "
                                  "not supported")
