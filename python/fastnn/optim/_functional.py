"""Functional optimizer steps over lists of tensors: each group update is one fused native call.

These follow ``torch.optim``'s functional API (``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``): the
optimizer classes gather params, grads and state, and call these. All tensors of a call are updated by
one native kernel in one pass over (param, grad, state), with torch's single-tensor formulas.
"""
from __future__ import annotations

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor


def _cpu_arrays(tensors, what: str) -> list[np.ndarray]:
    arrays = [t._data for t in tensors]
    for t, arr in zip(tensors, arrays):
        if not isinstance(arr, np.ndarray):
            raise NotImplementedError(f"fastnn.optim: fused updates run on CPU tensors only, got {what} on {t.device}")
    return arrays


def _by_dtype(arrays: list[np.ndarray]) -> list[list[int]] | None:
    """Indices grouped by dtype (one native call per dtype), or None when all share one (the usual case)."""
    first = arrays[0].dtype if arrays else None
    if all(a.dtype == first for a in arrays):
        return None
    groups: dict = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.dtype, []).append(i)
    return list(groups.values())


class _InPlace:
    """Arrays the kernel can update in place: one that is not C-contiguous (a parameter that is a
    strided view) is updated through a contiguous copy, written back by finish()."""

    def __init__(self) -> None:
        self._write_back: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        if all(a.flags.c_contiguous for a in arrays):
            return arrays
        out = []
        for a in arrays:
            if not a.flags.c_contiguous:
                tmp = np.ascontiguousarray(a)
                self._write_back.append((a, tmp))
                a = tmp
            out.append(a)
        return out

    def finish(self) -> None:
        for arr, tmp in self._write_back:
            np.copyto(arr, tmp)


def _grad_arrays(grads, params: list[np.ndarray]) -> list[np.ndarray]:
    return [np.ascontiguousarray(g, dtype=p.dtype) for g, p in zip(_cpu_arrays(grads, "a gradient"), params)]


def _bump(tensors) -> None:
    for t in tensors:
        t._version += 1


def _check_lists(name: str, params, **lists) -> None:
    for key, lst in lists.items():
        if len(lst) != len(params):
            raise ValueError(f"{name}: got {len(params)} params but {len(lst)} {key}")


def _pick(lst, idx):
    return lst if idx is None else [lst[i] for i in idx]


def adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor],
         max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor], *, lr: float, beta1: float, beta2: float,
         eps: float, weight_decay: float, amsgrad: bool, maximize: bool, decoupled: bool = False) -> None:
    """One Adam step (AdamW's with ``decoupled=True``) over every tensor, in place.

    ``state_steps`` are 0-d float32 tensors (torch's ``state["step"]``), incremented by the native call
    before use; ``max_exp_avg_sqs`` is only read with ``amsgrad``.
    """
    _check_lists("adam", params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, state_steps=state_steps)
    if amsgrad:
        _check_lists("adam", params, max_exp_avg_sqs=max_exp_avg_sqs)
    ps = _cpu_arrays(params, "a parameter")
    ms, vs = _cpu_arrays(exp_avgs, "exp_avg"), _cpu_arrays(exp_avg_sqs, "exp_avg_sq")
    vmaxs = _cpu_arrays(max_exp_avg_sqs, "max_exp_avg_sq") if amsgrad else None
    gs = _grad_arrays(grads, ps)
    steps = [s._data for s in state_steps]
    groups = _by_dtype(ps)
    be = backend_of(*ps)
    for idx in [None] if groups is None else groups:
        inplace = _InPlace()
        be.adam_update(inplace(_pick(ps, idx)), _pick(gs, idx), inplace(_pick(ms, idx)), inplace(_pick(vs, idx)),
                       inplace(_pick(vmaxs, idx)) if amsgrad else None, _pick(steps, idx),
                       lr=float(lr), beta1=float(beta1), beta2=float(beta2), eps=float(eps),
                       weight_decay=float(weight_decay), amsgrad=bool(amsgrad), maximize=bool(maximize),
                       decoupled=bool(decoupled))
        inplace.finish()
    for group in (params, exp_avgs, exp_avg_sqs, state_steps) + ((max_exp_avg_sqs,) if amsgrad else ()):
        _bump(group)


def sgd(params: list[Tensor], grads: list[Tensor], momentum_buffers: list[Tensor | None], *, lr: float,
        momentum: float, dampening: float, nesterov: bool, weight_decay: float, maximize: bool) -> None:
    """One SGD step over every tensor, in place. With momentum, ``None`` entries of ``momentum_buffers``
    are replaced by new buffers holding the (decayed) gradient, as torch's first momentum step does."""
    _check_lists("sgd", params, grads=grads)
    if momentum != 0:
        _check_lists("sgd", params, momentum_buffers=momentum_buffers)
    ps = _cpu_arrays(params, "a parameter")
    gs = _grad_arrays(grads, ps)
    bufs = None
    if momentum != 0:
        bufs = [None if b is None else b._data for b in momentum_buffers]
        _cpu_arrays([b for b in momentum_buffers if b is not None], "a momentum buffer")
    groups = _by_dtype(ps)
    be = backend_of(*ps)
    for idx in [None] if groups is None else groups:
        inplace = _InPlace()
        group_bufs = None
        if bufs is not None:
            group_bufs = [b if b is None or b.flags.c_contiguous else inplace([b])[0] for b in _pick(bufs, idx)]
        out = be.sgd_update(inplace(_pick(ps, idx)), _pick(gs, idx), group_bufs, lr=float(lr),
                            momentum=float(momentum), dampening=float(dampening), nesterov=bool(nesterov),
                            weight_decay=float(weight_decay), maximize=bool(maximize))
        inplace.finish()
        if bufs is not None:
            for k, i in enumerate(range(len(ps)) if idx is None else idx):
                if momentum_buffers[i] is None:
                    momentum_buffers[i] = Tensor._wrap(out[k])
                else:
                    momentum_buffers[i]._version += 1
    _bump(params)
