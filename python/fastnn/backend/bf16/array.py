"""``Bf16Array``: a NumPy array of bfloat16 values, stored as an opaque 2-byte dtype (the bits), and
``Bf16Pending``: the float32 values of a bfloat16 computation in flight.

NumPy has no bfloat16, so these two subclasses are the one place bfloat16 arithmetic happens. Torch computes a
bfloat16 op in float32 ("opmath") and rounds its result once; fastnn's ops are written as several NumPy calls, so
the rounding cannot happen per NumPy call (a sigmoid would round three times). Instead every ufunc and NumPy
function that meets a bfloat16 operand widens it to float32 exactly and returns its floating results as
``Bf16Pending`` (plain float32 values marked "bfloat16 when stored"), which later calls keep computing on in float32;
``Tensor._wrap`` rounds a pending result once, to nearest even, when an op hands it over as its output
(``settle``). So a bfloat16 op's intermediates are float32 and its output is bfloat16, as in torch.

Functions that only move elements (reshape, concatenate, take, where, flip, ...) run on the stored bits, so NaN
payloads and -0.0 survive as in torch. Indexing, views and copies are NumPy's own on the bits.

Result dtypes follow torch's promotion, which the ops compute before they call NumPy: bfloat16 beside integer or
bool arrays and Python numbers stays bfloat16; beside a float16/float32/float64 array it is that array's math, not
rounded. The storage dtype makes other routes loud: NumPy refuses to cast it to a number. (One hole: NumPy casts a
number array *to* it silently as zero bytes, so code that narrows to bfloat16 calls ``astype_any``.)
"""
from __future__ import annotations

import numbers

import numpy as np

from .convert import _NATIVE_MIN as _WIDEN_MIN
from .convert import _NARROW as _NARROW_NATIVE
from .convert import _WIDEN as _WIDEN_NATIVE
from .convert import NAN_BITS
from .convert import BITS, STORAGE, bits_from_float, float_from_bits

_F32 = np.dtype(np.float32)


def is_bf16(x) -> bool:
    """Whether ``x`` holds stored bfloat16 bits (a Bf16Array, or a plain array of the storage dtype)."""
    return isinstance(x, np.ndarray) and type(x) is not Bf16Pending and x.dtype == STORAGE


class Bf16Pending(np.ndarray):
    """float32 values of a bfloat16 computation, rounded to bfloat16 when an op returns them (``settle``).

    Its ``dtype`` attribute says bfloat16's storage dtype, so op code that makes arrays or scalars "of x's dtype"
    (``xp.zeros(n, x.dtype)``, ``x.dtype.type(2)``, ``y.astype(x.dtype)``) keeps making bfloat16; NumPy's C code
    sees the real float32 (``view(np.ndarray)`` hands it the values)."""

    @property
    def dtype(self):
        return STORAGE

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _function(func, args, kwargs)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        dtype = np.dtype(dtype)
        if dtype == STORAGE:
            return from_float(self.view(np.ndarray))
        return self.view(np.ndarray).astype(dtype, order=order, casting=casting, copy=copy)

    def view(self, *args, **kwargs):
        r = super().view(*args, **kwargs)
        if type(r) is Bf16Pending and np.ndarray.view(r, np.ndarray).dtype != _F32:  # other bytes: not values
            return r.view(np.ndarray)
        return r


def settle(arr) -> "Bf16Array":
    """A pending result rounded to bfloat16, as an op's output (``Tensor._wrap``)."""
    f = np.ndarray.view(arr, np.ndarray)
    if _NARROW_NATIVE is not None and f.flags.c_contiguous and f.dtype == _F32:  # bits_from_float's native call
        return np.ndarray.view(_NARROW_NATIVE(f.reshape(-1), NAN_BITS).reshape(f.shape), STORAGE, Bf16Array)
    return from_float(f)


def _pending(f):
    return (f if f.dtype == _F32 else f.astype(_F32)).view(Bf16Pending)


def from_float(x) -> "Bf16Array":
    """A new Bf16Array holding ``x`` (array-like of numbers) rounded to bfloat16."""
    return bits_from_float(x).view(STORAGE).view(Bf16Array)


def astype_any(arr, dtype, copy: bool = True):
    """``arr.astype(dtype)`` for every dtype pair, bfloat16's ``V2`` included on either side."""
    dtype = np.dtype(dtype)
    if dtype == STORAGE:
        _on_cpu(arr)
        if is_bf16(arr):
            out = arr.copy() if copy else arr
            return out if type(out) is Bf16Array else out.view(Bf16Array)
        return from_float(arr)
    if is_bf16(arr):
        f = float_from_bits(arr)
        return f if dtype == _F32 else f.astype(dtype)
    return arr.astype(dtype, copy=copy)


def _on_cpu(arr) -> None:
    if type(arr) is np.ndarray or type(arr) is Bf16Pending:  # host arrays: every autocast cast asks
        return
    from ..registry import device_array_backend

    be = device_array_backend(arr)
    if be is not None:
        raise RuntimeError(f"fastnn holds bfloat16 tensors on the CPU only, not on {be.device}")


def to_float(x):
    """``x`` with bfloat16 arrays (also inside lists/tuples) widened to float32 exactly, pending values as plain
    float32 arrays; the rest unchanged."""
    if isinstance(x, np.ndarray):
        if type(x) is Bf16Pending:
            return x.view(np.ndarray)
        return float_from_bits(x) if x.dtype == STORAGE else x
    if isinstance(x, (list, tuple)):
        return type(x)(to_float(v) for v in x)
    return x


def _has_wide_float(args) -> bool:
    """Whether an operand is a float16/32/64 array: then the result is that math's, not rounded to bfloat16.
    NumPy float scalars count as Python numbers (torch's wrapped scalars do not promote a tensor's dtype)."""
    for x in args:
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and type(x) is not Bf16Pending:
            return True
        if isinstance(x, (list, tuple)) and _has_wide_float(x):
            return True
    return False


def _has_number(args) -> bool:
    for x in args:
        if isinstance(x, (float, complex, np.floating)):
            return True
        if isinstance(x, (list, tuple)) and _has_number(x):
            return True
    return False


def _narrow(result):
    """Floating results as pending bfloat16 values (scalars as 0-d arrays); others as they are."""
    if isinstance(result, tuple):
        return tuple(_narrow(r) for r in result)
    if isinstance(result, list):
        return [_narrow(r) for r in result]
    if isinstance(result, np.ndarray) and result.dtype.kind == "f":
        return _pending(result)
    if isinstance(result, np.floating):
        return _pending(np.asarray(result))
    return result


def _weak(x):
    """A NumPy float scalar as a Python float (weak in NumPy's promotion: it must not widen the math to float64),
    and an integer or bool array as the bfloat16 values torch would convert it to first."""
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray) and x.dtype.kind in "iub":
        return float_from_bits(bits_from_float(x))
    return x


def _write_back(dst, values) -> None:
    """``values`` (float) rounded into bfloat16 array ``dst``'s bits in place."""
    dst.view(BITS, np.ndarray)[...] = bits_from_float(values)


def _nextafter_bf16(x, y):
    """The next bfloat16 after ``x`` toward ``y`` (float32 values of bfloat16 numbers): one step of the 16-bit
    grid, as torch's bfloat16 nextafter (float32's step would round back to ``x``)."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float32), np.asarray(y, np.float32))
    bits = bits_from_float(x).astype(np.int32)
    up = (y > x) == (x >= 0)  # away from zero when moving outward
    step = np.where(up, 1, -1)
    out = np.where(x == 0, np.where(y > 0, 0x0001, 0x8001), bits + step)
    out = np.where(x == y, bits_from_float(y), out)
    out = np.where(np.isnan(x) | np.isnan(y), 0x7FC0, out)  # torch's NaN here: the canonical one
    return float_from_bits(out.astype(np.uint16))


_SCALARS = (int, float)  # Python numbers: NumPy takes them weakly, as the generic path leaves them
_I16 = np.dtype(np.int16)


def _relu_bits(x) -> "Bf16Array":
    """``maximum(x, 0)`` of stored bfloat16 ``x`` on its bits, as the float path rounds it: the bits read as int16
    are negative exactly for the negative values (-0.0 included), which become +0.0; the rest stay; a NaN becomes
    0xFFFF (float32 NaN's rounding). NumPy's int16 maximum is ~5x slower than the and-not of the sign mask."""
    i = x.view(np.ndarray).view(_I16)
    r = i >> _I16.type(15)  # -1 where negative, else 0
    np.invert(r, out=r)
    np.bitwise_and(r, i, out=r)
    u = i.view(np.uint16)
    # two reductions find any NaN: a positive one survives in r above inf's bits, a negative one is above -inf's
    if r.max(initial=0) > 0x7F80 or u.max(initial=0) > 0xFF80:
        r[(u << np.uint16(1)) > np.uint16(0xFF00)] = -1  # the sign shifted out: NaN magnitudes are above inf's
    return r.view(STORAGE).view(Bf16Array)


_U16 = np.dtype(np.uint16)


def _widen_stored(x) -> np.ndarray:
    """``float_from_bits`` of a Bf16Array without its generic argument handling (the same kernels, same bits)."""
    b = np.ndarray.view(x, _U16, np.ndarray)
    if _WIDEN_NATIVE is not None and b.size >= _WIDEN_MIN and b.flags.c_contiguous:
        return _WIDEN_NATIVE(b.reshape(-1)).reshape(b.shape)
    return float_from_bits(b)


def _fast_operand(x):
    """An operand of the common ufunc calls as the generic path passes it (``to_float`` then ``_weak``), or None
    when the call must take the generic path."""
    t = type(x)
    if t is Bf16Array:
        return _widen_stored(x) if x.dtype == STORAGE else None
    if t is Bf16Pending:
        return x.view(np.ndarray)
    if t in _SCALARS or t is bool:
        return x
    if t is np.ndarray:
        k = x.dtype.kind
        if k == "b":
            return x.astype(_F32)  # 0.0 / 1.0: exactly what rounding through bfloat16 gives
        if k in "iu":
            return float_from_bits(bits_from_float(x))
    return None  # wide floats (no narrowing), NumPy scalars, lists, storage-dtype plain arrays: generic


def _ufunc(ufunc, method, inputs, kwargs):
    # Fast path: one or two operands, no keywords, the result narrowed (no float16/32/64 array among them): the
    # generic walk below costs more than the arithmetic on small tensors. Bit for bit the generic path's result.
    if method == "__call__" and not kwargs and ufunc is not np.nextafter and 0 < len(inputs) <= 2:
        if (ufunc is np.maximum and len(inputs) == 2 and type(inputs[0]) is Bf16Array and type(inputs[1]) in
                _SCALARS and inputs[1] == 0 and str(inputs[1])[0] != "-" and inputs[0].dtype == STORAGE
                and inputs[0].ndim > 0):  # (NumPy hands back scalars for 0-d operands: the float path)
            return _relu_bits(inputs[0])
        args = [_fast_operand(x) for x in inputs]
        if all(a is not None for a in args):
            result = ufunc(*args)
            if type(result) is np.ndarray:
                k = result.dtype.kind
                return (result if result.dtype == _F32 else result.astype(_F32)).view(Bf16Pending) if k == "f" \
                    else result
            return _narrow(result)
    outs = kwargs.pop("out", None)
    narrow = not _has_wide_float(inputs)
    if ufunc is np.nextafter and method == "__call__" and narrow and outs is None:
        return _pending(_nextafter_bf16(*(to_float(x) for x in inputs)))
    dt = kwargs.get("dtype")
    if dt is not None:
        if np.dtype(dt) == STORAGE:
            kwargs["dtype"] = _F32
        else:
            narrow = False  # an explicit wider dtype (sum(dtype=float32)): the result stays in it
    args = [to_float(x) for x in inputs]
    if narrow:
        args = [_weak(x) for x in args]
    if method == "at":  # in place on the first operand: compute on its float copy, store the rounded values
        target = inputs[0]
        getattr(ufunc, method)(*args, **kwargs)
        if is_bf16(target):
            _write_back(target, args[0])
        return None
    result = getattr(ufunc, method)(*args, **kwargs)
    result = _narrow(result) if narrow else result
    if outs is None:
        return result
    results = result if isinstance(result, tuple) else (result,)
    for o, r in zip(outs, results):
        if o is None:
            continue
        if is_bf16(o):
            _write_back(o, to_float(r))
        else:
            o.view(np.ndarray)[...] = to_float(r)
    return outs[0] if len(outs) == 1 else tuple(outs)


# NumPy functions that only select, move or copy elements: run on the bits when every operand is bfloat16 (or an
# index / mask), so the bits come through as they are (torch's cat/index/where copy bits too).
_MOVES = {np.concatenate, np.stack, np.hstack, np.vstack, np.dstack, np.column_stack, np.reshape, np.ravel,
          np.transpose, np.moveaxis, np.swapaxes, np.squeeze, np.expand_dims, np.broadcast_to, np.broadcast_arrays,
          np.atleast_1d, np.atleast_2d, np.atleast_3d, np.split, np.array_split, np.take, np.take_along_axis,
          np.flip, np.fliplr, np.flipud, np.roll, np.rot90, np.tile, np.repeat, np.copy, np.ascontiguousarray,
          np.asfortranarray, np.diagonal, np.tril, np.triu, np.where, np.compress, np.choose, np.select,
          np.shape, np.ndim, np.size, np.empty_like, np.zeros_like, np.pad, np.delete, np.insert, np.append,
          np.unravel_index, np.lib.stride_tricks.as_strided, np.result_type, np.may_share_memory,
          np.shares_memory}
# NumPy functions that write into their first argument
_IN_PLACE = {np.copyto, np.put, np.put_along_axis, np.place, np.putmask, np.fill_diagonal}


def _has_pending(args) -> bool:
    for x in args:
        if type(x) is Bf16Pending or (isinstance(x, (list, tuple)) and _has_pending(x)):
            return True
    return False


def _plain(x):
    if isinstance(x, (Bf16Array, Bf16Pending)):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    return x


def _rewrap(result):
    if isinstance(result, np.ndarray) and result.dtype == STORAGE and type(result) is not Bf16Array:
        return result.view(Bf16Array)
    if isinstance(result, (tuple, list)):
        return type(result)(_rewrap(r) for r in result)
    return result


def _function(func, args, kwargs):
    if func in _MOVES and not _has_wide_float(args) and not _has_number(args) and not _has_number(
            tuple(kwargs.values())) and not _has_pending(args):
        return _rewrap(func(*_plain(args), **_plain(kwargs)))
    if func in _IN_PLACE and is_bf16(args[0]):
        target = args[0]
        tmp = float_from_bits(target)
        func(tmp, *to_float(args[1:]), **{k: to_float(v) for k, v in kwargs.items()})
        _write_back(target, tmp)
        return None
    narrow = not _has_wide_float(args) and not _has_wide_float(tuple(kwargs.values()))
    dt = kwargs.get("dtype")
    if dt is not None:
        if np.dtype(dt) == STORAGE:
            kwargs = dict(kwargs, dtype=_F32)
        else:
            narrow = False
    fargs = to_float(args)
    fkwargs = {k: to_float(v) for k, v in kwargs.items()}
    if narrow:  # NumPy float scalars stay weak; integer arrays here are indices, sizes or masks, left alone
        fargs = tuple(float(x) if isinstance(x, np.floating) else x for x in fargs)
    result = func(*fargs, **fkwargs)
    return _narrow(result) if narrow else result


class Bf16Array(np.ndarray):
    """bfloat16 values as an ndarray of the storage dtype; made by ``from_float`` or a view of the bits."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _function(func, args, kwargs)

    def __getitem__(self, key):
        r = super().__getitem__(key)
        if isinstance(r, np.void):  # one element: a 0-d array (a NumPy scalar of V2 would be raw bytes)
            return np.frombuffer(bytes(r), STORAGE).reshape(()).view(Bf16Array)
        return r

    def __setitem__(self, key, value):
        if is_bf16(value):
            np.ndarray.__setitem__(self.view(np.ndarray), key, value.view(np.ndarray))
        else:
            self.view(BITS, np.ndarray)[key] = bits_from_float(to_float(value))

    def fill(self, value) -> None:
        self.view(BITS, np.ndarray).fill(int(bits_from_float(float(value))))

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return astype_any(self, dtype, copy)

    def float32(self) -> np.ndarray:
        return float_from_bits(self)

    def tolist(self):
        return float_from_bits(self).astype(np.float64).tolist()

    def item(self, *args):
        return float(float_from_bits(self).item(*args))

    def __float__(self) -> float:
        return float(float_from_bits(self))

    def __int__(self) -> int:
        return int(float_from_bits(self))

    def __bool__(self) -> bool:
        return bool(float_from_bits(self))

    def __index__(self):
        raise TypeError("only integer tensors of a single element can be converted to an index")

    def __repr__(self) -> str:
        return f"Bf16Array({np.array2string(float_from_bits(self), separator=', ')})"

    def __str__(self) -> str:
        return str(float_from_bits(self))

    def view(self, *args, **kwargs):
        r = super().view(*args, **kwargs)
        if type(r) is Bf16Array and r.dtype != STORAGE:  # the bytes as another dtype: no longer bfloat16 values
            return r.view(np.ndarray)
        return r

    def __dlpack__(self, **kwargs):
        from .dlpack import export

        return export(self, **kwargs)

    def __reduce__(self):
        return (_rebuild, (self.view(BITS, np.ndarray).copy(),))


def _rebuild(bits):
    return bits.view(STORAGE).view(Bf16Array)


def _values_method(name):
    """An ndarray method computed on the float32 values and rounded back (NumPy's own on ``V2`` would compare or
    add raw bytes, or fail)."""
    def method(self, *args, **kwargs):
        out = kwargs.pop("out", None)
        r = getattr(float_from_bits(self), name)(*args, **kwargs)
        if not isinstance(r, (np.ndarray, np.generic)) or isinstance(r, numbers.Integral):
            return r
        r = _narrow(r) if getattr(r, "dtype", None) is not None and r.dtype == _F32 else r
        if out is not None:
            out[...] = r
            return out
        return r
    method.__name__ = name
    return method


for _name in ("sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin", "argsort", "cumsum", "cumprod",
              "round", "clip", "dot", "all", "any", "nonzero", "ptp", "trace", "searchsorted", "argpartition"):
    setattr(Bf16Array, _name, _values_method(_name))


def _sort(self, axis=-1, kind=None, order=None, *, stable=None):
    self[...] = np.sort(float_from_bits(self), axis=axis, kind=kind)


Bf16Array.sort = _sort
