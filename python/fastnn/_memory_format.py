"""``torch.memory_format``: the order a dense tensor's elements lie in memory, and PyTorch's rules for it.

A fastnn tensor's array may have any strides (a transpose is a view), so a layout is just strides: NCHW is
C order, ``channels_last`` is an NHWC array transposed back to NCHW (same shape and values, other strides).
The functions here are shape arithmetic on (shape, element strides) that mirror ATen's (c10/core/
MemoryFormat.h, TensorImpl's is_contiguous / is_non_overlapping_and_dense / suggest_memory_format, and
ATen's infer_dense_strides), plus ``copy_as``, which makes the strided copy on the array's own backend.
"""
from __future__ import annotations

from .backend import backend_of
from .backend.bf16 import Bf16Array as _Bf16Array


class memory_format:
    """One of ``fastnn.contiguous_format``, ``preserve_format``, ``channels_last``, ``channels_last_3d``
    (singletons, as torch's; they cannot be created)."""

    __slots__ = ("_name",)

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'fastnn.memory_format' instances")

    def __repr__(self) -> str:
        return f"fastnn.{self._name}"

    def __reduce__(self):  # pickles as the module-level singleton of that name
        return (_by_name, (self._name,))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _make(name: str) -> memory_format:
    f = object.__new__(memory_format)
    object.__setattr__(f, "_name", name)
    return f


contiguous_format = _make("contiguous_format")
preserve_format = _make("preserve_format")
channels_last = _make("channels_last")
channels_last_3d = _make("channels_last_3d")
_FORMATS = {f._name: f for f in (contiguous_format, preserve_format, channels_last, channels_last_3d)}


def _by_name(name: str) -> memory_format:
    return _FORMATS[name]


def resolve(fmt, op: str, default: memory_format = preserve_format) -> memory_format:
    """``fmt`` checked (None means ``default``), with torch's TypeError for anything else."""
    if fmt is None:
        return default
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{op}(): argument 'memory_format' must be fastnn.memory_format, not {type(fmt).__name__}")
    return fmt


# ---- strides of each format (element strides, as Tensor.stride()) -------------------------------------------
def contiguous_strides(shape) -> tuple:
    """C order; a size-0 dim counts as 1 (ATen's rule, so an empty tensor still has its usual strides)."""
    st, acc = [], 1
    for n in reversed(shape):
        st.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(st))


def _channels_last_order(ndim: int, fmt: memory_format) -> tuple:
    """The dims from innermost to outermost (ATen's get_channels_last_strides_2d / _3d), or torch's error."""
    if fmt is channels_last:
        if ndim != 4:
            raise RuntimeError("required rank 4 tensor to use channels_last format")
        return (1, 3, 2, 0)
    if ndim != 5:
        raise RuntimeError("required rank 5 tensor to use channels_last_3d format")
    return (1, 4, 3, 2, 0)


def channels_last_strides(shape, fmt: memory_format = channels_last) -> tuple:
    """NHWC (NDHWC for ``channels_last_3d``) strides of an NCHW shape: C innermost. ATen multiplies the raw
    sizes here (a size-0 dim gives zero strides outside it), unlike the contiguous rule."""
    st = [0] * len(shape)
    acc = 1
    for d in _channels_last_order(len(shape), fmt):
        st[d] = acc
        acc *= shape[d]
    return tuple(st)


def is_non_overlapping_and_dense(shape, strides) -> bool:
    """Every element of one block of memory is used exactly once, in some dim order (ATen's rule: size-1
    dims do not count; an empty tensor is contiguous, hence dense)."""
    if any(n == 0 for n in shape) or strides == contiguous_strides(shape):
        return True
    if any(s < 0 for s in strides):
        return False  # NumPy's reversed views: torch has no negative strides, never dense there
    dims = sorted((d for d in range(len(shape)) if shape[d] > 1), key=lambda d: strides[d])
    need = 1
    for d in dims:
        if strides[d] != need:
            return False
        need *= shape[d]
    return True


def infer_dense_strides(shape, strides) -> tuple:
    """Dense strides keeping the input's dim order (ATen's infer_dense_strides, the TensorIterator rule): dims
    sorted innermost-first by stride with a stable insertion sort; a zero stride is ambiguous and keeps
    the C position; equal strides put the smaller dim inside."""
    ndim = len(shape)
    if ndim == 0:
        return ()
    if ndim == 1:
        return (1,)
    perm = list(range(ndim - 1, -1, -1))  # innermost first, C order to start

    def should_swap(d0, d1):
        s0, s1 = abs(strides[d0]), abs(strides[d1])
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return -1 if s0 < s1 else 1
        return 1 if shape[d0] > shape[d1] else 0

    for i in range(1, ndim):
        d1 = i
        for j in range(1, i + 1):
            d0 = i - j
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    out = [0] * ndim
    acc = 1
    for d in perm:
        out[d] = acc
        if shape[d] > 1:
            acc *= shape[d]
    return tuple(out)


def _is_channels_last_strides(shape, strides, fmt) -> bool:
    """ATen's is_channels_last_strides_2d/_3d: are these strides NHWC-like (the format a result of this
    input would 'suggest')? Ambiguous cases (C of size 1, N111) stay NCHW."""
    if strides[1] == 0:
        return False
    low = 0
    for d in _channels_last_order(len(shape), fmt):
        if shape[d] == 0 or strides[d] < low:
            return False
        if d == 0 and low == strides[1]:
            return False
        low = strides[d]
        if shape[d] > 1:
            low *= shape[d]
    return True


def suggest(shape, strides) -> memory_format:
    """ATen's suggest_memory_format: channels_last(_3d) for 4-D (5-D) strides that look NHWC, else contiguous."""
    if len(shape) == 4 and _is_channels_last_strides(shape, strides, channels_last):
        return channels_last
    if len(shape) == 5 and _is_channels_last_strides(shape, strides, channels_last_3d):
        return channels_last_3d
    return contiguous_format


def is_contiguous(shape, strides, fmt: memory_format) -> bool:
    """``Tensor.is_contiguous(memory_format=fmt)``: preserve_format asks the contiguous question (as ATen);
    channels_last is never true below 4-D (or 5-D for channels_last_3d)."""
    if fmt is channels_last or fmt is channels_last_3d:
        if len(shape) != (4 if fmt is channels_last else 5):
            return False
        need = 1
        for d in _channels_last_order(len(shape), fmt):
            if shape[d] != 1:
                if strides[d] != need:
                    return False
                need *= shape[d]
        return True
    if any(n == 0 for n in shape):
        return True
    need = 1
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1:
            if s != need:
                return False
            need *= n
    return True


def target_strides(shape, strides, fmt: memory_format) -> tuple:
    """The strides a copy in ``fmt`` gets (ATen's empty_like / _to_copy): preserve keeps a dense input's
    strides exactly and gives any other input dense strides in its dim order."""
    if fmt is preserve_format:
        if is_non_overlapping_and_dense(shape, strides):
            return tuple(strides)
        return infer_dense_strides(shape, strides)
    if fmt is contiguous_format:
        return contiguous_strides(shape)
    return channels_last_strides(shape, fmt)


def strides_of(arr) -> tuple:
    """An array's element strides (Tensor.stride())."""
    return tuple(s // arr.itemsize for s in arr.strides)


def copy_strided(arr, strides, dtype=None):
    """A new array with ``arr``'s values (cast to the NumPy ``dtype`` if given) at element ``strides`` (dense
    ones, from the functions above), on ``arr``'s backend."""
    shape = tuple(arr.shape)
    dt = arr.dtype if dtype is None else dtype
    be = backend_of(arr)
    n = 1
    for s in shape:
        n *= s
    if n and tuple(strides) == contiguous_strides(shape):  # the common case: one C-order copy
        out = be.xp.array(arr, dtype=dt, order="C", copy=True)
        return out if type(arr) is not _Bf16Array else out.view(_Bf16Array)  # np.array drops the subclass
    span = 1 + sum((s - 1) * t for s, t in zip(shape, strides)) if n else 0
    itemsize = be.xp.dtype(dt).itemsize
    out = be.xp.lib.stride_tricks.as_strided(be.empty((span,), dt), shape, tuple(t * itemsize for t in strides))
    if type(arr) is _Bf16Array:
        out = out.view(_Bf16Array)  # as_strided drops the subclass too (CuPy's has no subok to keep it)
    out[...] = arr
    return out


def copy_as(arr, fmt: memory_format, dtype=None):
    """A copy of ``arr`` (cast to ``dtype`` if given) laid out as ``fmt`` says for ``arr`` (``Tensor.to``,
    ``clone``, ``contiguous``)."""
    if fmt is not channels_last and fmt is not channels_last_3d and arr.size and arr.flags.c_contiguous:
        # C order stays C order (contiguous or preserve): skip the stride arithmetic on the hot path
        out = backend_of(arr).xp.array(arr, dtype=arr.dtype if dtype is None else dtype, order="C", copy=True)
        return out if type(arr) is not _Bf16Array else out.view(_Bf16Array)  # np.array drops the subclass
    return copy_strided(arr, target_strides(tuple(arr.shape), strides_of(arr), fmt), dtype)


def like(arr, src, fmt: memory_format):
    """``arr`` (a fresh C-order array shaped like ``src``, nothing else holds it) laid out as ``fmt`` says for
    ``src`` (the ``*_like`` functions): ``arr`` itself when its strides are those already."""
    st = target_strides(tuple(src.shape), strides_of(src), fmt)
    return arr if st == strides_of(arr) else copy_strided(arr, st)
