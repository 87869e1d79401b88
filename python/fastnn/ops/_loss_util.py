"""What every loss shares: the ``reduction`` argument, torch's operand checks and the reduction's gradient.

A loss op computes its element-wise losses as one array, reduces it here, and in backward asks
``reduced_grad`` for the upstream gradient per element: the array itself for 'none', a 0-d scalar for
'sum' and 'mean', so the local derivative times it broadcasts without materialising a ones array.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.grad_mode import is_grad_enabled
from ..backend import backend_of
from ._util import as_tensor, binary_operands, unbroadcast

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str, extra: tuple = ()) -> str:
    if reduction not in REDUCTIONS and reduction not in extra:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def legacy_reduction(size_average, reduce, emit_warning: bool = True) -> str:
    """torch's ``_Reduction.legacy_get_string``: the deprecated size_average / reduce pair as a reduction."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = ("mean" if size_average else "sum") if reduce else "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                      UserWarning, stacklevel=3)
    return ret


def reduce(loss, reduction: str, denom: float | None = None):
    """Sums in float64 (one rounding at the end instead of one per partial sum); 'mean' divides by ``denom``
    (the element count unless given, e.g. the summed class weights), and the mean over nothing is NaN.
    The result is a 0-d array of loss's dtype on loss's device."""
    if reduction == "none":
        return loss
    # On the CPU a NumPy scalar, whose arithmetic costs a fraction of a 0-d array's; asarray makes it one.
    total = loss.sum(dtype=np.float64)
    if reduction == "mean":
        denom = loss.size if denom is None else denom
        total = total / denom if denom else np.nan
    return backend_of(loss).xp.asarray(total, dtype=loss.dtype)


def reduced_grad(g, reduction: str, count: int):
    """d(reduced loss)/d(element loss) times the upstream gradient ``g``: broadcastable to the loss's shape."""
    if reduction == "none":
        return g
    if reduction == "mean":
        return g / g.dtype.type(count or 1)
    return g


def float_operands(input, target, op: str, *, warn_shape: bool = True):
    """(input, target, x, y): both as Tensors and as arrays of the promoted float dtype, with torch's
    warning for a target shape that differs from the input's (it broadcasts, which is rarely meant)."""
    input, target = as_tensor(input, op), as_tensor(target, op)
    if warn_shape and target.shape != input.shape:
        warnings.warn(f"Using a target size ({_size(target.shape)}) that is different to the input size "
                      f"({_size(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", UserWarning, stacklevel=3)
    ta, tb, x, y = binary_operands(input, target, op)
    if x.dtype.kind not in "fV":
        raise NotImplementedError(f"{op}(): not implemented for integer inputs ({input.dtype}, {target.dtype}); "
                                  "pass floating-point tensors")
    return input, target, x, y


def _size(shape) -> str:
    return f"torch.Size({list(shape)})"


def constant_weight(weight, op: str, arg: str = "weight", dtype=None):
    """A weight argument as an array. torch refuses a weight that requires grad (no derivative for it)."""
    if weight is None:
        return None
    w = as_tensor(weight, op)
    if w._requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument '{arg}'. This "
                           "input cannot have requires_grad True.")
    arr = w._data
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def scalar_name(dtype) -> str:
    """torch's C++ name of a dtype, as its dtype-mismatch messages spell it."""
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}[np.dtype(dtype).name]


def class_weight(weight, n_classes: int, dtype, op: str):
    """A per-class weight of shape (C,) and the input's dtype, checked as torch's nll_loss checks it."""
    if weight is None:
        return None
    w = as_tensor(weight, op)
    if w.ndim != 1 or w.shape[0] != n_classes:
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or no classes but "
                           f"got weight tensor of shape: {list(w.shape)}")
    if w._data.dtype != dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(dtype)} but found {scalar_name(w._data.dtype)} "
                           f"({op}: weight must have the input's dtype)")
    return constant_weight(w, op, dtype=dtype)


def grad_to(g, full_shape, shape, dtype):
    """A gradient over the broadcast loss (``g`` broadcastable to ``full_shape``) summed back to an
    operand's ``shape``, as a writeable array of ``dtype`` (the engine may adopt it as ``.grad``)."""
    if g.shape != tuple(full_shape):
        g = backend_of(g).xp.broadcast_to(g, full_shape)
    g = unbroadcast(g, tuple(shape))
    if g.dtype != dtype or not g.flags.writeable:
        g = g.astype(dtype)  # a copy, so writeable even where g was a broadcast view
    return g


def class_last(x):
    """(N, C, d1, ..., dk) -> (N * d1 * ... * dk, C): the class dim moved last, one row per position."""
    if x.ndim == 2:
        return x
    return x.transpose((0,) + tuple(range(2, x.ndim)) + (1,)).reshape(-1, x.shape[1])


def restore_class_dim(g2, shape):
    if len(shape) == 2:
        return g2
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return g2.reshape(moved).transpose((0, len(shape) - 1) + tuple(range(1, len(shape) - 1)))
