"""torch's argument-type checks for op flags and integer arguments, before any work.

torch's argument parser refuses ``keepdim=2``, ``groups=1.5`` or ``ignore_index=1.5`` with a TypeError naming the
op and the argument; NumPy would take them (2 is truthy, 1.5 truncates), computing a value where torch raises.
"""
from __future__ import annotations

import numbers

import numpy as np


def _type_name(value) -> str:
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__.split('.')[0]}.{t.__qualname__}"


def _where(position) -> str:
    return f" (position {position})" if position else ""


def check_bool(value, op: str, name: str, position: int | None = None) -> bool:
    """``value`` when it is a bool (NumPy's too); else torch's TypeError "argument 'keepdim' must be bool"."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{op}(): argument '{name}'{_where(position)} must be bool, not {_type_name(value)}")


def check_int(value, op: str, name: str, position: int | None = None) -> int:
    """``value`` as an int when it is an integer (NumPy's too; not a bool, which torch's parser refuses);
    else torch's TypeError "argument 'num_classes' (position 2) must be int, not float"."""
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
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
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
