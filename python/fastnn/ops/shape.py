"""View and layout ops: reshape, permute, transpose, squeeze, unsqueeze, flatten, expand, cat, stack,
split, chunk, narrow. Their backwards only move gradients back into the input's layout."""
from __future__ import annotations

import itertools
import math

from ..autograd.graph import record
from ..autograd.inplace import mark_multi_output
from ..backend import backend_of
from .. import _memory_format as _mf
from .._tensor import Tensor
from ._util import as_tensor, normalize_dim, promote_types, shape_arg, unbroadcast


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def reshape(a: Tensor, *shape) -> Tensor:
    shape = shape_arg(shape, "reshape")
    for i, s in enumerate(shape):
        if s < -1:  # NumPy would infer any negative size; torch infers only -1
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {_shape_str(shape)}")
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape and a._data.size == 0 and math.prod(s for s in shape if s != -1) == 0:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {_shape_str(shape)} because the "
                           "unspecified dimension size -1 can be any value and is ambiguous")
    x = a._data
    try:
        y = x.reshape(shape)
    except ValueError:
        raise RuntimeError(f"shape '{_shape_str(shape)}' is invalid for input of size {x.size}") from None
    in_shape = x.shape
    out = Tensor._wrap(y)
    yb = y.base
    if yb is not None and (yb is x or yb is x.base):  # a view, not a copy: shares x's storage
        out._base = root = a if a._base is None else a._base
        out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "ViewBackward0", (a,), lambda g: (g.reshape(in_shape),))


def view(a: Tensor, *shape) -> Tensor:
    """reshape that must share storage: a layout that would need a copy raises, as ``torch.Tensor.view``."""
    if not shape:
        raise TypeError('view() missing 1 required positional arguments: "shape"')
    out = reshape(a, *shape)
    y, x = out._data, a._data
    if y.size and not backend_of(x).xp.may_share_memory(y, x):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return out


def view_as(a: Tensor, other: Tensor) -> Tensor:
    return view(a, other.shape)


def permute(a: Tensor, *dims) -> Tensor:
    dims = shape_arg(dims, "permute")
    if len(dims) != a.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {a.ndim} is not equal "
                           f"to len(dims) = {len(dims)}")
    axes = tuple(normalize_dim(d, a.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
    out = Tensor._wrap(a._data.transpose(axes))
    out._base = root = a if a._base is None else a._base
    out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "PermuteBackward0", (a,), lambda g: (g.transpose(inverse),))


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    d0, d1 = normalize_dim(dim0, a.ndim, "transpose"), normalize_dim(dim1, a.ndim, "transpose")
    out = Tensor._wrap(a._data if a.ndim < 2 else a._data.swapaxes(d0, d1))
    out._base = root = a if a._base is None else a._base
    out._ver = root._ver  # the root's version this view's grad_fn is of
    if a.ndim < 2:
        return record(out, "TransposeBackward0", (a,), lambda g: (g,))
    return record(out, "TransposeBackward0", (a,), lambda g: (g.swapaxes(d0, d1),))


def t(a: Tensor) -> Tensor:
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    return transpose(a, 0, -1) if a.ndim == 2 else a


def numpy_T(a: Tensor) -> Tensor:
    return permute(a, tuple(reversed(range(a.ndim)))) if a.ndim > 1 else a


def squeeze(a: Tensor, dim=None) -> Tensor:
    x = a._data
    if dim is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = tuple(i for i in (normalize_dim(d, a.ndim, "squeeze") for d in dims) if a.ndim and x.shape[i] == 1)
    in_shape = x.shape
    out = Tensor._wrap(x.squeeze(axis=axes) if axes else x)
    out._base = root = a if a._base is None else a._base
    out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "SqueezeBackward0", (a,), lambda g: (g.reshape(in_shape),))


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    ax = normalize_dim(dim, a.ndim + 1, "unsqueeze")
    in_shape = a._data.shape
    # A reshape that inserts a 1 is a view (it is how NumPy's expand_dims does it).
    out = Tensor._wrap(a._data.reshape(in_shape[:ax] + (1,) + in_shape[ax:]))
    out._base = root = a if a._base is None else a._base
    out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "UnsqueezeBackward0", (a,), lambda g: (g.reshape(in_shape),))


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if a.ndim == 0:  # the dims are still checked (0-d counts as 1-d): torch's IndexError / TypeError
        normalize_dim(start_dim, 0, "flatten")
        normalize_dim(end_dim, 0, "flatten")
        return reshape(a, (1,))
    s = normalize_dim(start_dim, a.ndim, "flatten")
    e = normalize_dim(end_dim, a.ndim, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = a.shape
    return reshape(a, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(a: Tensor, dim: int, sizes) -> Tensor:
    d = normalize_dim(dim, a.ndim, "unflatten")
    return reshape(a, a.shape[:d] + tuple(sizes) + a.shape[d + 1:])


def expand(a: Tensor, *sizes) -> Tensor:
    sizes = shape_arg(sizes, "expand")
    x = a._data
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({x.ndim})")
    lead = len(sizes) - x.ndim
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
            s = x.shape[i - lead]
        elif i >= lead and x.shape[i - lead] not in (1, s):
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size "
                               f"({x.shape[i - lead]}) at non-singleton dimension {i}.  Target sizes: "
                               f"{_shape_str(sizes)}.  Tensor sizes: {_shape_str(x.shape)}")
        target.append(s)
    in_shape = x.shape
    out = Tensor._wrap(backend_of(x).xp.broadcast_to(x, tuple(target)))
    out._base = root = a if a._base is None else a._base  # read-only: an in-place write into it is refused
    out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "ExpandBackward0", (a,), lambda g: (unbroadcast(g, in_shape),))


def expand_as(a: Tensor, other: Tensor) -> Tensor:
    return expand(a, other.shape)


def contiguous(a: Tensor, *, memory_format=None) -> Tensor:
    """``a`` itself when it is contiguous in ``memory_format`` (C order by default), else a copy that is."""
    x = a._data
    fmt = _mf.resolve(memory_format, "contiguous", _mf.contiguous_format)
    if fmt is _mf.contiguous_format and x.flags.c_contiguous:  # the hot case, without the stride walk
        return a
    if _mf.is_contiguous(tuple(x.shape), _mf.strides_of(x), fmt):
        return a
    if fmt is _mf.preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    return record(Tensor._wrap(_mf.copy_as(x, fmt)), "CloneBackward0", (a,), lambda g: (g,))


def clone(a: Tensor, *, memory_format=None) -> Tensor:
    """A copy of ``a``; ``memory_format=preserve_format`` (the default) keeps a dense input's strides and
    gives any other input dense strides in its dim order, as torch.clone."""
    fmt = _mf.resolve(memory_format, "clone")
    return record(Tensor._wrap(_mf.copy_as(a._data, fmt)), "CloneBackward0", (a,), lambda g: (g,))


def _tensors_arg(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be a sequence of Tensors, not {type(tensors).__name__}")
    if not tensors:  # torch's types and texts differ between the two
        if op == "cat":
            raise ValueError("torch.cat(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    ts = [as_tensor(t, op) for t in tensors]
    # Every tensor counts equally here (stack of 0-d float32 and float64 is float64), so no scalar rule.
    dt = ts[0].dtype
    for t_ in ts[1:]:
        t_dt = t_.dtype
        if t_dt is not dt:  # one dtype throughout (the usual case) needs no promotion
            dt = promote_types(dt, t_dt)
    return ts, dt.np


def cat(tensors, dim: int = 0) -> Tensor:
    ts, dt = _tensors_arg(tensors, "cat")
    # The checks read the arrays' shape tuples (Tensor.shape and .ndim build a Size / call a property per
    # read: most of a small cat's time).
    shapes = [t_._data.shape for t_ in ts]
    # PyTorch skips 1-D empty tensors in cat (a legacy rule many programs rely on).
    keep = [k for k, sh in enumerate(shapes) if not (len(sh) == 1 and sh[0] == 0)]
    only_empties = not keep  # then torch returns an empty one, whatever dim says
    if len(keep) != len(ts):
        keep = keep or [0]
        parts, shapes_p = [ts[k] for k in keep], [shapes[k] for k in keep]
    else:
        parts, shapes_p = ts, shapes
    for i, sh in enumerate(shapes):  # any 0-d tensor in the list, as torch checks before the sizes
        if not sh:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    s0 = shapes_p[0]
    ndim = len(s0)
    if only_empties and (not isinstance(dim, int) or isinstance(dim, bool)):
        raise TypeError(f"cat(): argument 'dim' must be int, not {type(dim).__name__}")
    ax = 0 if only_empties else normalize_dim(dim, ndim, "cat")
    for i, sh in enumerate(shapes_p):
        if len(sh) != ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ndim} and {len(sh)}")
        if sh[:ax] != s0[:ax] or sh[ax + 1:] != s0[ax + 1:]:
            raise RuntimeError(f"Sizes of tensors must match except in dimension {ax}. Expected sizes "
                               f"{_shape_str(s0)} but got {_shape_str(sh)} for tensor number {i} "
                               "in the list.")
    arrays = [t_._data.astype(dt, copy=False) for t_ in parts]
    xp = backend_of(*arrays).xp
    y = xp.concatenate(arrays, axis=ax)
    bounds = list(itertools.accumulate([sh[ax] for sh in shapes_p], initial=0))

    def backward(g):
        return tuple(xp.take(g, xp.arange(bounds[i], bounds[i + 1]), axis=ax) if t_._requires_grad else None
                     for i, t_ in enumerate(parts))

    return record(Tensor._wrap(y), "CatBackward0", tuple(parts), backward)


def stack(tensors, dim: int = 0) -> Tensor:
    ts, dt = _tensors_arg(tensors, "stack")
    for i, t_ in enumerate(ts):
        if t_.shape != ts[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {_shape_str(ts[0].shape)} at "
                               f"entry 0 and {_shape_str(t_.shape)} at entry {i}")
    ax = normalize_dim(dim, ts[0].ndim + 1, "stack")
    arrays = [t_._data.astype(dt, copy=False) for t_ in ts]
    xp = backend_of(*arrays).xp
    y = xp.stack(arrays, axis=ax)
    return record(Tensor._wrap(y), "StackBackward0", tuple(ts),
                  lambda g: tuple(xp.take(g, i, axis=ax) if t_._requires_grad else None for i, t_ in enumerate(ts)))


def narrow(a: Tensor, dim: int, start: int, length: int) -> Tensor:
    if a.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    ax = normalize_dim(dim, a.ndim, "narrow")
    if isinstance(start, Tensor):  # torch.narrow(x, dim, start_tensor, length): a 0-d integer tensor only
        if start.ndim != 0 or start.dtype.is_floating_point or start.dtype.name == "bool":
            raise RuntimeError("start must be an 0-dim integral Tensor.")
        start = int(start.item())
    size = a.shape[ax]
    if not -size <= start <= size:
        raise IndexError(f"narrow(): start out of range (expected to be in range of [{-size}, {size}], but got "
                         f"{start})")
    if start < 0:
        start += size
    if not (0 <= length and start + length <= size):
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size}).")
    index = (slice(None),) * ax + (slice(start, start + length),)
    in_shape, dt = a._data.shape, a._data.dtype

    def backward(g):
        out = backend_of(g).xp.zeros(in_shape, g.dtype if g.dtype.kind in "fV" else dt)
        out[index] = g
        return (out,)

    out = Tensor._wrap(a._data[index])
    out._base = root = a if a._base is None else a._base
    out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "NarrowBackward0", (a,), backward)


def split(a: Tensor, split_size_or_sections, dim: int = 0):
    if a.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    if isinstance(split_size_or_sections, (list, tuple)):
        if any(s < 0 for s in split_size_or_sections):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={list(split_size_or_sections)}")
    elif split_size_or_sections < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={split_size_or_sections}")
    ax = normalize_dim(dim, a.ndim, "split")
    size = a.shape[ax]
    if isinstance(split_size_or_sections, (list, tuple)):
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size "
                               f"at dimension {ax}), but got split_sizes={sections}")
    else:
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise RuntimeError(f"split(): split_size must be positive, got {step}")
        sections = [min(step, size - s) for s in range(0, size, step)] if size else [0]
    out, start = [], 0
    for n in sections:
        out.append(narrow(a, ax, start, n))
        start += n
    if a._requires_grad:
        mark_multi_output(out, "SplitWithSizes" if isinstance(split_size_or_sections, (list, tuple)) else "Split")
    return tuple(out)



def chunk(a: Tensor, chunks: int, dim: int = 0):
    if a.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = a.shape[normalize_dim(dim, a.ndim, "chunk")]
    if size == 0:  # PyTorch gives ``chunks`` empty pieces here, where split would give one
        return split(a, [0] * chunks, dim)
    step = -(-size // chunks)
    return split(a, step, dim)


def unbind(a: Tensor, dim: int = 0):
    if a.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")  # torch's text
    ax = normalize_dim(dim, a.ndim, "unbind")
    out = tuple(squeeze(p, ax) for p in split(a, 1, ax))
    if a._requires_grad:
        mark_multi_output(out, "Unbind")
    return out
