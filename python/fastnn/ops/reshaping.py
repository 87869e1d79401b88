"""Shape ops that move, repeat or window elements: flip, roll, rot90, repeat, repeat_interleave, tile, the
broadcast family, movedim, the *stack family, atleast_nd, ravel, unfold, select, take, meshgrid.

Where an op is a composition of existing differentiable ops (rot90 = flip + transpose, tile = repeat,
hstack = cat ...) it is written so and autograd composes; the others carry their own backward."""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .. import _memory_format as _mf
from .._tensor import Size, Tensor
from ._util import as_tensor, normalize_dim, shape_arg
from . import shape as _shape


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _int_tuple(value, op: str, arg: str):
    """An int or a sequence of ints as a tuple (PyTorch's IntArrayRef also takes a single int)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{op}(): argument '{arg}' must be tuple of ints, not {type(value).__name__}")


def _dims(dims, ndim: int, op: str):
    """dims normalised, refusing repeats with PyTorch's message."""
    axes = tuple(normalize_dim(d, ndim, op) for d in dims)
    seen = set()
    for a in axes:
        if a in seen:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
        seen.add(a)
    return axes


# ---- flip, roll, rot90 ----------------------------------------------------------------------------------
def flip(input: Tensor, dims) -> Tensor:  # noqa: A002  (PyTorch's names)
    if not isinstance(dims, (tuple, list)):
        raise TypeError(f"flip(): argument 'dims' (position 2) must be tuple of ints, not {type(dims).__name__}")
    x = input._data
    axes = _dims(_int_tuple(list(dims), "flip", "dims"), x.ndim, "flip") if x.ndim else ()
    xp = backend_of(x).xp
    # A copy, as PyTorch's flip (a negative-stride view would let writes into the result reach the input).
    y = xp.flip(x, axes).copy() if axes else x.copy()
    return record(Tensor._wrap(y), "FlipBackward0", (input,), lambda g: (xp.flip(g, axes) if axes else g,))


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:  # noqa: A002
    shifts = _int_tuple(shifts, "roll", "shifts")
    x = input._data
    xp = backend_of(x).xp
    if not shifts:
        raise RuntimeError("`shifts` required")
    if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        # No dims: the flattened tensor rolls, then takes its shape back.
        in_shape = x.shape
        y = xp.roll(x.reshape(-1), shifts[0]).reshape(in_shape)
        return record(Tensor._wrap(y), "RollBackward0", (input,),
                      lambda g: (xp.roll(g.reshape(-1), -shifts[0]).reshape(in_shape),))
    dims = _int_tuple(dims, "roll", "dims")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    if x.ndim == 0:  # torch: a 0-d tensor has no dim to roll along (its scalar-wrap rule does not apply)
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    axes = tuple(normalize_dim(d, x.ndim, "roll") for d in dims)
    y = xp.roll(x, shifts, axes)
    back = tuple(-s for s in shifts)
    return record(Tensor._wrap(y), "RollBackward0", (input,), lambda g: (xp.roll(g, back, axes),))


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:  # noqa: A002
    dims = _int_tuple(dims, "rot90", "dims")
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (normalize_dim(d, input.ndim, "rot90") for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = int(k) % 4
    # PyTorch's own composition, so the graph (and its node names) match.
    if k == 1:
        return _shape.transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return _shape.transpose(flip(input, (d0,)), d0, d1)
    return _shape.clone(input, memory_format=_mf.contiguous_format)  # torch's k=0 result is C order


# ---- repeat, tile, repeat_interleave ------------------------------------------------------------------------
def repeat(input: Tensor, *sizes) -> Tensor:  # noqa: A002
    reps = shape_arg(sizes, "repeat")
    x = input._data
    if len(reps) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of "
                           "tensor")
    lead = len(reps) - x.ndim
    src_shape = (1,) * lead + x.shape
    out_shape = tuple(r * s for r, s in zip(reps, src_shape))
    for s in out_shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {_shape_str(out_shape)}")
    xp = backend_of(x).xp
    y = xp.tile(x.reshape(src_shape), reps)
    in_shape = x.shape

    def backward(g):
        # Split each output dim into (repeat, size) and sum the repeats away.
        split = tuple(v for r, s in zip(reps, src_shape) for v in (r, s))
        return (g.reshape(split).sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(in_shape),)

    return record(Tensor._wrap(y), "RepeatBackward0", (input,), backward)


def tile(input: Tensor, dims) -> Tensor:  # noqa: A002
    dims = _int_tuple(dims, "tile", "dims")
    lead = input.ndim - len(dims)
    return repeat(input, (1,) * max(lead, 0) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:  # noqa: A002
    if repeats is None:  # repeat_interleave(repeats): the indices 0..n-1, each repeated
        reps_t = as_tensor(input, "repeat_interleave")
        if reps_t.dtype.is_floating_point or reps_t.dtype.name == "bool":
            raise RuntimeError("repeat_interleave: repeats has to be Long or Int tensor")
        if reps_t.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        r = reps_t._data.reshape(-1)
        if r.size and int(r.min()) < 0:
            raise RuntimeError("repeats can not be negative")
        xp = backend_of(r).xp
        out = xp.repeat(xp.arange(r.size, dtype=np.int64), r)
        _check_output_size(out.shape[0], output_size)
        return Tensor._wrap(out)
    x = input._data
    xp = backend_of(x).xp
    if dim is None:
        return repeat_interleave(_shape.reshape(input, -1), repeats, 0, output_size=output_size)
    ax = normalize_dim(dim, x.ndim, "repeat_interleave")
    size = x.shape[ax] if x.ndim else 1
    if isinstance(repeats, Tensor):
        if repeats.dtype.is_floating_point or repeats.dtype.name == "bool":
            raise RuntimeError("repeat_interleave: repeats has to be Long or Int tensor")
        if repeats.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        r = repeats._data.reshape(-1)
        if r.size == 1:
            r = xp.full((size,), int(r[0]), np.int64)
        elif r.size != size:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{r.size} and input.size({ax}) = {size}")
        if r.size and int(r.min()) < 0:
            raise RuntimeError("repeats can not be negative")
    elif isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        if repeats < 0:
            raise RuntimeError("Repeats must be non-negative")
        r = xp.full((size,), int(repeats), np.int64)
    else:
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be int or Tensor, not "
                        f"{type(repeats).__name__}")
    xr = x.reshape(1) if x.ndim == 0 else x
    idx = xp.repeat(xp.arange(size, dtype=np.int64), r)
    _check_output_size(idx.shape[0], output_size)
    y = xp.take(xr, idx, axis=ax)
    in_shape = x.shape

    def backward(g):
        out = xp.zeros(xr.shape, g.dtype)
        be = backend_of(g)
        be.scatter_at(xp.moveaxis(out, ax, 0), idx, xp.moveaxis(g, ax, 0))
        return (out.reshape(in_shape),)

    return record(Tensor._wrap(y), "IndexSelectBackward0", (input,), backward)


def _check_output_size(actual: int, output_size) -> None:
    if output_size is not None and int(output_size) != actual:
        raise RuntimeError("allocated size does not match required size")


# ---- broadcasting -------------------------------------------------------------------------------------------
def broadcast_shapes(*shapes) -> Size:
    dims = []
    for s in shapes:
        dims.append((int(s),) if isinstance(s, (int, np.integer)) else tuple(int(v) for v in s))
    ndim = max((len(s) for s in dims), default=0)
    out = [1] * ndim
    # PyTorch's order: the shapes are merged left to right and the first conflict is reported.
    for n, s in enumerate(dims):
        for j in range(ndim - len(s), ndim):
            v = s[j - ndim + len(s)]
            if v == 1 or v == out[j]:
                continue
            if out[j] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {v} at {j - ndim}! Mismatching "
                                   f"argument at index {n} had {tuple(s)}; but expected shape should be "
                                   f"broadcastable to {_shape_str(out)}")
            out[j] = v
    return Size(out)


def broadcast_to(input: Tensor, size) -> Tensor:  # noqa: A002
    return _shape.expand(input, tuple(size))


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [as_tensor(t, "broadcast_tensors") for t in tensors]
    shape = ts[0].shape if ts else ()
    for t in ts[1:]:
        _check_pair(shape, t.shape)
        shape = broadcast_shapes(shape, t.shape)
    return tuple(_shape.expand(t, shape) for t in ts)


def _check_pair(sa, sb) -> None:
    for i in range(1, min(len(sa), len(sb)) + 1):
        if sa[-i] != sb[-i] and sa[-i] != 1 and sb[-i] != 1:
            raise RuntimeError(f"The size of tensor a ({sa[-i]}) must match the size of tensor b ({sb[-i]}) at "
                               f"non-singleton dimension {max(len(sa), len(sb)) - i}")


# ---- movedim, swapaxes ------------------------------------------------------------------------------------
def movedim(input: Tensor, source, destination) -> Tensor:  # noqa: A002
    src = _int_tuple(source, "movedim", "source")
    dst = _int_tuple(destination, "movedim", "destination")
    n = input.ndim
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
                           f"the same number of dims as destination ({list(dst)} dims)")
    s = [normalize_dim(d, n, "movedim") for d in src]
    d = [normalize_dim(v, n, "movedim") for v in dst]
    if len(set(s)) != len(s):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(d)) != len(d):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    if n == 0:
        return _shape.permute(input, ())
    order = [None] * n
    for a, b in zip(s, d):
        order[b] = a
    rest = iter(i for i in range(n) if i not in s)
    order = [o if o is not None else next(rest) for o in order]
    return _shape.permute(input, tuple(order))


moveaxis = movedim


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    return _shape.transpose(input, axis0, axis1)


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    return _shape.transpose(input, dim0, dim1)


# ---- atleast_nd, the stacks, ravel, concatenate --------------------------------------------------------------
def _atleast(tensors, fn):
    if len(tensors) == 1 and not isinstance(tensors[0], (list, tuple)):
        return fn(as_tensor(tensors[0], "atleast"))
    if len(tensors) == 1:
        tensors = tuple(tensors[0])
    return tuple(fn(as_tensor(t, "atleast")) for t in tensors)


def _at1(t: Tensor) -> Tensor:
    return _shape.reshape(t, (1,)) if t.ndim == 0 else t


def _at2(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return _shape.reshape(t, (1, 1))
    return _shape.unsqueeze(t, 0) if t.ndim == 1 else t


def _at3(t: Tensor) -> Tensor:
    if t.ndim == 0:
        return _shape.reshape(t, (1, 1, 1))
    if t.ndim == 1:
        return _shape.reshape(t, (1, t.shape[0], 1))
    return _shape.unsqueeze(t, -1) if t.ndim == 2 else t


def atleast_1d(*tensors):
    return _atleast(tensors, _at1)


def atleast_2d(*tensors):
    return _atleast(tensors, _at2)


def atleast_3d(*tensors):
    return _atleast(tensors, _at3)


def _stack_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return [as_tensor(t, op) for t in tensors]


def hstack(tensors) -> Tensor:
    ts = [_at1(t) for t in _stack_list(tensors, "hstack")]
    return _shape.cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    return _shape.cat([_at2(t) for t in _stack_list(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    return _shape.cat([_at3(t) for t in _stack_list(tensors, "dstack")], 2)


def column_stack(tensors) -> Tensor:
    ts = _stack_list(tensors, "column_stack")
    return _shape.cat([_shape.reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in ts], 1)


def ravel(input: Tensor) -> Tensor:  # noqa: A002
    return _shape.reshape(input, -1)


def concatenate(tensors, dim: int = 0, *, axis=None) -> Tensor:
    return _shape.cat(tensors, dim if axis is None else axis)


concat = concatenate


# ---- unfold, select, narrow_copy, take -------------------------------------------------------------------------
def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:  # noqa: A002
    """Tensor.unfold: the windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim.
    (A copy: NumPy views cannot be the strided views PyTorch returns without as_strided on every backend.)"""
    x = input._data
    ax = normalize_dim(dimension, x.ndim, "unfold")
    xr = x.reshape(1) if x.ndim == 0 else x
    n = xr.shape[ax]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {ax} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    xp = backend_of(x).xp
    count = (n - size) // step + 1
    idx = (xp.arange(count, dtype=np.int64)[:, None] * step + xp.arange(size, dtype=np.int64)[None, :]).reshape(-1)
    win_shape = xr.shape[:ax] + (count, size) + xr.shape[ax + 1:]
    y = xp.moveaxis(xp.take(xr, idx, axis=ax).reshape(win_shape), ax + 1, -1)
    if x.ndim == 0:
        y = y.reshape(size)
    in_shape = x.shape

    def backward(g):
        be = backend_of(g)
        if x.ndim == 0:
            return (g.sum().reshape(in_shape),)
        gw = xp.moveaxis(g, -1, ax + 1).reshape(xr.shape[:ax] + (count * size,) + xr.shape[ax + 1:])
        out = xp.zeros(xr.shape, g.dtype)
        be.scatter_at(xp.moveaxis(out, ax, 0), idx, xp.moveaxis(gw, ax, 0))
        return (out,)

    return record(Tensor._wrap(xp.ascontiguousarray(y)), "UnfoldBackward0", (input,), backward)


def select(input: Tensor, dim: int, index: int) -> Tensor:  # noqa: A002
    x = input._data
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    ax = normalize_dim(dim, x.ndim, "select")
    n = x.shape[ax]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {_shape_str(x.shape)} at "
                         f"dimension {ax}")
    key = (slice(None),) * ax + (index % n,)
    y = x[key + (Ellipsis,)]  # the Ellipsis keeps a 0-d result a view, as PyTorch's
    in_shape = x.shape

    def backward(g):
        out = backend_of(g).xp.zeros(in_shape, g.dtype)
        out[key] = g
        return (out,)

    return record(Tensor._wrap(y), "SelectBackward0", (input,), backward)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:  # noqa: A002
    if input.ndim and isinstance(dim, int) and dim >= input.ndim:  # torch's own check here (and its text)
        raise RuntimeError("Expected dim < static_cast<int64_t>(self_sizes.size()) to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an enhancement request "
                           "to PyTorch.)")
    view = _shape.narrow(input, dim, start, length)
    return record(Tensor._wrap(view._data.copy()), "NarrowCopyBackward0", (view,), lambda g: (g,))


def _int_index(index, op: str) -> Tensor:
    index = as_tensor(index, op)
    if index.dtype.name != "int64":  # torch's take wants int64 exactly (int32 too is refused)
        raise RuntimeError(f"{op}(): Expected a long tensor for index, but got {_torch_name(index)}")
    return index


def _torch_name(t: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool", "int32": "Int", "int16": "Short",
            "int8": "Char", "uint8": "Byte", "float16": "Half"}.get(t.dtype.name, t.dtype.name)


def take(input: Tensor, index) -> Tensor:  # noqa: A002
    index = _int_index(index, "take")
    x = input._data
    i = index._data
    n = x.size
    xp = backend_of(x, i).xp
    if i.size and n == 0:
        raise IndexError("take(): tried to take from an empty tensor")
    if i.size:
        lo, hi = int(i.min()), int(i.max())
        bad = hi if hi >= n else (lo if lo < -n else None)
        if bad is not None:
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    flat_i = xp.where(i < 0, i + n, i)  # PyTorch's take wraps negative indices, as Python does
    y = x.reshape(-1)[flat_i]
    in_shape = x.shape

    def backward(g):
        be = backend_of(g)
        out = xp.zeros(n, g.dtype)
        be.scatter_at(out, flat_i.reshape(-1), g.reshape(-1))
        return (out.reshape(in_shape),)

    return record(Tensor._wrap(y), "TakeBackward0", (input,), backward)


# ---- meshgrid ---------------------------------------------------------------------------------------------
def meshgrid(*tensors, indexing: str | None = None):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    ts = [as_tensor(t, "meshgrid") for t in tensors]
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"{t.ndim}-D tensor of shape {tuple(t.shape)}")
        if t.dtype is not ts[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:  # 'xy' is 'ij' with the first two inputs (and outputs) swapped
        ts[0], ts[1] = ts[1], ts[0]
    sizes = tuple(t.numel() for t in ts)
    out = []
    for i, t in enumerate(ts):
        view_shape = tuple(sizes[i] if j == i else 1 for j in range(len(ts)))
        out.append(_shape.expand(_shape.reshape(t, view_shape), sizes))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)



# ---- sum_to_size, the conjugate transposes (real tensors: plain transposes) ------------------------------------
def sum_to_size(input: Tensor, *size) -> Tensor:  # noqa: A002
    """Sums the dims that broadcasting ``size`` to input's shape would expand (Tensor.sum_to_size)."""
    from . import reduction as _reduction

    size = shape_arg(size, "sum_to_size")
    shape = tuple(input.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != d for s, d in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{_shape_str(size)}}} is not expandable to size {{{_shape_str(shape)}}}.")
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(size) if s == 1 and shape[lead + i] != 1)
    if not axes:
        # PyTorch returns self, except for a 0-d input, which it sums (a bool scalar becomes int64).
        return _reduction.sum(input) if input.ndim == 0 else input
    return _shape.reshape(_reduction.sum(input, axes, keepdim=True), size)


def mH(input: Tensor) -> Tensor:  # noqa: A002,N802  (PyTorch's property name)
    if input.ndim < 2:
        raise RuntimeError(f"tensor.mH is only supported on matrices or batches of matrices. Got {input.ndim}-D "
                           "tensor.")
    return _shape.transpose(input, -2, -1)


def H(input: Tensor) -> Tensor:  # noqa: A002,N802
    if input.ndim not in (0, 2):
        hint = " For batches of matrices, consider using tensor.mH" if input.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {input.ndim}-D tensor.{hint}")
    return _shape.transpose(input, 0, 1) if input.ndim == 2 else input


def adjoint(input: Tensor) -> Tensor:  # noqa: A002
    if input.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. Got "
                           f"{input.ndim}-D tensor.")
    return _shape.transpose(input, -2, -1)
