"""getitem with basic and advanced indices; its backward scatters the gradient back (adding repeats)."""
from __future__ import annotations

import re

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import normalize_dim
from .arg_checks import check_fits
from .conversion import cast
from .elementwise import where

# Index parts that select a view (basic indexing); anything else is an array of indices or a mask. Python
# ints come first: isinstance tries the tuple in order.
_BASIC = (int, slice, type(None), type(Ellipsis), np.generic)


def convert_index(index, arr=None):
    """Turns Tensors inside an index into arrays; lists of ints/bools become arrays as in PyTorch, on the
    backend of ``arr`` (the indexed array; the CPU's when not given)."""
    if isinstance(index, Tensor):
        d = index._data
        if d.ndim == 0 and (d.dtype.kind == "i" or (d.dtype.kind == "u" and d.dtype.itemsize > 1)):
            # a 0-d integer tensor (of any device: a CPU one indexes a CUDA tensor) selects as an int does,
            # a view, as PyTorch's indexing takes its item (uint8 and bool 0-d tensors stay masks)
            return index.__index__()
        return d
    if isinstance(index, tuple):
        return tuple(convert_index(i, arr) for i in index)
    if isinstance(index, list):
        return backend_of(arr).xp.asarray([i._data if isinstance(i, Tensor) else i for i in index])
    return index


def _is_advanced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return not all(isinstance(p, _BASIC) for p in parts)


_NUMPY_INDEX_ERRORS = (
    # NumPy's wording -> PyTorch's, for the same conditions (PyTorch counts dims where NumPy counts axes).
    (re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)"),
     r"index \1 is out of bounds for dimension \2 with size \3"),
    (re.compile(r"too many indices for array: array is (\d+)-dimensional.*"),
     r"too many indices for tensor of dimension \1"),
    (re.compile(r"arrays used as indices must be of integer \(or boolean\) type"),
     "tensors used as indices must be long, int, byte or bool tensors"),
)
_MASK_ERROR = re.compile(r"boolean index did not match indexed array along (?:axis|dimension) (\d+)")


def torch_index_error(e: IndexError, x, idx) -> IndexError:
    """The IndexError PyTorch raises for the bad index NumPy refused with ``e``."""
    msg = str(e)
    match = _MASK_ERROR.search(msg)
    if match:
        return _mask_error(int(match.group(1)), x, idx)
    if msg.startswith("only integers, slices"):
        bad = next((p for p in (idx if isinstance(idx, tuple) else (idx,))
                    if not isinstance(p, _BASIC) and not hasattr(p, "dtype")), None)
        return IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                          f"indices (got {type(bad).__name__})")
    for pattern, repl in _NUMPY_INDEX_ERRORS:
        if pattern.search(msg):
            return IndexError(pattern.sub(repl, msg))
    return IndexError(f"index {idx!r} is invalid for a tensor of shape {tuple(x.shape)}: {msg}")


def _mask_error(axis: int, x, idx) -> IndexError:
    """PyTorch's message for a bool mask whose shape does not fit the dims it indexes: the whole mask's
    shape, the mismatching position inside it, the indexed tensor's shape and the dim."""
    start = 0
    for part in idx if isinstance(idx, tuple) else (idx,):
        if getattr(part, "dtype", None) is not None and part.dtype == np.bool_ and part.ndim:
            if start <= axis < start + part.ndim:
                return IndexError(f"The shape of the mask {list(part.shape)} at index {axis - start} does not match "
                                  f"the shape of the indexed tensor {list(x.shape)} at index {axis}")
            start += part.ndim
        elif part is not None:
            start += 1
    return IndexError(f"a boolean mask does not match the shape of the indexed tensor {list(x.shape)} at index {axis}")


def getitem(a: Tensor, index) -> Tensor:
    x = a._data
    idx = convert_index(index, x)
    try:
        backend_of(x).check_index(x.shape, idx)  # a device that wraps out-of-range indices raises here
        y = x[idx]
        if type(y) is not type(x):
            # NumPy copies one element out as a scalar; an Ellipsis keeps it a 0-d view that writes through,
            # as PyTorch's t[i, j] does.
            y = x[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
    except IndexError as e:
        raise torch_index_error(e, x, idx) from None
    in_shape = x.shape

    def backward(g):
        # The forward is plain indexing (any backend); only the scatter asks for the array module.
        xp = backend_of(g).xp
        out = xp.zeros(in_shape, g.dtype)
        if _is_advanced(idx):
            xp.add.at(out, idx, g)  # repeated indices accumulate
        else:
            out[idx] = g
        return (out,)

    out = Tensor._wrap(y)
    yb = y.base
    if yb is not None and (yb is x or yb is x.base):  # basic indexing made a view: a's storage and version
        out._base = root = a if a._base is None else a._base
        out._ver = root._ver  # the root's version this view's grad_fn is of
    return record(out, "IndexBackward0", (a,), backward)


def index_select(a: Tensor, dim: int, index: Tensor) -> Tensor:
    ax = normalize_dim(dim, a.ndim, "index_select")
    if not isinstance(index, Tensor):  # torch has no implicit tensor() here: an int or None is a TypeError
        raise TypeError(f"index_select(): argument 'index' (position 3) must be Tensor, not "
                        f"{type(index).__name__}")
    idx = index._data
    if idx.dtype.kind not in "iu" or idx.dtype.itemsize < 4:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    n = a.shape[ax] if a.ndim else 1
    backend_of(a._data, idx)  # one device (several CUDA devices: it becomes the current one)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):  # no wrap-around of negatives, as PyTorch
        # torch 2.13's CPU texts: an empty axis, an inner dim (its gather kernel), then the outer dim
        if n == 0:
            raise RuntimeError("index_select(): self indexing axis dim should be positive")
        if ax > 0:
            bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
            raise RuntimeError(f"index_select(): INDICES element is out of DATA bounds, id={bad} axis_dim={n}")
        raise IndexError("index_select(): index out of range in self")
    if a.ndim == 0:  # PyTorch treats a 0-d input as 1-d and gives a 0-d result
        out = getitem(getitem(a, None), index)
        return getitem(out, 0) if out.ndim else out
    return getitem(a, (slice(None),) * ax + (index,))


_C_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "int64_t", "int32": "int",
           "int16": "int16_t", "int8": "int8_t", "uint8": "uint8_t", "bool": "bool"}  # torch's names in its texts


_MASK_TYPE = {"int64": "long", "int32": "int", "int16": "short", "int8": "signed char", "uint8": "unsigned char",
              "float32": "float", "float64": "double", "float16": "c10::Half"}  # torch's texts for a mask's dtype


def masked_fill(a: Tensor, mask, value) -> Tensor:
    if isinstance(value, complex):  # a real tensor takes a complex number only when it is real (torch's check)
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {_C_TYPE.get(a.dtype.name, a.dtype.name)} "
                               "without overflow")
        value = value.real
    if a.dtype.is_floating_point:
        check_fits(value, a._data.dtype)  # 1e308 into float32: torch's overflow error, not inf
    if isinstance(mask, Tensor) and mask.dtype.name != "bool":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_MASK_TYPE.get(mask.dtype.name, mask.dtype.name)}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{value.ndim} dimension(s).")
    out = where(mask, value, a)  # where takes a Tensor mask as is and converts any other
    # The result keeps the input's dtype (a bool tensor filled with 1 stays bool), as in PyTorch.
    return out if out.dtype is a.dtype else cast(out, a.dtype)
