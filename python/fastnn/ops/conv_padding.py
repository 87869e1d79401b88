"""Non-zero padding for the convolution modules' ``padding_mode`` ('reflect', 'replicate', 'circular'):
each padded spatial axis is a gather of the input along that axis by an index vector, so the backward is the
adjoint scatter-add. Zero padding never comes here (the conv kernels pad with zeros themselves)."""
from __future__ import annotations

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor


def _source_index(xp, size: int, before: int, after: int, mode: str):
    """Positions in the input that each of the size + before + after padded positions copies."""
    pos = xp.arange(-before, size + after)
    if mode == "replicate":
        return xp.clip(pos, 0, size - 1)
    if mode == "circular":
        return pos % size
    # reflect: mirror about the first and last element without repeating them (period 2 * (size - 1))
    if size == 1:
        return xp.zeros_like(pos)
    period = 2 * (size - 1)
    m = pos % period
    return xp.where(m < size, m, period - m)


def mode_pad(input: Tensor, pads, mode: str, op: str = "pad") -> Tensor:
    """``input`` padded on its last len(pads) dims; pads[i] = (before, after) for dim -len(pads) + i."""
    x = input._data
    nd = len(pads)
    for i, (before, after) in enumerate(pads):
        dim = x.ndim - nd + i
        size = x.shape[dim]
        if mode == "reflect" and (before >= size or after >= size):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({before}, {after}) at dimension {dim} of input {list(x.shape)}")
        if mode == "circular" and (before > size or after > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and size == 0 and (before or after):
            raise RuntimeError(f"{op}: cannot replicate-pad an empty dimension {dim} of input {list(x.shape)}")
    be = backend_of(x)
    xp = be.xp
    plan = []
    y = x
    for i, (before, after) in enumerate(pads):
        if before == 0 and after == 0:
            continue
        dim = x.ndim - nd + i
        idx = _source_index(xp, y.shape[dim], before, after, mode)
        plan.append((dim, y.shape[dim], before, after, idx))
        y = xp.take(y, idx, axis=dim)

    def backward(g):
        for dim, size, before, after, idx in reversed(plan):
            gm = xp.moveaxis(g, dim, 0)
            gx = gm[before:before + size].copy()  # the unpadded middle maps onto itself
            edge = xp.concatenate([xp.arange(before), xp.arange(before + size, before + size + after)])
            if edge.size:
                xp.add.at(gx, idx[edge], gm[edge])
            g = xp.moveaxis(gx, 0, dim)
        return (xp.ascontiguousarray(g),)

    kind = {"reflect": "Reflection", "replicate": "Replication", "circular": "Circular"}[mode]
    return record(Tensor._wrap(xp.ascontiguousarray(y)), f"{kind}Pad{nd}DBackward0", (input,), backward)
