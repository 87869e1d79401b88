"""torch's argument-type checks for op flags and integer arguments, before any work.

torch's argument parser refuses ``keepdim=2``, ``groups=1.5`` or ``ignore_index=1.5`` with a TypeError naming the
op and the argument; NumPy would take them (2 is truthy, 1.5 truncates), computing a value where torch raises.
"""
from __future__ import annotations

import math
import numbers

import numpy as np


def _type_name(value) -> str:
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__qualname__}"


def _where(position) -> str:
    return f" (position {position})" if position else ""


def check_bool(value, op: str, name: str, position: int | None = None) -> bool:
    """``value`` when it is a bool (NumPy's too); else torch's TypeError "argument 'keepdim' must be bool"."""
    if value is True or value is False:  # the common case first: these checks run on every call of their ops
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{op}(): argument '{name}'{_where(position)} must be bool, not {_type_name(value)}")


def check_int(value, op: str, name: str, position: int | None = None) -> int:
    """``value`` as an int when it is an integer (NumPy's too; not a bool, which torch's parser refuses);
    else torch's TypeError "argument 'num_classes' (position 2) must be int, not float"."""
    if type(value) is int:  # the common case, one test (a bool's type is bool)
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}(): argument '{name}'{_where(position)} must be int, not bool")
    if isinstance(value, (numbers.Integral, np.integer)):
        return int(value)
    if hasattr(value, "__index__") and not isinstance(value, (float, np.floating)):
        try:
            return int(value.__index__())  # a one-element integer tensor is an int argument, as in torch
        except (TypeError, ValueError, RuntimeError):
            pass
    raise TypeError(f"{op}(): argument '{name}'{_where(position)} must be int, not {_type_name(value)}")


def check_ints(value, op: str, name: str, position: int | None = None):
    """An int or a sequence of ints (a window argument: kernel_size, stride, padding, dilation, output_size),
    returned unchanged; else torch's TypeError "must be tuple of ints, not float" / "but found element of type
    float at pos 0". A bool is no int here, as in torch's parser."""
    if type(value) is int:  # the common case, one test (a bool's type is bool)
        return value
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if type(v) is int:
                continue
            if not isinstance(v, (numbers.Integral, np.integer)) or isinstance(v, (bool, np.bool_)):
                raise TypeError(f"{op}(): argument '{name}'{_where(position)} must be tuple of ints, but found "
                                f"element of type {_type_name(v)} at pos {i}")
        return value
    raise TypeError(f"{op}(): argument '{name}'{_where(position)} must be tuple of ints, not {_type_name(value)}")


_INT_ARGS = ("groups", "divisor_override")
_FLAG_ARGS = ("ceil_mode", "return_indices", "count_include_pad")


def check_window_args(op: str, **named) -> None:
    """The argument types of a convolution / pooling / fold op, as torch's parser checks them before any shape:
    ``groups`` an int; ``ceil_mode`` and the other flags bools; the window arguments an int or ints (a padding
    string such as "same", and None where the op allows it, pass). Values are checked, not converted."""
    for name, value in named.items():
        if value is None or (name == "padding" and isinstance(value, str)):  # "same" / "valid": the op's check
            continue
        if name in _INT_ARGS:
            check_int(value, op, name)
        elif name in _FLAG_ARGS:
            check_bool(value, op, name)
        else:
            check_ints(value, op, name)


def check_storage(shape, itemsize: int, op: str) -> tuple:
    """``shape`` when a tensor of it can exist: no negative size, and a byte count (and stride) int64 can hold
    (torch's RuntimeErrors; NumPy's would be "negative dimensions are not allowed" / "array is too big", naming
    no op, or a hang computing a huge result on a backend without the check)."""
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}(): Trying to create tensor with negative dimension {s}: {list(shape)}")
    # torch's arithmetic (measured against torch 2.13): a non-empty tensor's byte count must fit int64; an empty
    # one's last element offset sum((size - 1) * stride), strides from the sizes read as >= 1, must too
    big = 2 ** 63 - 1
    numel = math.prod(shape)
    stride, last = 1, 0
    for s in reversed(shape):
        last += (s - 1) * stride if s else 0
        stride *= max(s, 1)
    if (numel * itemsize > big) if numel else (last > big):
        raise RuntimeError(f"{op}(): Storage size calculation overflowed with sizes={list(shape)}")
    nonzero = 1
    for s in shape:
        nonzero *= max(s, 1)
    if nonzero * itemsize > big:  # an empty tensor torch can describe but a NumPy array cannot
        raise RuntimeError(f"{op}(): sizes {list(shape)} describe an empty tensor whose other sizes times "
                           f"{itemsize} bytes overflow int64, which fastnn's arrays (NumPy's) cannot hold")
    return tuple(shape)


class OutOfMemoryError(RuntimeError, MemoryError):
    """torch.OutOfMemoryError's name and RuntimeError base, and a MemoryError too, as NumPy's allocation
    failure is, so that either ``except`` catches it."""


def check_memory(be, nbytes: int, op: str) -> None:
    """Raises OutOfMemoryError naming ``op`` when ``nbytes`` (an op's result and its work arrays) exceed what
    ``be``'s device can still hand out. Linux overcommits: NumPy's allocation of more than is free succeeds,
    and the kernel kills the process once the pages are touched, which no except can catch."""
    avail = be.available_memory()
    if avail is not None and nbytes > avail:
        raise OutOfMemoryError(f"{op}(): not enough memory: the result and its work arrays need {nbytes} bytes "
                               f"({nbytes / 2 ** 30:.1f} GiB) but {avail} bytes ({avail / 2 ** 30:.1f} GiB) are "
                               "available")


_INF = float("inf")


def fits_every_float(value) -> bool:
    """A cheap sufficient test that check_fits passes ``value`` whatever the dtype: an int, an infinity, or a
    float within float16's range (no float dtype's range ends below 65504; NaN fails it and takes the full check,
    which passes it too)."""
    return type(value) is int or (type(value) is float and (-65504.0 <= value <= 65504.0 or value == _INF
                                                             or value == -_INF))


def check_fits(value, np_dtype) -> None:
    """torch's RuntimeError for a finite Python float beyond the range of a float16/float32 tensor it meets
    (NumPy would store inf): ``full((2,), 1e308)``, ``clamp(x, max=1e308)``."""
    if fits_every_float(value):
        return
    dt = np.dtype(np_dtype)
    if dt.kind == "f" and isinstance(value, (float, np.floating)) and value == value and \
            abs(value) != float("inf") and abs(value) > float(np.finfo(dt).max):
        raise RuntimeError(f"value cannot be converted to type {'float' if dt.itemsize == 4 else 'c10::Half'} "
                           "without overflow")


def check_conv_lengths(op: str, nd: int, **named) -> None:
    """torch's RuntimeError for a convolution's stride / padding / dilation list of the wrong length (1 or
    ``nd`` values), checked before the channels and groups, as torch does."""
    for name, value in named.items():
        if isinstance(value, (list, tuple)) and len(value) not in (1, nd):
            raise RuntimeError(f"{op}(): expected {name} to be a single integer value or a list of {nd} values to "
                               f"match the convolution dimensions, but got {name}={list(value)}")
