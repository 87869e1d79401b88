"""Splits into views and the ops that put one tensor back into a slice of another: tensor_split,
hsplit/vsplit/dsplit, split_with_sizes, unsafe_split/unsafe_chunk, select_scatter, slice_scatter,
diagonal_scatter. The pieces are narrow() views (their gradients flow back through narrow); the *_scatter
ops write src into a copy of the input, and their backward splits the gradient between the two."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, normalize_dim
from . import shape as _shape
from .triangular import _diag_dims, _diag_positions


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


# ---- splits ---------------------------------------------------------------------------------------------
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0):  # noqa: A002  (PyTorch's names)
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    ax = normalize_dim(dim, input.ndim, "tensor_split")
    size = input.shape[ax]
    spec = indices_or_sections
    if isinstance(spec, Tensor):
        if spec.dtype.is_floating_point or spec.dtype.name == "bool":
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{ {'float32': 'Float', 'float64': 'Double', 'bool': 'Bool'}[spec.dtype.name]}")
        if spec.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {spec.ndim} dims")
        spec = int(spec.item()) if spec.ndim == 0 else [int(v) for v in spec.tolist()]
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        n = int(spec)
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        base, extra = divmod(size, n)  # the first size % n pieces are one longer
        bounds, start = [], 0
        for i in range(n):
            stop = start + base + (1 if i < extra else 0)
            bounds.append((start, stop))
            start = stop
    elif isinstance(spec, (list, tuple)):
        cuts = [int(v) for v in spec]
        edges = [0] + cuts
        bounds = [slice(a, b).indices(size)[:2] for a, b in zip(edges, cuts)]
        bounds.append(slice(edges[-1], None).indices(size)[:2])
    else:
        raise TypeError(f"tensor_split(): argument 'indices_or_sections' must be int, a sequence of ints or a "
                        f"Tensor, not {type(spec).__name__}")
    return tuple(_shape.narrow(input, ax, start, max(stop - start, 0)) for start, stop in bounds)


def _directional_split(input: Tensor, spec, dim: int, min_dims: int, name: str):
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor with "
                           f"{input.ndim} dimensions!")
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        size = input.shape[dim]
        if spec == 0 or size % spec:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{size} is not divisible by the split_size {spec}!")
    return tensor_split(input, spec, dim)


def hsplit(input: Tensor, indices_or_sections):  # noqa: A002
    return _directional_split(input, indices_or_sections, 0 if input.ndim == 1 else 1, 1, "hsplit")


def vsplit(input: Tensor, indices_or_sections):  # noqa: A002
    return _directional_split(input, indices_or_sections, 0, 2, "vsplit")


def dsplit(input: Tensor, indices_or_sections):  # noqa: A002
    return _directional_split(input, indices_or_sections, 2, 3, "dsplit")


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0):  # noqa: A002
    return _shape.split(input, list(split_sizes), dim)


def unsafe_split(input: Tensor, split_size, dim: int = 0):  # noqa: A002
    return _shape.split(input, split_size, dim)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0):  # noqa: A002
    return _shape.chunk(input, chunks, dim)


# ---- *_scatter: src written into a slice of a copy of input -------------------------------------------------
_NODE = {"select_scatter": "SelectScatterBackward0", "slice_scatter": "SliceScatterBackward0",
         "diagonal_scatter": "DiagonalScatterBackward0"}


def _write_into(input: Tensor, src, read, write, name: str) -> Tensor:  # noqa: A002
    """``input`` with ``src`` written where ``read(xp, arr)`` reads and ``write(xp, arr, values)`` writes."""
    src = as_tensor(src, name)
    x = input._data
    xp = backend_of(x, src._data).xp
    region_shape = read(xp, x).shape
    if tuple(region_shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{_shape_str(src.shape)}, slice size = {_shape_str(region_shape)}")
    out = x.copy()
    write(xp, out, src._data.astype(x.dtype, copy=False))

    def backward(g):
        gx = g.copy()
        write(xp, gx, 0)
        gs = xp.array(read(xp, g), copy=True) if src._requires_grad else None
        return (gx, gs)

    return record(Tensor._wrap(out), _NODE[name], (input, src), backward)


def _key_reader(key):
    def read(xp, a):
        return a[key]

    def write(xp, a, values):
        a[key] = values

    return read, write


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    ax = normalize_dim(dim, input.ndim, "select_scatter")
    n = input.shape[ax]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {_shape_str(input.shape)} at "
                         f"dimension {ax}")
    return _write_into(input, src, *_key_reader((slice(None),) * ax + (index % n, Ellipsis)), "select_scatter")


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None,  # noqa: A002
                  step: int = 1) -> Tensor:
    ax = normalize_dim(dim, input.ndim, "slice_scatter")
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return _write_into(input, src, *_key_reader((slice(None),) * ax + (slice(start, end, step),)), "slice_scatter")


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,  # noqa: A002
                     dim2: int = 1) -> Tensor:
    d1, d2 = _diag_dims(input.ndim, dim1, dim2, "diagonal_scatter")
    offset = int(offset)

    def read(xp, a):
        return xp.diagonal(a, offset, d1, d2)

    def write(xp, a, values):
        # NumPy's diagonal() view is read-only: write through the moved-axes view's fancy index instead.
        i, j = _diag_positions(xp, a.shape[d1], a.shape[d2], offset)
        xp.moveaxis(a, (d1, d2), (-2, -1))[..., i, j] = values

    return _write_into(input, src, read, write, "diagonal_scatter")
