"""max_unpool1d / max_unpool2d: the inverse of max pooling with return_indices: a zero output plane with each
input value written at its flat index; the backward reads the output gradient back at those indices. 1-D runs
as 2-D with a width of one, as torch."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor


def _tuple(v, n):
    if isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    return tuple(int(e) for e in v)


def _output_size(in_size, kernel, stride, padding, output_size):
    """torch's _unpool_output_size."""
    n = len(kernel)
    default = [(in_size[d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(n)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == n + 2:
        output_size = output_size[2:]
    if len(output_size) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, but it has a length of "
                         f"'{len(output_size)}'")
    for d in range(n):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {d} must be between {lo} and {hi})')
    return [int(v) for v in output_size]


def _unpool2d(a, idx, out_hw):
    if a.ndim not in (3, 4):
        raise RuntimeError(f"Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with {a.ndim} "
                           "dimensions.")
    if idx.dtype.is_floating_point or idx._data.dtype.kind not in "iu":
        kind = str(idx.dtype).split(".")[-1].title()
        raise RuntimeError(f"elements in indices should be type int64 but got: {kind}")
    if tuple(idx.shape) != tuple(a.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(a.shape)}) but "
                           f"got indices tensor with shape: {list(idx.shape)}")
    x, ix = a._data, idx._data
    be = backend_of(x, ix)
    xp = be.xp
    oh, ow = out_hw
    lead = x.shape[:-2]
    planes = math.prod(lead)
    flat_i = ix.reshape(planes, -1).astype(np.int64)
    invalid = (flat_i < 0) | (flat_i >= oh * ow)
    if invalid.any():
        bad = int(flat_i[invalid][0])  # the first in storage order, as torch reports it
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size {oh}x{ow}")
    rows = xp.arange(planes)[:, None]
    y = xp.zeros((planes, oh * ow), x.dtype)
    y[rows, flat_i] = x.reshape(planes, -1)

    def backward(g):
        return (g.reshape(planes, oh * ow)[rows, flat_i].reshape(x.shape),)

    return record(Tensor._wrap(y.reshape(tuple(lead) + (oh, ow))), "MaxUnpool2DBackward0", (a,), backward)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """torch.nn.functional.max_unpool2d over (N, C, H, W) or (C, H, W) with max_pool2d's flat indices."""
    a, idx = as_tensor(input, "max_unpool2d"), as_tensor(indices, "max_unpool2d")
    k = _tuple(kernel_size, 2)
    s = _tuple(stride, 2) if stride is not None else k
    p = _tuple(padding, 2)
    out = _output_size(a.shape[-2:], k, s, p, output_size)
    return _unpool2d(a, idx, out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """torch.nn.functional.max_unpool1d over (N, C, L) or (C, L) with max_pool1d's indices."""
    a, idx = as_tensor(input, "max_unpool1d"), as_tensor(indices, "max_unpool1d")
    k = _tuple(kernel_size, 1)
    s = _tuple(stride, 1) if stride is not None else k
    p = _tuple(padding, 1)
    out = _output_size(a.shape[-1:], k, s, p, output_size)
    return _unpool2d(a.unsqueeze(-1), idx.unsqueeze(-1), (out[0], 1)).squeeze(-1)
