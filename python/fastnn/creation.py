"""Tensor creation: from data, filled, ranges, random, and from NumPy / DLPack.

Every function takes ``device=`` and allocates through ``get_backend(device)`` (the CPU backend for None):
its array module, its generator for random numbers, ``from_host`` to move host data there. ``*_like(t)``
create on ``t``'s backend unless told otherwise.
"""
from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from . import _memory_format as _mf
from . import dtypes
from .backend import backend_of, get_backend
from .backend import bf16 as _bf16
from .backend.registry import allocating, device_array_backend
from .ops._util import shape_arg
from .ops.arg_checks import check_fits, check_storage
from .random import numpy_generator
from ._tensor import Tensor


def _to_array(data, dtype=None) -> np.ndarray:
    """Data as a fresh-or-owned array of a fastnn dtype: Python floats become float32, ints int64.

    A Tensor's array, and a device backend's array (CuPy's), stay on their device; an object exposing
    ``__cuda_array_interface__`` (a torch CUDA tensor, a Numba array) is viewed on the current CUDA device
    without a copy; everything else is host data (the argument's type, not a device, decides: a NumPy array
    or scalar keeps its dtype, Python data is inferred)."""
    if isinstance(data, Tensor):
        arr = data._data
    elif device_array_backend(data) is not None:
        arr = data
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)  # a NumPy scalar keeps its dtype, as in PyTorch: np.float64(1) -> float64
    elif hasattr(data, "__cuda_array_interface__"):
        arr = get_backend("cuda").asarray(data)  # zero-copy: the array module views the foreign pointer
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
            data = [x.detach().__array__() if isinstance(x, Tensor) else x for x in data]
        arr = _foreign_bf16(data) if _is_foreign_bf16(data) else np.asarray(data)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(dtypes.default_float.np)
        if arr.dtype.kind not in "fiub" and arr.dtype != _bf16.STORAGE:
            raise TypeError(f"cannot make a tensor from {type(data).__name__} data of dtype {arr.dtype}")
    dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.from_numpy_dtype(arr.dtype)
    if dt is dtypes.bfloat16 or arr.dtype == _bf16.STORAGE:  # NumPy cannot cast to or from bfloat16's bits
        return _bf16.astype_any(arr, dt.np, copy=False)
    return arr.astype(dt.np, copy=False)


def _is_foreign_bf16(data) -> bool:
    """A CPU bfloat16 tensor of another library (torch's), which refuses ``__array__`` but exports DLPack."""
    return hasattr(data, "__dlpack__") and str(getattr(data, "dtype", "")).endswith("bfloat16")


def _foreign_bf16(data):
    """A copy of a foreign bfloat16 tensor's bits (``fastnn.tensor(torch_bf16)`` copies, as for any data)."""
    if getattr(data, "requires_grad", False):
        data = data.detach()
    return from_dlpack(data)._data.copy()


def _place(arr, be, copy: bool):
    """``arr`` on backend ``be`` (None: where it is). A move is a copy already; ``copy`` asks for one otherwise."""
    src = backend_of(arr)
    if be is not None and be is not src and be.device != src.device:
        if arr.dtype == _bf16.STORAGE:
            raise RuntimeError(f"fastnn holds bfloat16 tensors on the CPU only, not on {be.device}")
        return be.from_host(src.to_host(arr))
    return arr.copy(order="C") if copy else arr


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or tensors). Host data goes to
    ``device`` (the CPU by default); a tensor's data stays on its device unless ``device`` names another."""
    be = None if device is None else get_backend(device)  # an unsupported device fails before any work
    arr = _to_array(data, dtype)
    copy = isinstance(data, (np.ndarray, Tensor)) or not arr.flags.c_contiguous  # never alias the caller's memory
    return _make(_place(arr, be, copy), requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array (or returns a Tensor) when no conversion is needed."""
    be = None if device is None else get_backend(device)
    if isinstance(data, Tensor) and (dtype is None or dtypes.to_dtype(dtype) is data.dtype) and \
            (be is None or backend_of(data._data) is be):
        return data
    return Tensor._wrap(_place(_to_array(data, dtype), be, False))


def from_numpy(arr: np.ndarray, *, device=None) -> Tensor:
    """A tensor sharing ``arr``'s memory (writes through both ways), as ``torch.from_numpy``. On the CPU
    (the default) the memory is shared; another ``device`` gets a copy (host memory cannot be shared there)."""
    if not isinstance(arr, np.ndarray):  # the argument's type, as torch checks it
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    if arr.dtype not in dtypes._BY_NP:
        raise TypeError(f"can't convert np.ndarray of type {arr.dtype}. The only supported types are: "
                        "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")
    return Tensor._wrap(get_backend(device).from_host(arr))


_KDLCUDA = 2  # DLPack's device type of CUDA memory


def from_dlpack(obj, *, device=None) -> Tensor:
    """A tensor sharing the memory of any DLPack producer (NumPy array, CuPy array, torch tensor ...), as
    ``torch.from_dlpack``: on the producer's device (``__dlpack_device__``: the CPU, or CUDA device N), or on
    ``device``'s backend when given (which must be the producer's: DLPack shares, it does not copy)."""
    if device is None and hasattr(obj, "__dlpack_device__"):
        kind, index = obj.__dlpack_device__()
        if int(kind) == _KDLCUDA:
            device = f"cuda:{int(index)}"
    be = get_backend(device)
    if be.device.type == "cpu":  # bfloat16 comes through relabelled (NumPy has no DLPack bfloat16)
        producer = _bf16.dlpack.Producer(obj)
        arr = _bf16.dlpack.imported(be.xp.from_dlpack(producer), producer)
    else:
        arr = be.xp.from_dlpack(obj)
    if arr.dtype not in dtypes._BY_NP:
        raise TypeError(f"from_dlpack: fastnn tensors hold {dtypes._HOLDS}, not {arr.dtype}")
    return Tensor._wrap(arr)


def _float_dtype(dtype):
    dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
    return dt


def _make(arr, requires_grad):
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


def _new_shape(shape: tuple, op: str, np_dtype) -> tuple:
    """``shape`` checked as torch checks a new tensor's (sizes, int64 byte count and strides)."""
    return check_storage(shape, np.dtype(np_dtype).itemsize, op)


def _fits(value, np_dtype, op: str):
    check_fits(value, np_dtype)  # a float beyond float32's range: torch's RuntimeError, not NumPy's inf
    return value


def _names_op(fn):
    """NumPy's MemoryError ("Unable to allocate 128. GiB for an array ...") with the op's name in front, as
    torch's allocator error names what failed."""
    @functools.wraps(fn)
    def creating(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MemoryError as e:
            raise MemoryError(f"{fn.__name__}(): {e}") from None

    return creating


def _sizes(size, kw, op: str):
    """The shape from ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(size=(2, 3))``, as torch takes it."""
    if kw is not None:
        if size:
            raise TypeError(f"{op}() got multiple values for argument 'size'")
        size = (kw,)
    return shape_arg(size, op)


@_names_op
def zeros(*size, dtype=None, device=None, requires_grad: bool = False, **kw) -> Tensor:
    be = get_backend(device) if dtype is None else _allocating(device, dtype)
    shape = _sizes(size, _size_kw(kw, "zeros"), "zeros") if kw else shape_arg(size, "zeros")
    _new_shape(shape, "zeros", _float_dtype(dtype).np)
    return _make(be.zeros(shape, _float_dtype(dtype).np), requires_grad)


@_names_op
def ones(*size, dtype=None, device=None, requires_grad: bool = False, **kw) -> Tensor:
    be = get_backend(device) if dtype is None else _allocating(device, dtype)
    shape = _sizes(size, _size_kw(kw, "ones"), "ones") if kw else shape_arg(size, "ones")
    _new_shape(shape, "ones", _float_dtype(dtype).np)
    dt = _float_dtype(dtype)
    if dt is dtypes.bfloat16:
        return _make(be.full(shape, 1.0, dt.np), requires_grad)
    return _make(be.xp.ones(shape, dt.np), requires_grad)


@_names_op
def empty(*size, dtype=None, device=None, requires_grad: bool = False, **kw) -> Tensor:
    be = get_backend(device) if dtype is None else _allocating(device, dtype)
    fmt = _mf.resolve(kw.pop("memory_format", None), "empty", _mf.contiguous_format)
    shape = _sizes(size, _size_kw(kw, "empty"), "empty") if kw else shape_arg(size, "empty")
    dt = _float_dtype(dtype).np
    _new_shape(shape, "empty", dt)
    if fmt is _mf.contiguous_format:
        return _make(be.empty(shape, dt), requires_grad)
    if fmt is _mf.preserve_format:
        raise RuntimeError("unsupported memory format Preserve")
    # NHWC memory seen as NCHW: the strided view of a flat buffer (torch.empty(..., memory_format=channels_last))
    return _make(_mf.copy_strided(be.empty(shape, dt), _mf.channels_last_strides(shape, fmt)), requires_grad)


def _allocating(device, dtype):
    """The backend allocating ``dtype`` on ``device`` (bfloat16 has its own on the CPU: registry.allocating)."""
    return allocating(get_backend(device), dtypes.to_dtype(dtype).np)


def _size_kw(kw: dict, op: str):
    """``size=`` (the only extra keyword the creation functions take: Python cannot name a keyword like the
    ``*size`` varargs), plus torch's ``pin_memory=False`` and ``layout=torch.strided`` / ``memory_format``
    when they ask for nothing."""
    size = kw.pop("size", None)
    if kw.pop("pin_memory", False):
        raise NotImplementedError(f"{op}(): pin_memory=True: fastnn has no pinned host memory")
    for name in ("layout", "memory_format"):
        if kw.get(name) is not None and "strided" not in str(kw[name]) and "contiguous" not in str(kw[name]):
            raise NotImplementedError(f"{op}(): {name}={kw[name]!r}: fastnn tensors are dense and contiguous")
        kw.pop(name, None)
    if kw:
        raise TypeError(f"{op}() got an unexpected keyword argument '{next(iter(kw))}'")
    return size


@_names_op
def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    be = get_backend(device) if dtype is None else _allocating(device, dtype)
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = dtypes.bool_
        elif isinstance(fill_value, (numbers.Integral, np.integer)):
            dtype = dtypes.int64
    shape = _new_shape(shape_arg((size,), "full"), "full", _float_dtype(dtype).np)
    _fits(fill_value, _float_dtype(dtype).np, "full")
    return _make(be.full(shape, fill_value, _float_dtype(dtype).np), requires_grad)


@_names_op
def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    for name, v in (("n", n), ("m", m)):  # torch's RuntimeError (NumPy's would be a ValueError)
        if v is not None and v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    be = get_backend(device) if dtype is None else _allocating(device, dtype)
    _new_shape((n, n if m is None else m), "eye", _float_dtype(dtype).np)
    if _float_dtype(dtype) is dtypes.bfloat16:
        return _make(_bf16.from_float(be.xp.eye(n, m, dtype=np.float32)), requires_grad)
    return _make(be.xp.eye(n, m, dtype=_float_dtype(dtype).np), requires_grad)


@_names_op
def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    xp = get_backend(device).xp
    if end is None:
        start, end = 0, start
    if step == 0 or step != step:  # a NaN step too, as torch
        raise RuntimeError("arange(): step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):  # torch's checks and texts
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype is None:
        ints = all(isinstance(v, (numbers.Integral, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if ints else dtypes.default_float
    dt = dtypes.to_dtype(dtype)
    if not dt.is_floating_point and not all(isinstance(v, (numbers.Integral, np.integer)) for v in (start, end, step)):
        # An integer range truncates its bounds and step first, as torch does (arange(0., -8.000001, -4.,
        # dtype=int64) is [0, -4], not NumPy's three values); a step truncated to 0 is torch's ValueError.
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            raise ValueError("step must be nonzero")
    # Count in float64 so float32 ranges get PyTorch's length, then cast.
    count = math.ceil((end - start) / step) if math.isfinite((end - start) / step) else math.inf
    if not count < 2 ** 63:  # torch's check of the length it computes in double
        raise RuntimeError("arange(): invalid size, possible overflow?")
    n = max(0, int(count))
    _new_shape((n,), "arange", dt.np)
    arr = _bf16.astype_any(start + step * xp.arange(n, dtype=np.float64), dt.np) if dt.is_floating_point else \
        xp.arange(start, end, step, dtype=dt.np)
    return _make(arr, requires_grad)


@_names_op
def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    xp = get_backend(device).xp
    if isinstance(steps, bool) or not isinstance(steps, (numbers.Integral, np.integer)):  # torch's TypeError
        raise TypeError(f"linspace() received an invalid combination of arguments: steps must be an int, "
                        f"got {type(steps).__name__}")
    dims = [v.ndim if isinstance(v, Tensor) else 0 for v in (start, end)]
    if any(dims):
        raise RuntimeError(f"linspace only supports 0-dimensional start and end tensors, but got start with "
                           f"{dims[0]} dimension(s) and end with {dims[1]} dimension(s).")
    if steps < 0:
        raise RuntimeError("linspace(): number of steps must be non-negative")
    dt = _float_dtype(dtype)
    if not dt.is_floating_point:
        # torch's integer linspace: the ends truncated first, then its scalar kernel's two-sided formula (the
        # first half counted from start, the rest back from end) in float64, truncated; NumPy's values differ
        # by 1 in places. (torch's vectorised tail, with the step truncated to int64, can differ by 1 too.)
        start, end = int(start), int(end)
        step = (end - start) / (steps - 1) if steps > 1 else 0.0
        i = xp.arange(steps, dtype=np.float64)
        half = steps // 2 if steps > 1 else 1  # one step is start itself
        vals = xp.where(i < half, start + step * i, end - step * (steps - 1 - i))
        return _make(vals.astype(dt.np), requires_grad)
    if steps > 0:  # no value made, nothing to overflow (torch's linspace(-1e308, 4, 0) is empty)
        _fits(start, dt.np, "linspace")
        _fits(end, dt.np, "linspace")
    if steps > 1 and not (math.isfinite(float(start)) and math.isfinite(float(end))):
        # torch's two-sided formula on a NaN or infinite step (inf - inf, inf * 0 give its NaNs); NumPy would pin
        # the ends instead
        step = (float(end) - float(start)) / (steps - 1)
        i = xp.arange(steps, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            vals = xp.where(i < steps // 2, float(start) + step * i, float(end) - step * (steps - 1 - i))
        return _make(_bf16.astype_any(vals, dt.np), requires_grad)
    return _make(_bf16.astype_any(xp.linspace(start, end, steps, dtype=np.float64), dt.np), requires_grad)


def _random_float(draw, shape, dt):
    """``draw`` (a generator's random / standard_normal) of float dtype ``dt`` (float16 drawn via float32)."""
    if dt is _F16:
        return draw(shape, dtype=np.float32).astype(dt)
    if dt == _bf16.STORAGE:  # drawn in float32 and rounded, as torch's bfloat16 rand (values of [0, 1] stay there)
        return _bf16.from_float(draw(shape, dtype=np.float32))
    return draw(shape, dtype=dt)


_F16 = np.dtype(np.float16)


@_names_op
def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False, **kw) -> Tensor:
    gen = numpy_generator(generator, device)
    shape = _sizes(size, _size_kw(kw, "rand"), "rand") if kw else shape_arg(size, "rand")
    _new_shape(shape, "rand", _float_dtype(dtype).np)
    return _make(_random_float(gen.random, shape, _float_dtype(dtype).np), requires_grad)


@_names_op
def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False, **kw) -> Tensor:
    gen = numpy_generator(generator, device)
    shape = _sizes(size, _size_kw(kw, "randn"), "randn") if kw else shape_arg(size, "randn")
    _new_shape(shape, "randn", _float_dtype(dtype).np)
    return _make(_random_float(gen.standard_normal, shape, _float_dtype(dtype).np), requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high)."""
    gen = numpy_generator(generator, device)
    if size is None:  # randint(high, size)
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    return _make(gen.integers(low, high, shape_arg((size,), "randint")).astype(dt.np), requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    gen = numpy_generator(generator, device)
    dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    return _make(gen.permutation(n).astype(dt.np), requires_grad)


def _laid_out_like(out: Tensor, t: Tensor, memory_format) -> Tensor:
    """``out`` (fresh, C order) with the strides ``memory_format`` gives a copy of ``t`` (preserve: ``t``'s own
    when dense, else dense ones in its dim order), as torch's ``*_like``; requires_grad stays as it was."""
    if out._data.size and (memory_format is _mf.contiguous_format or
                           (memory_format is _mf.preserve_format and t._data.flags.c_contiguous)):
        # the common case: a C-order source keeps the fresh C-order result (no stride inference); zero-size
        # results go the long way, which gives torch's strides instead of NumPy's zeros
        return out
    fmt = _mf.resolve(memory_format, "empty_like")
    out._data = _mf.like(out._data, t._data, fmt)
    return out


def _like(fn):
    def like(t: Tensor, dtype=None, device=None, requires_grad: bool = False, *,
             memory_format=_mf.preserve_format) -> Tensor:
        dev = backend_of(t._data).device if device is None else device
        out = fn(t.shape, dtype=dtype if dtype is not None else t.dtype, device=dev, requires_grad=requires_grad)
        return _laid_out_like(out, t, memory_format)

    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = f"``{fn.__name__}`` shaped like ``t``, of its dtype and on its device unless told otherwise."
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False, *,
              memory_format=_mf.preserve_format) -> Tensor:
    dev = backend_of(t._data).device if device is None else device
    out = full(t.shape, fill_value, dtype=dtype if dtype is not None else t.dtype, device=dev,
               requires_grad=requires_grad)
    return _laid_out_like(out, t, memory_format)
