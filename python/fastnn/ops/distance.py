"""Distances between rows: pairwise_distance (||x1 - x2 + eps||_p) and cosine_similarity, composed from
differentiable ops (their backward is autograd's)."""
from __future__ import annotations

import math

import numpy as np

from . import elementwise as ew
from ._util import as_tensor


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """torch.pairwise_distance: the p-norm of x1 - x2 + eps over the last dim of the broadcast inputs."""
    a, b = as_tensor(x1, "pairwise_distance"), as_tensor(x2, "pairwise_distance")
    d = a - b + eps
    dim = max(a.ndim, b.ndim) - 1
    if dim < 0:  # two scalars: the norm of a 0-d difference is its magnitude
        return ew.abs(d)
    mag = ew.abs(d)
    if p == math.inf:
        return mag.amax(dim, keepdim)
    if p == -math.inf:
        return mag.amin(dim, keepdim)
    if p == 0:
        return (mag != 0).to(d.dtype).sum(dim, keepdim)
    if p == 1:
        return mag.sum(dim, keepdim)
    return (mag ** p).sum(dim, keepdim) ** (1.0 / p)


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """torch.cosine_similarity: sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps))) over ``dim``, each norm
    clamped separately, as torch computes it since 1.12."""
    a, b = as_tensor(x1, "cosine_similarity"), as_tensor(x2, "cosine_similarity")
    # Broadcast first, as torch does: each norm is over the common shape's ``dim`` (x1 (1, 2, 3) beside x2
    # (2, 1, 3) at dim=-2 normalises x2 over 2 copies of its one row, not over the row alone).
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = a.expand(shape), b.expand(shape)
    n1 = ew.clamp(ew.sqrt((a * a).sum(dim, keepdim=True)), min=eps)
    n2 = ew.clamp(ew.sqrt((b * b).sum(dim, keepdim=True)), min=eps)
    return ((a / n1) * (b / n2)).sum(dim)
