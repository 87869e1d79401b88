"""Index-driven reads and writes: gather, scatter (+ reduce), scatter_add, scatter_reduce, index_add,
index_copy, index_fill, index_put, masked_select, masked_scatter, take_along_dim.

Every op checks its indices itself (PyTorch raises for out-of-range and negative indices where NumPy would
wrap around or fail with its own message). Writes go into a copy of the input; repeated indices accumulate
through ``be.scatter_at`` (xp.<ufunc>.at), the same primitive the backwards use to send gradients back."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..autograd.grad_mode import is_grad_enabled
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, is_scalar, normalize_dim, unbroadcast
from . import shape as _shape
from .arg_checks import check_bool
from .indexing import torch_index_error

_TORCH_NAME = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "float16": "Half"}


def _tname(t) -> str:
    return _TORCH_NAME.get(t.dtype.name, t.dtype.name)


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _is_int(t: Tensor) -> bool:
    return not t.dtype.is_floating_point and t.dtype.name != "bool"


def _check_range(i, n: int, ax: int, prefix: str = "", exc=RuntimeError) -> None:
    """PyTorch's "index 5 is out of bounds for dimension 0 with size 3" for the first bad index."""
    if i.size == 0:
        return
    backend_of(i)  # (several CUDA devices: the index's device becomes the current one)
    bad = (i < 0) | (i >= n)
    if bool(bad.any()):
        raise exc(f"{prefix}index {int(i[bad].reshape(-1)[0])} is out of bounds for dimension {ax} with size {n}")


def _grid(xp, index, ax: int):
    """The advanced index that addresses ``a[..., index[p], ...]`` at every position p of ``index`` along
    ``ax``: aranges broadcast over the other dims, ``index`` itself at ``ax``."""
    nd = index.ndim
    parts = []
    for d, n in enumerate(index.shape):
        if d == ax:
            parts.append(index)
        else:
            parts.append(xp.arange(n, dtype=np.int64).reshape((1,) * d + (n,) + (1,) * (nd - d - 1)))
    return tuple(parts)


def _as_1d(arr):
    return arr.reshape(1) if arr.ndim == 0 else arr


# ---- gather ----------------------------------------------------------------------------------------------
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:  # noqa: A002
    if sparse_grad:
        raise NotImplementedError("gather(): sparse_grad=True is not supported (fastnn has no sparse gradients)")
    index = as_tensor(index, "gather")
    if not _is_int(index):
        if index.numel():
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        index = Tensor._wrap(index._data.astype(np.int64))  # torch lets an empty index of any dtype through
    x, i = input._data, index._data
    if i.size == 0:
        # torch checks only dim for an empty index, of any rank: the result is empty, shaped as the index.
        normalize_dim(dim, x.ndim, "gather")
        xp = backend_of(x, i).xp
        in_shape = x.shape
        return record(Tensor._wrap(xp.zeros(i.shape, x.dtype)), "GatherBackward0", (input,),
                      lambda g: (xp.zeros(in_shape, g.dtype),))
    if max(x.ndim, 1) != max(i.ndim, 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    ax = normalize_dim(dim, x.ndim, "gather")
    x1, i1 = _as_1d(x), _as_1d(i)
    for d in range(x1.ndim):
        if d != ax and i1.shape[d] > x1.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {_shape_str(i.shape)} to be no "
                               f"larger than self {_shape_str(x.shape)} apart from dimension {ax}")
    _check_range(i1, x1.shape[ax], ax)
    xp = backend_of(x, i).xp
    grid = _grid(xp, i1, ax)
    y = x1[grid].reshape(i.shape)
    in_shape = x.shape

    def backward(g):
        out = xp.zeros(x1.shape, g.dtype)
        backend_of(g).scatter_at(out, grid, g.reshape(i1.shape))
        return (out.reshape(in_shape),)

    return record(Tensor._wrap(y), "GatherBackward0", (input,), backward)


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:  # noqa: A002
    indices = as_tensor(indices, "take_along_dim")
    if indices.dtype.name != "int64":  # torch wants int64 exactly here (int32 too is refused)
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {_tname(indices)}")
    if dim is None:
        flat = _shape.reshape(input, -1)
        return gather(flat, 0, _wrap_negative(_shape.reshape(indices, -1), flat.shape[0]))
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices")
    ax = normalize_dim(dim, input.ndim, "take_along_dim")
    # Broadcast every dim but ``dim``, then gather (PyTorch's definition).
    shape = []
    for d, (a, b) in enumerate(zip(input.shape, indices.shape)):
        if d != ax and a != b and a != 1 and b != 1:
            raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton "
                               f"dimension {d}")
        shape.append(max(a, b) if a and b else 0)
    in_shape = tuple(input.shape[d] if d == ax else s for d, s in enumerate(shape))
    idx_shape = tuple(indices.shape[d] if d == ax else s for d, s in enumerate(shape))
    src = input if tuple(input.shape) == in_shape else _shape.expand(input, in_shape)
    idx = indices if tuple(indices.shape) == idx_shape else _shape.expand(indices, idx_shape)
    return gather(src, ax, _wrap_negative(idx, input.shape[ax]))


def _wrap_negative(index: Tensor, n: int) -> Tensor:
    """take_along_dim counts negative indices from the end (PyTorch does; gather itself refuses them)."""
    i = index._data
    return Tensor._wrap(backend_of(i).xp.where(i < 0, i + n, i))


# ---- scatter family -----------------------------------------------------------------------------------------
def _scatter_args(input: Tensor, dim: int, index, src, op: str):
    """Checks shared by scatter, scatter_add and scatter_reduce; returns (axis, index array, src slice)."""
    index = as_tensor(index, op)
    if not _is_int(index):
        if index.numel():
            raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
        index = Tensor._wrap(index._data.astype(np.int64))  # torch lets an empty index of any dtype through
    x, i = input._data, index._data
    if src is not None and src.dtype is not input.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")
    if max(x.ndim, 1) != max(i.ndim, 1) or (src is not None and max(src.ndim, 1) != max(i.ndim, 1)):
        raise RuntimeError("Index tensor must have the same number of dimensions as self tensor")
    ax = normalize_dim(dim, x.ndim, op)
    x1, i1 = _as_1d(x), _as_1d(i)
    s1 = _as_1d(src._data) if src is not None else None
    for d in range(x1.ndim):
        if (d != ax and i1.shape[d] > x1.shape[d]) or (s1 is not None and i1.shape[d] > s1.shape[d]):
            tail = f" and to be no larger size than src {_shape_str(src.shape)}" if s1 is not None else ""
            raise RuntimeError(f"Expected index {_shape_str(i.shape)} to be no larger than self {_shape_str(x.shape)} "
                               f"apart from dimension {ax}{tail}")
    _check_range(i1, x1.shape[ax], ax)
    part = tuple(slice(0, n) for n in i1.shape)  # the region of src that index addresses
    return ax, i1, part


def _src_grad(xp, g_at_index, src_shape, part, dtype):
    """The gradient of src: the values read at the index positions, zero outside index's region."""
    if src_shape == g_at_index.shape:
        return g_at_index
    out = xp.zeros(src_shape, dtype)
    out[part] = g_at_index
    return out


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:  # noqa: A002
    if src is not None and is_scalar(src):
        src, value = None, src
    if (src is None) == (value is None):
        raise TypeError("scatter(): expected exactly one of 'src' (a Tensor) or 'value' (a number)")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        if src is None:
            src = Tensor._wrap(backend_of(input._data).xp.full(_as_1d(as_tensor(index, "scatter")._data).shape,
                                                                value, input._data.dtype))
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod", include_self=True)
    src_t = as_tensor(src, "scatter") if src is not None else None
    ax, i1, part = _scatter_args(input, dim, index, src_t, "scatter")
    x = input._data
    xp = backend_of(x, i1).xp
    grid = _grid(xp, i1, ax)
    out = _as_1d(x).copy()
    out[grid] = _as_1d(src_t._data)[part] if src_t is not None else value
    in_shape = x.shape
    src_shape = _as_1d(src_t._data).shape if src_t is not None else None

    def backward(g):
        g1 = _as_1d(g)
        gx = g1.copy()
        gx[grid] = 0
        gs = None
        if src_t is not None and src_t._requires_grad:
            gs = _src_grad(xp, g1[grid], src_shape, part, g.dtype).reshape(src_t.shape)
        return (gx.reshape(in_shape), gs)

    name = "ScatterBackward0" if src_t is not None else "ScatterBackward1"
    return record(Tensor._wrap(out.reshape(in_shape)), name, (input, src_t), backward)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    src = as_tensor(src, "scatter_add")
    ax, i1, part = _scatter_args(input, dim, index, src, "scatter_add")
    x = input._data
    be = backend_of(x, i1)
    xp = be.xp
    grid = _grid(xp, i1, ax)
    out = _as_1d(x).copy()
    be.scatter_at(out, grid, _as_1d(src._data)[part])
    in_shape, src_shape = x.shape, _as_1d(src._data).shape

    def backward(g):
        g1 = _as_1d(g)
        gs = _src_grad(xp, g1[grid], src_shape, part, g.dtype).reshape(src.shape) if src._requires_grad else None
        return (g, gs)

    return record(Tensor._wrap(out.reshape(in_shape)), "ScatterAddBackward0", (input, src), backward)


_REDUCE_INIT = {"sum": 0, "prod": 1, "mean": 0}


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,  # noqa: A002
                   include_self: bool = True) -> Tensor:
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    src = as_tensor(src, "scatter_reduce")
    ax, i1, part = _scatter_args(input, dim, index, src, "scatter_reduce")
    x = input._data
    be = backend_of(x, i1)
    xp = be.xp
    grid = _grid(xp, i1, ax)
    x1 = _as_1d(x)
    s = _as_1d(src._data)[part]
    out = x1.copy()
    if not include_self:  # the scattered-to positions start from the reduction's identity
        if reduce in _REDUCE_INIT:
            init = _REDUCE_INIT[reduce]
        elif x.dtype.kind in "fV":
            init = -np.inf if reduce == "amax" else np.inf
        elif x.dtype.kind == "b":
            init = reduce == "amin"
        else:
            info = np.iinfo(x.dtype)
            init = info.min if reduce == "amax" else info.max
        out[grid] = init
    ufunc = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}[reduce]
    be.scatter_at(out, grid, s, ufunc)
    count = None
    if reduce == "mean":
        count = xp.ones(x1.shape, np.int64)
        if not include_self:
            count[grid] = 0
        be.scatter_at(count, grid, xp.ones(s.shape, np.int64))
        safe = xp.maximum(count, 1)
        out = (out / safe).astype(out.dtype) if out.dtype.kind in "fV" else (out // safe).astype(out.dtype)
    scattered = None
    if not include_self:
        scattered = xp.zeros(x1.shape, bool)
        scattered[grid] = True
    in_shape, src_shape = x.shape, _as_1d(src._data).shape

    def backward(g):
        g1 = _as_1d(g)
        gx = gs = None
        if reduce == "sum":
            gx = g1.copy()
            gs_at = g1[grid]
        elif reduce == "mean":
            gd = g1 / xp.maximum(count, 1)
            gx = gd.copy()
            gs_at = gd[grid]
        elif reduce == "prod":
            gx, gs_at = _prod_grads(be, x1, s, out, grid, g1, include_self)
        else:  # amax / amin: the gradient is shared evenly among the elements equal to the result
            self_hit = (x1 == out).astype(g.dtype)
            src_hit = (s == out[grid]).astype(g.dtype)
            # PyTorch counts self among the ties even when include_self=False (then masks self's share).
            n = self_hit.copy()
            be.scatter_at(n, grid, src_hit)
            gd = g1 / xp.maximum(n, 1)
            gx = self_hit * gd
            gs_at = src_hit * gd[grid]
        if not include_self and reduce != "prod":
            gx[scattered] = 0
        if src._requires_grad:
            gs = _src_grad(xp, gs_at, src_shape, part, g.dtype).reshape(src.shape)
        return (gx.reshape(in_shape), gs)

    return record(Tensor._wrap(out.reshape(in_shape)), "ScatterReduceBackward0", (input, src), backward)


def _prod_grads(be, x1, s, out, grid, g1, include_self):
    """d(prod)/d(element) = the product of the other elements of its group, computed without dividing by
    zero: with no zero in the group it is out / element; with exactly one zero only that zero gets the
    product of the nonzeros; with two or more every element gets 0."""
    xp = be.xp
    zeros = xp.zeros(x1.shape, np.int64)
    nonzero_prod = xp.ones(x1.shape, x1.dtype)
    if include_self:
        zeros += (x1 == 0)
        nonzero_prod = xp.where(x1 == 0, 1, x1).astype(x1.dtype)
    be.scatter_at(zeros, grid, (s == 0).astype(np.int64))
    be.scatter_at(nonzero_prod, grid, xp.where(s == 0, 1, s).astype(x1.dtype), "multiply")

    def grad_of(elem, z, npd, g):
        # With no zero in the group the product of its nonzeros is the result itself.
        safe = xp.where(elem == 0, 1, elem)
        return xp.where(elem == 0, xp.where(z == 1, g * npd, 0), xp.where(z == 0, g * npd / safe, 0))

    gx = grad_of(x1, zeros, nonzero_prod, g1) if include_self else g1.copy()
    if not include_self:
        scattered = xp.zeros(x1.shape, bool)
        scattered[grid] = True
        gx[scattered] = 0
    gs_at = grad_of(s, zeros[grid], nonzero_prod[grid], g1[grid])
    return gx, gs_at


# ---- index_* along one dim -------------------------------------------------------------------------------
def _vector_index(index, op: str, dtype_error=RuntimeError, message=None, long_only: bool = False):
    """``index`` as a Tensor and its 1-D array; ``long_only``: int64 only (torch's index_copy_ / index_fill_
    refuse int32 too, index_add_ takes it)."""
    index = as_tensor(index, op)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, but got dim: {index.ndim} with type: "
                         f"{_tname(index)} and size: {_shape_str(index.shape)}")
    if not _is_int(index) or (long_only and index.dtype.name != "int64"):
        raise dtype_error(message or f"{op}(): Expected dtype int32/int64 for index but got: {_tname(index)}")
    backend_of(index._data)  # (several CUDA devices: the index's device becomes the current one)
    return index, _as_1d(index._data)


def _along(ax: int, idx):
    return (slice(None),) * ax + (idx,)


def _check_source(x, src, ax: int, n_index: int, op: str, count_error=RuntimeError) -> None:
    s1 = _as_1d(src) if x.ndim <= 1 else src
    x1 = _as_1d(x)
    if s1.ndim != x1.ndim or any(a != b for d, (a, b) in enumerate(zip(x1.shape, s1.shape)) if d != ax):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified dimension. "
                           f"Got self.shape = {_shape_str(x.shape)} source.shape = {_shape_str(src.shape)}")
    if s1.shape[ax] != n_index:
        if op == "index_copy_":
            raise count_error(f"index_copy_(): Number of indices ({n_index}) should be equal to source.size(dim) "
                              f"({s1.shape[ax]})")
        raise count_error(f"{op}(): Number of indices ({n_index}) should be equal to source.size(dim): "
                          f"({s1.shape[ax]}), for dim: {ax}")


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:  # noqa: A002
    source = as_tensor(source, "index_add")
    index, i = _vector_index(index, "index_add_")
    x = input._data
    ax = normalize_dim(dim, x.ndim, "index_add")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({_tname(input)}) and source ({_tname(source)}) must have the same "
                           "scalar type")
    _check_source(x, source._data, ax, i.shape[0], "index_add_")
    x1 = _as_1d(x)
    if source._data.size:  # nothing added, nothing indexed: torch checks no index then
        _check_range(i, x1.shape[ax], ax, "index_add(): ")
    be = backend_of(x, i)
    xp = be.xp
    s = source._data.reshape(x1.shape[:ax] + (i.shape[0],) + x1.shape[ax + 1:])
    out = x1.copy()
    be.scatter_at(xp.moveaxis(out, ax, 0), i, xp.moveaxis(s if alpha == 1 else s * alpha, ax, 0))
    in_shape = x.shape

    def backward(g):
        gs = None
        if source._requires_grad:
            gs = xp.take(_as_1d(g), i, axis=ax)
            gs = (gs if alpha == 1 else gs * alpha).reshape(source.shape)
        return (g, gs)

    return record(Tensor._wrap(out.reshape(in_shape)), "IndexAddBackward0", (input, source), backward)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    source = as_tensor(source, "index_copy")
    index, i = _vector_index(index, "index_copy_",
                             message=f"index_copy_(): Expected a long tensor for index, but got "
                                     f"{_tname(as_tensor(index, 'index_copy'))}", long_only=True)
    x = input._data
    ax = normalize_dim(dim, x.ndim, "index_copy")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_tname(input)} and (source) {_tname(source)}")
    _check_source(x, source._data, ax, i.shape[0], "index_copy_", count_error=IndexError)
    x1 = _as_1d(x)
    if source._data.size == 0:  # nothing copied, nothing indexed (torch checks no index then)
        return Tensor._wrap(x.copy())
    _check_range(i, x1.shape[ax], ax, "index_copy_(): ", IndexError)
    xp = backend_of(x, i).xp
    key = _along(ax, i)
    out = x1.copy()
    out[key] = source._data.reshape(x1.shape[:ax] + (i.shape[0],) + x1.shape[ax + 1:])
    in_shape = x.shape

    def backward(g):
        g1 = _as_1d(g)
        gx = g1.copy()
        gx[key] = 0
        gs = xp.take(g1, i, axis=ax).reshape(source.shape) if source._requires_grad else None
        return (gx.reshape(in_shape), gs)

    return record(Tensor._wrap(out.reshape(in_shape)), "IndexCopyBackward0", (input, source), backward)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:  # noqa: A002
    index, i = _vector_index(index, "index_fill_", IndexError, "index_fill_(): Expected dtype int64 for index.",
                             long_only=True)
    value_t = None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value_t = value
        value = value._data.astype(input._data.dtype)
    x = input._data
    ax = normalize_dim(dim, x.ndim, "index_fill")
    x1 = _as_1d(x)
    n = x1.shape[ax]
    bad = (i < -n) | (i >= n)  # index_fill counts negative indices from the end (PyTorch does)
    if x.size == 0:  # an empty input fills nothing: torch checks no index then
        return Tensor._wrap(x.copy())
    if i.size and bool(bad.any()):
        raise IndexError(f"index_fill(): index {int(i[bad][0])} is out of bounds for dimension {ax} with size {n}")
    key = _along(ax, backend_of(i).xp.where(i < 0, i + n, i))
    out = x1.copy()
    out[key] = value
    in_shape = x.shape

    def backward(g):
        g1 = _as_1d(g)
        gx = g1.copy()
        gx[key] = 0
        gv = None
        if value_t is not None and value_t._requires_grad:
            filled = backend_of(g).xp.zeros(g1.shape, bool)
            filled[key] = True  # each filled position counts once, however often index repeats it
            gv = g1[filled].sum().reshape(())
        return (gx.reshape(in_shape), gv)

    return record(Tensor._wrap(out.reshape(in_shape)), "IndexFillBackward1" if value_t is not None
                  else "IndexFillBackward0", (input, value_t), backward)


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,  # noqa: A002
                 include_self: bool = True) -> Tensor:
    """index_reduce is scatter_reduce with the 1-d index broadcast over source's other dims."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    source = as_tensor(source, "index_reduce")
    index, i = _vector_index(index, "index_reduce_")
    x = input._data
    ax = normalize_dim(dim, x.ndim, "index_reduce")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_reduce_(): self ({_tname(input)}) and source ({_tname(source)}) must have the "
                           "same scalar type")
    _check_source(x, source._data, ax, i.shape[0], "index_reduce_")
    n = _as_1d(x).shape[ax]
    if i.size and (int(i.min()) < 0 or int(i.max()) >= n):
        raise IndexError("index out of range in self")
    src = source if source.ndim == max(input.ndim, 1) else _shape.reshape(source, _as_1d(x).shape[:ax] + (-1,))
    shape = [1] * src.ndim
    shape[ax] = i.shape[0]
    xp = backend_of(x, i).xp
    full = xp.broadcast_to(i.reshape(shape), tuple(src.shape))
    return scatter_reduce(input, ax, Tensor._wrap(xp.ascontiguousarray(full)), src, reduce,
                          include_self=include_self)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:  # noqa: A002
    """input with ``source`` written (or added) at the flat positions ``index`` (negative ones from the end)."""
    check_bool(accumulate, "put_", "accumulate")
    index = as_tensor(index, "put")
    source = as_tensor(source, "put")
    if index.dtype.name != "int64":  # int64 exactly, as torch
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {_tname(index)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{_tname(input)} and source.dtype = {_tname(source)}")
    if source._data.size != index._data.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source._data.size}, index.numel() = {index._data.size}")
    x = input._data
    n = x.size
    be = backend_of(x, index._data)  # one device (several CUDA devices: it becomes the current one)
    i = index._data.reshape(-1)
    if i.size and n == 0:
        raise IndexError("put_(): Tried to put elements into an empty tensor")
    if i.size:
        lo, hi = int(i.min()), int(i.max())
        bad = hi if hi >= n else (lo if lo < -n else None)
        if bad is not None:
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    be = backend_of(x, i)
    xp = be.xp
    flat_i = xp.where(i < 0, i + n, i)
    out = x.copy().reshape(-1)
    vals = source._data.reshape(-1)
    if accumulate:
        be.scatter_at(out, flat_i, vals)
    else:
        out[flat_i] = vals
    in_shape, src_shape = x.shape, source.shape

    def backward(g):
        gf = g.reshape(-1)
        gx = g
        if not accumulate:
            gx = gf.copy()
            gx[flat_i] = 0
            gx = gx.reshape(in_shape)
        gs = gf[flat_i].reshape(src_shape) if source._requires_grad else None
        return (gx, gs)

    return record(Tensor._wrap(out.reshape(in_shape)), "PutBackward0", (input, source), backward)


# ---- index_put, masked_* -----------------------------------------------------------------------------------
def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:  # noqa: A002
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put(): argument 'values' (position 3) must be Tensor, not {type(values).__name__}")
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' (position 2) must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    if values.dtype is not input.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got {_tname(input)} for "
                           f"the destination and {_tname(values)} for the source.")
    x = input._data
    idx = []
    for t in indices:
        if t is None:
            idx.append(slice(None))
            continue
        t = as_tensor(t, "index_put")
        if t.dtype.is_floating_point:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        idx.append(t._data)
    idx = tuple(idx)
    be = backend_of(x, values._data)
    xp = be.xp
    try:
        target_shape = x[idx].shape
    except IndexError as e:
        raise torch_index_error(e, x, idx) from None
    v = xp.broadcast_to(values._data, target_shape) if values._data.shape != target_shape else values._data
    out = x.copy()
    if accumulate:
        be.scatter_at(out, idx, v)
    else:
        out[idx] = v

    def backward(g):
        gx = g
        if not accumulate:
            gx = g.copy()
            gx[idx] = 0
        gv = unbroadcast(g[idx], values.shape) if values._requires_grad else None
        return (gx, gv)

    return record(Tensor._wrap(out), "IndexPutBackward0", (input, values), backward)


def _bool_mask(mask, op: str, message: str) -> Tensor:
    mask = as_tensor(mask, op)
    if mask.dtype.name != "bool":
        raise RuntimeError(message.format(dtype=_tname(mask)))
    return mask


def _broadcast_pair(sa, sb):
    from .reshaping import _check_pair, broadcast_shapes

    _check_pair(tuple(sa), tuple(sb))
    return tuple(broadcast_shapes(sa, sb))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    mask = _bool_mask(mask, "masked_select", "masked_select: expected BoolTensor for mask")
    x, m = input._data, mask._data
    xp = backend_of(x, m).xp
    shape = _broadcast_pair(m.shape, x.shape)  # PyTorch's order: the mask is "tensor a"
    xb = xp.broadcast_to(x, shape)
    mb = xp.broadcast_to(m, shape)
    y = xb[mb]
    in_shape = x.shape

    def backward(g):
        out = xp.zeros(shape, g.dtype)
        out[mb] = g
        return (unbroadcast(out, in_shape),)

    return record(Tensor._wrap(y), "MaskedSelectBackward0", (input,), backward)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    mask = _bool_mask(mask, "masked_scatter",
                      "masked_scatter_ only supports boolean masks, but got mask with dtype {dtype}")
    source = as_tensor(source, "masked_scatter")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{_tname(input)} and {_tname(source)}")
    x, m = input._data, mask._data
    xp = backend_of(x, m, source._data).xp
    shape = _broadcast_pair(x.shape, m.shape)
    mb = xp.broadcast_to(m, shape)
    n = int(mb.sum())
    if source._data.size < n:
        raise RuntimeError("Number of elements of source < number of ones in mask")
    out = xp.broadcast_to(x, shape).copy()
    out[mb] = source._data.reshape(-1)[:n]
    in_shape, src_shape, src_size = x.shape, source.shape, source._data.size

    def backward(g):
        gx = unbroadcast(xp.where(mb, 0, g), in_shape) if input._requires_grad else None
        gs = None
        if source._requires_grad:
            gs = xp.zeros(src_size, g.dtype)
            gs[:n] = g[mb]
            gs = gs.reshape(src_shape)
        return (gx, gs)

    return record(Tensor._wrap(out), "MaskedScatterBackward0", (input, source), backward)


# ---- in-place forms ---------------------------------------------------------------------------------------
def inplace(self: Tensor, op: str, result: Tensor, *others) -> Tensor:
    """Writes an out-of-place result into ``self`` (scatter_, index_add_ ...) through Tensor._inplace, which
    refuses tensors in the graph until in-place autograd exists. Until then a source that requires grad
    would lose its gradient silently, so it is refused too."""
    if is_grad_enabled():
        for o in others:
            if isinstance(o, Tensor) and o._requires_grad:
                raise RuntimeError(f"{op}: the source requires grad, and in-place ops are not recorded by "
                                   f"autograd; use the out-of-place {op.rstrip('_')} instead")
    return self._inplace(op, result)
