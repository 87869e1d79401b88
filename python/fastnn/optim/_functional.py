"""Functional optimizer steps over lists of tensors: each group update is one fused native call.

These follow ``torch.optim``'s functional API (``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``): the
optimizer classes gather params, grads and state, and call these. All tensors of a call are updated by
one native kernel in one pass over (param, grad, state), with torch's single-tensor formulas.
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..tensor import Tensor


def _cpu_array(t: Tensor, what: str) -> np.ndarray:
    arr = t._data
    if not isinstance(arr, np.ndarray):
        raise NotImplementedError(f"fastnn.optim: fused updates run on CPU tensors only, got {what} on {t.device}")
    return arr


def _by_dtype(params: list[Tensor]) -> list[list[int]]:
    """Indices of ``params`` grouped by dtype (one native call per dtype), in order of first appearance."""
    groups: dict = {}
    for i, p in enumerate(params):
        groups.setdefault(p._data.dtype, []).append(i)
    return list(groups.values())


class _InPlace:
    """Arrays the kernel can update in place: a parameter that is not C-contiguous (a strided view)
    is updated through a contiguous copy that is written back afterwards."""

    def __init__(self) -> None:
        self._write_back: list[tuple[np.ndarray, np.ndarray]] = []

    def array(self, t: Tensor, what: str) -> np.ndarray:
        arr = _cpu_array(t, what)
        if arr.flags.c_contiguous:
            return arr
        tmp = np.ascontiguousarray(arr)
        self._write_back.append((arr, tmp))
        return tmp

    def finish(self) -> None:
        for arr, tmp in self._write_back:
            np.copyto(arr, tmp)


def _grad_array(g: Tensor, dtype) -> np.ndarray:
    return np.ascontiguousarray(_cpu_array(g, "a gradient"), dtype=dtype)


def _bump(tensors) -> None:
    for t in tensors:
        if t is not None:
            t._version += 1


def _check_lists(name: str, params, **lists) -> None:
    for key, lst in lists.items():
        if len(lst) != len(params):
            raise ValueError(f"{name}: got {len(params)} params but {len(lst)} {key}")


def adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
         max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor], *, lr: float, beta1: float, beta2: float,
         eps: float, weight_decay: float, amsgrad: bool, maximize: bool, decoupled: bool = False) -> None:
    """One Adam step (AdamW's with ``decoupled=True``) over every tensor, in place.

    ``state_steps`` are 0-d float32 tensors, incremented here before use (as torch's ``state["step"]``);
    ``max_exp_avg_sqs`` is only read with ``amsgrad``.
    """
    _check_lists("adam", params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, state_steps=state_steps)
    if amsgrad:
        _check_lists("adam", params, max_exp_avg_sqs=max_exp_avg_sqs)
    for s in state_steps:
        s._data += 1
        s._version += 1
    for idx in _by_dtype(params):
        inplace = _InPlace()
        ps = [inplace.array(params[i], "a parameter") for i in idx]
        _C.adam_update(ps, [_grad_array(grads[i], ps[k].dtype) for k, i in enumerate(idx)],
                       [inplace.array(exp_avgs[i], "exp_avg") for i in idx],
                       [inplace.array(exp_avg_sqs[i], "exp_avg_sq") for i in idx],
                       [inplace.array(max_exp_avg_sqs[i], "max_exp_avg_sq") for i in idx] if amsgrad else None,
                       [float(state_steps[i]._data) for i in idx],
                       lr=float(lr), beta1=float(beta1), beta2=float(beta2), eps=float(eps),
                       weight_decay=float(weight_decay), amsgrad=bool(amsgrad), maximize=bool(maximize),
                       decoupled=bool(decoupled))
        inplace.finish()
    _bump(params)
    _bump(exp_avgs)
    _bump(exp_avg_sqs)
    if amsgrad:
        _bump(max_exp_avg_sqs)


def sgd(params: list[Tensor], grads: list[Tensor], momentum_buffers: list[Tensor | None], *, lr: float,
        momentum: float, dampening: float, nesterov: bool, weight_decay: float, maximize: bool) -> None:
    """One SGD step over every tensor, in place. With momentum, ``None`` entries of ``momentum_buffers``
    are replaced by new buffers holding the (decayed) gradient, as torch's first momentum step does."""
    _check_lists("sgd", params, grads=grads)
    if momentum != 0:
        _check_lists("sgd", params, momentum_buffers=momentum_buffers)
    for idx in _by_dtype(params):
        inplace = _InPlace()
        ps = [inplace.array(params[i], "a parameter") for i in idx]
        bufs = None
        if momentum != 0:
            bufs = [None if momentum_buffers[i] is None else inplace.array(momentum_buffers[i], "momentum_buffer")
                    for i in idx]
        out = _C.sgd_update(ps, [_grad_array(grads[i], ps[k].dtype) for k, i in enumerate(idx)], bufs,
                            lr=float(lr), momentum=float(momentum), dampening=float(dampening),
                            nesterov=bool(nesterov), weight_decay=float(weight_decay), maximize=bool(maximize))
        inplace.finish()
        if momentum != 0:
            for k, i in enumerate(idx):
                if momentum_buffers[i] is None:
                    momentum_buffers[i] = Tensor._wrap(out[k])
                else:
                    momentum_buffers[i]._version += 1
    _bump(params)
