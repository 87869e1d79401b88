"""Gradient clipping as torch.nn.utils: clip_grad_norm_ (returns the total norm), clip_grad_value_,
get_total_norm and clip_grads_with_norm_. Gradients change in place, outside the graph."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ...backend import backend_of, get_backend
from ..._tensor import Tensor


def _tensor_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _set_grad(g: Tensor, values) -> None:
    """Writes ``values`` into the gradient's own array (others may hold it), unless that array is a
    read-only view, which is then replaced."""
    if g._data.flags.writeable:
        g._write(..., values)
    else:
        g._data = values.astype(g._data.dtype, copy=False)
        g._written()


def _vector_norm(xp, arr, p: float) -> float:
    """torch.linalg.vector_norm of a flattened array, accumulated in float64."""
    a = xp.abs(arr.reshape(-1)).astype(np.float64, copy=False)
    if a.size == 0:
        return 0.0
    if p == math.inf:
        return float(a.max())
    if p == -math.inf:
        return float(a.min())
    if p == 0:
        return float(xp.count_nonzero(a))
    if p == 1:
        return float(a.sum())
    if p == 2:
        # einsum, not np.dot: a BLAS dot wakes OpenBLAS's worker threads, which then spin for ~0.1 s and
        # take the second core from fastnn's own kernels (a GRU training loop ran 5x slower).
        return float(xp.sqrt(xp.einsum("i,i->", a, a)))
    return float((a ** p).sum() ** (1.0 / p))


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The p-norm of all ``tensors`` viewed as one vector (the norm of their per-tensor norms), as a 0-d
    tensor of their (widest) dtype; 0.0 for no tensors. ``foreach`` is accepted for compatibility: the
    CPU path is one vectorised pass per tensor either way."""
    tensors = _tensor_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._wrap(get_backend().asarray(0.0, np.float32))
    be = backend_of(*[t._data for t in tensors])
    norms = [_vector_norm(be.xp, t._data, norm_type) for t in tensors]
    total = _vector_norm(be.xp, be.asarray(norms), norm_type)
    dt = np.result_type(*[t._data.dtype for t in tensors])
    if dt.kind != "f":
        dt = np.dtype(np.float32)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(be.asarray(total, dt))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scales every gradient by min(max_norm / (total_norm + 1e-6), 1), in place. As in torch the factor
    is applied even when it is 1, so a NaN/inf total norm spreads into the gradients."""
    grads = [p.grad for p in _tensor_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    coef = min(float(max_norm) / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    be = backend_of(*[g._data for g in grads])
    with be.errstate(invalid="ignore"):  # inf * 0 under an infinite norm: NaN, as torch gives
        for g in grads:
            _set_grad(g, g._data * g._data.dtype.type(coef))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """torch.nn.utils.clip_grad_norm_: clips the gradients of ``parameters`` (a tensor or an iterable) so
    that their joint ``norm_type``-norm (``inf`` for the max-abs norm) is at most ``max_norm``; returns
    the total norm before clipping as a 0-d tensor. ``error_if_nonfinite`` raises instead of scaling by
    a NaN/inf norm."""
    parameters = _tensor_list(parameters)  # a generator is consumed once, so keep it as a list
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """Deprecated alias of clip_grad_norm_, as in torch."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """torch.nn.utils.clip_grad_value_: clamps every gradient to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _tensor_list(parameters):
        if p.grad is not None:
            _set_grad(p.grad, p.grad._data.clip(-clip_value, clip_value))
