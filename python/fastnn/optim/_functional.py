"""Functional optimizer steps over lists of tensors: each group update is one fused kernel call.

These follow ``torch.optim``'s functional API (``torch.optim.adam.adam``, ``torch.optim.sgd.sgd``): the
optimizer classes gather params, grads and state, and call these. The tensors of a call on one backend
in one dtype (as torch's foreach path groups by device and dtype) are updated by that backend's fused
kernel, in one pass over (param, grad, state), with torch's single-tensor formulas.
"""
from __future__ import annotations

from ..backend import backend_of
from .._tensor import Tensor


def _groups(arrays):
    """``(backend, indices)`` per (backend, dtype) of ``arrays``: one kernel call each. The usual case,
    every array on one backend in one dtype, is one group with indices None (all of them). Yielded one by
    one: asking backend_of for a group's first array before its turn makes that group's device the current
    one where several CUDA devices are in use."""
    keys = [(backend_of(a), a.dtype) for a in arrays]
    if not keys or all(k == keys[0] for k in keys):
        if keys:
            yield keys[0][0], None
        return
    groups: dict = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    for (be, _), idx in groups.items():
        backend_of(arrays[idx[0]])
        yield be, idx


def _per_tensor(arrays):
    """``(backend, i)`` for every index of ``arrays``, the backend looked up once per group (for the
    optimizers that update tensor by tensor)."""
    for be, idx in _groups(arrays):
        for i in range(len(arrays)) if idx is None else idx:
            yield be, i


class _InPlace:
    """Arrays the kernel can update in place: one that is not C-contiguous (a parameter that is a
    strided view) is updated through a contiguous copy, written back by finish()."""

    def __init__(self, xp) -> None:
        self._xp = xp
        self._write_back: list = []

    def __call__(self, arrays: list) -> list:
        if all(a.flags.c_contiguous for a in arrays):
            return arrays
        out = []
        for a in arrays:
            if not a.flags.c_contiguous:
                tmp = self._xp.ascontiguousarray(a)
                self._write_back.append((a, tmp))
                a = tmp
            out.append(a)
        return out

    def finish(self) -> None:
        for arr, tmp in self._write_back:
            self._xp.copyto(arr, tmp)


def _grad_arrays(xp, grads, params: list) -> list:
    """The gradients as C-contiguous arrays of their parameters' dtypes (a copy only where needed)."""
    return [xp.ascontiguousarray(g._data, dtype=p.dtype) for g, p in zip(grads, params)]


def _mark_written(*lists) -> None:
    """Bumps the version of every tensor a kernel updated in place."""
    for tensors in lists:
        for t in tensors:
            t._written()


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

    ``state_steps`` are 0-d float32 tensors (torch's ``state["step"]``), incremented by the kernel
    before use; ``max_exp_avg_sqs`` is only read with ``amsgrad``.
    """
    _check_lists("adam", params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, state_steps=state_steps)
    if amsgrad:
        _check_lists("adam", params, max_exp_avg_sqs=max_exp_avg_sqs)
    ps = [t._data for t in params]
    ms, vs = [t._data for t in exp_avgs], [t._data for t in exp_avg_sqs]
    vmaxs = [t._data for t in max_exp_avg_sqs] if amsgrad else None
    steps = [s._data for s in state_steps]
    for be, idx in _groups(ps):
        inplace = _InPlace(be.xp)
        group_ps = _pick(ps, idx)
        be.adam_update(inplace(group_ps), _grad_arrays(be.xp, _pick(grads, idx), group_ps), inplace(_pick(ms, idx)),
                       inplace(_pick(vs, idx)), inplace(_pick(vmaxs, idx)) if amsgrad else None, _pick(steps, idx),
                       lr=float(lr), beta1=float(beta1), beta2=float(beta2), eps=float(eps),
                       weight_decay=float(weight_decay), amsgrad=bool(amsgrad), maximize=bool(maximize),
                       decoupled=bool(decoupled))
        inplace.finish()
    _mark_written(params, exp_avgs, exp_avg_sqs, state_steps, max_exp_avg_sqs if amsgrad else ())


def sgd(params: list[Tensor], grads: list[Tensor], momentum_buffers: list[Tensor | None], *, lr: float,
        momentum: float, dampening: float, nesterov: bool, weight_decay: float, maximize: bool) -> None:
    """One SGD step over every tensor, in place. With momentum, ``None`` entries of ``momentum_buffers``
    are replaced by new buffers holding the (decayed) gradient, as torch's first momentum step does."""
    _check_lists("sgd", params, grads=grads)
    if momentum != 0:
        _check_lists("sgd", params, momentum_buffers=momentum_buffers)
    ps = [t._data for t in params]
    bufs = [None if b is None else b._data for b in momentum_buffers] if momentum != 0 else None
    for be, idx in _groups(ps):
        inplace = _InPlace(be.xp)
        group_ps = _pick(ps, idx)
        group_bufs = None
        if bufs is not None:
            group_bufs = [b if b is None or b.flags.c_contiguous else inplace([b])[0] for b in _pick(bufs, idx)]
        out = be.sgd_update(inplace(group_ps), _grad_arrays(be.xp, _pick(grads, idx), group_ps), group_bufs,
                            lr=float(lr), momentum=float(momentum), dampening=float(dampening),
                            nesterov=bool(nesterov), weight_decay=float(weight_decay), maximize=bool(maximize))
        inplace.finish()
        if bufs is not None:
            for k, i in enumerate(range(len(ps)) if idx is None else idx):
                if momentum_buffers[i] is None:
                    momentum_buffers[i] = Tensor._wrap(out[k])
                else:
                    momentum_buffers[i]._written()
    _mark_written(params)
