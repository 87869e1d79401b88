"""Binary classification losses: binary_cross_entropy on probabilities and
binary_cross_entropy_with_logits on logits (through a stable log-sigmoid)."""
from __future__ import annotations

from .. import amp_state
import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._loss_util import check_reduction, constant_weight, grad_to, legacy_reduction, reduced_grad, scalar_name
from ._loss_util import reduce as _reduce
from ._util import as_tensor

_EPSILON = 1e-12  # torch's floor on x (1 - x) in the BCE input gradient


def _broadcast_weight(w, shape, op):
    """A weight must broadcast to the input's shape without growing it, as torch's expand requires."""
    if w is None:
        return None
    try:
        full = np.broadcast_shapes(shape, w.shape)
    except ValueError:
        full = None
    if full != tuple(shape):
        raise RuntimeError(f"{op}: weight of shape {list(w.shape)} is not broadcastable to the input's shape "
                           f"{list(shape)}")
    return w


def _log_sigmoid(xp, x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow, full precision in both tails."""
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


@amp_state.fp32_op(3)  # torch's CPU autocast list
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """torch.nn.functional.binary_cross_entropy: -w (y log x + (1 - y) log(1 - x)), each log clamped at
    -100 as torch does, so x = 0 or 1 gives a finite loss."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    check_reduction(reduction)
    inp, tgt = as_tensor(input, "binary_cross_entropy"), as_tensor(target, "binary_cross_entropy")
    if tgt.shape != inp.shape:
        raise ValueError(f"Using a target size (torch.Size({list(tgt.shape)})) that is different to the input size "
                         f"(torch.Size({list(inp.shape)})) is deprecated. Please ensure they have the same size.")
    x, y = inp._data, tgt._data
    backend_of(x, y)  # one device (several CUDA devices: it becomes the current one)
    if x.dtype.kind not in "fV":
        raise TypeError(f"binary_cross_entropy(): expected a floating-point input, got {inp.dtype}")
    if y.dtype != x.dtype:
        raise RuntimeError(f"Found dtype {scalar_name(y.dtype)} but expected {scalar_name(x.dtype)} "
                           "(binary_cross_entropy: target must have the input's dtype)")
    if not ((x >= 0) & (x <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    if not ((y >= 0) & (y <= 1)).all():
        raise RuntimeError("all elements of target should be between 0 and 1")
    w = _broadcast_weight(constant_weight(weight, "binary_cross_entropy", dtype=x.dtype), x.shape,
                          "binary_cross_entropy")
    be = backend_of(x, y, w)
    xp = be.xp
    with be.errstate(divide="ignore"):
        log_x, log_1mx = xp.log(x), xp.log1p(-x)
    loss = -(y * xp.maximum(log_x, -100) + (1 - y) * xp.maximum(log_1mx, -100))
    if w is not None:
        loss = loss * w
    out = _reduce(loss, reduction)
    count = loss.size

    def backward(g):
        gl = reduced_grad(g, reduction, count)
        if w is not None:
            gl = gl * w
        gx = gy = None
        if inp._requires_grad:
            gx = grad_to(gl * (x - y) / xp.maximum((1 - x) * x, _EPSILON), x.shape, x.shape, x.dtype)
        if tgt._requires_grad:  # torch leaves these logs unclamped: +-inf at x = 0 or 1
            with be.errstate(invalid="ignore"):
                gy = grad_to(gl * (log_1mx - log_x), x.shape, y.shape, x.dtype)
        return gx, gy

    return record(Tensor._wrap(out), "BinaryCrossEntropyBackward0", (inp, tgt), backward)


@amp_state.fp32_op(3)  # torch's CPU autocast list
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """torch.nn.functional.binary_cross_entropy_with_logits:
    w ((1 - y) x - (1 + (pos_weight - 1) y) log_sigmoid(x)), stable for any logit."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    check_reduction(reduction)
    op = "binary_cross_entropy_with_logits"
    inp, tgt = as_tensor(input, op), as_tensor(target, op)
    if tgt.shape != inp.shape:
        raise ValueError(f"Target size (torch.Size({list(tgt.shape)})) must be the same as input size "
                         f"(torch.Size({list(inp.shape)}))")
    x, y = inp._data, tgt._data
    if x.dtype.kind not in "fV":
        raise TypeError(f"{op}(): expected a floating-point input, got {inp.dtype}")
    if y.dtype.kind == "b":  # torch's texts: its formula subtracts from the target, in the target's dtype
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if y.dtype.kind in "iu":
        from .int_kernels import stem

        raise RuntimeError(f"result type {stem(inp.dtype)} can't be cast to the desired output type "
                           f"{stem(tgt.dtype)}")
    dt = np.promote_types(x.dtype, y.dtype) if y.dtype.kind in "fV" else x.dtype
    x, y = x.astype(dt, copy=False), y.astype(dt, copy=False)
    w = _broadcast_weight(constant_weight(weight, op, dtype=dt), x.shape, op)
    pw = _broadcast_weight(constant_weight(pos_weight, op, "pos_weight", dtype=dt), x.shape, op)
    be = backend_of(x, y, w, pw)
    xp = be.xp
    with be.errstate(all="ignore"):  # a logit of -3.4e38 times pos_weight is inf, as torch's loss is: no warning
        ls = _log_sigmoid(xp, x)
        if pw is None:
            loss = (1 - y) * x - ls
        else:
            lw = 1 + (pw - 1) * y
            loss = (1 - y) * x - lw * ls
        if w is not None:
            loss = loss * w
        out = _reduce(loss.astype(dt, copy=False), reduction)
    count = loss.size

    def backward(g):
        gl = reduced_grad(g, reduction, count)
        if w is not None:
            gl = gl * w
        gx = gy = None
        with be.errstate(all="ignore"):
            if inp._requires_grad:
                sig = xp.exp(ls)  # no overflow: ls <= 0
                local = sig - y if pw is None else lw * sig - lw + 1 - y
                gx = grad_to(gl * local, x.shape, inp.shape, inp._data.dtype)
            if tgt._requires_grad:
                local = -x if pw is None else -x - (pw - 1) * ls
                gy = grad_to(gl * local, x.shape, tgt.shape, tgt._data.dtype)
        return gx, gy

    return record(Tensor._wrap(out), "BinaryCrossEntropyWithLogitsBackward0", (inp, tgt), backward)
