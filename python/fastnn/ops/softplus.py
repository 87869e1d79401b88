"""torch.nn.functional.softplus as one op: log(1 + exp(beta x)) / beta, the identity where beta x exceeds
``threshold``. Written in the stable form max(z, 0) + log1p(exp(-|z|)) (z = beta x) so no exp overflows,
under errstate: beta x overflowing to inf is the linear branch, as in torch, and raises no warning (the
composition of elementwise ops it replaces warned "overflow encountered in multiply" at x = 3.4e38)."""
from __future__ import annotations

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from .activation_extra import _float_input, _sigmoid


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    a, x = _float_input(input, "softplus")
    be = backend_of(x)
    xp = be.xp
    with be.errstate(all="ignore"):
        z = x * x.dtype.type(beta)  # torch scales in the input's dtype
        linear = z > threshold
        soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / x.dtype.type(beta)
        y = xp.where(linear, x, soft).astype(x.dtype, copy=False)

    def backward(g):
        # torch: g where beta x > threshold, else g * sigmoid(beta x); NaN stays NaN.
        with be.errstate(all="ignore"):
            return (xp.where(linear, g, g * _sigmoid(xp, z)).astype(x.dtype, copy=False),)

    return record(Tensor._wrap(y), "SoftplusBackward0", (a,), backward)
