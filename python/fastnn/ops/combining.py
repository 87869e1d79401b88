"""Ops that build one tensor out of several or out of index combinations: block_diag, cartesian_prod,
combinations. Each is written with differentiable ops (cat/stack/getitem) or carries its own backward."""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of, get_backend
from .._tensor import Tensor
from ._util import as_tensor, promote_types
from . import shape as _shape
from .indexing import getitem
from .reshaping import meshgrid


def block_diag(*tensors) -> Tensor:
    ts = [as_tensor(t, "block_diag") for t in tensors]
    for i, t in enumerate(ts):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
    mats = [_shape.reshape(t, (1, 1)) if t.ndim == 0 else _shape.reshape(t, (1, -1)) if t.ndim == 1 else t
            for t in ts]
    dt = mats[0].dtype if mats else None
    for m in mats[1:]:
        dt = promote_types(dt, m.dtype)
    rows = sum(m.shape[0] for m in mats)
    cols = sum(m.shape[1] for m in mats)
    xp = (backend_of(*[m._data for m in mats]) if mats else get_backend(None)).xp
    out = xp.zeros((rows if mats else 1, cols), dt.np if dt is not None else np.float32)
    spans, r, c = [], 0, 0
    for m in mats:
        key = (slice(r, r + m.shape[0]), slice(c, c + m.shape[1]))
        out[key] = m._data
        spans.append(key)
        r, c = r + m.shape[0], c + m.shape[1]

    def backward(g):
        return tuple(g[key] if m._requires_grad else None for key, m in zip(spans, mats))

    return record(Tensor._wrap(out), "BlockDiagBackward0", tuple(mats), backward)


def cartesian_prod(*tensors) -> Tensor:
    ts = [as_tensor(t, "cartesian_prod") for t in tensors]
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return _shape.stack([_shape.reshape(g, -1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:  # noqa: A002
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._wrap(backend_of(input._data).xp.zeros((0,), input._data.dtype))
    n = input.shape[0]
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    # The index table is shape arithmetic on the host (C(n, r) rows); the values come from one gather.
    xp = backend_of(input._data).xp
    table = xp.asarray(list(pick(range(n), r)), dtype=np.int64).reshape(-1, r)
    return getitem(input, Tensor._wrap(table))
