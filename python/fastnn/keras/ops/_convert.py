"""Inputs of keras.ops: fastnn Tensors pass through; NumPy arrays and Python numbers become Tensors with
Keras' dtype rules (Python ints -> int32, Python floats -> float32, NumPy arrays keep their dtype)."""
from __future__ import annotations

import fastnn
from fastnn import Tensor

from ..device_scope import get_device


def dtype_of(dtype):
    """A Keras dtype name ("float32"), a fastnn dtype or None -> a fastnn dtype (or None)."""
    if dtype is None or isinstance(dtype, fastnn.dtype):
        return dtype
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.replace("torch.", "").replace("fastnn.", "")
    if name == "bool_":
        name = "bool"
    d = getattr(fastnn, name, None)
    if not isinstance(d, fastnn.dtype):
        raise ValueError(f"keras.ops: unknown dtype {dtype!r}")
    return d


def _python_data(x) -> bool:
    return isinstance(x, (bool, int, float, list, tuple))


def python_data_dtype(t: Tensor, x) -> Tensor:
    """``t``, made from host data ``x``, in Keras' dtypes for Python data: int32 and float32 where fastnn
    (as torch) gives int64 or float64."""
    if _python_data(x):
        if t.dtype == fastnn.int64:
            return t.to(fastnn.int32)
        if t.dtype == fastnn.float64:
            return t.to(fastnn.float32)
    return t


def to_tensor(x, dtype=None, like=None) -> Tensor:
    """``x`` as a tensor: Tensors stay where they are; host data (arrays, lists, numbers) goes to ``like``'s
    device (``like``: an operand of the same op, or a device) or else to the current Keras device, as Keras'
    convert_to_tensor."""
    dtype = dtype_of(dtype)
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == dtype else x.to(dtype)
    device = like.device if isinstance(like, Tensor) else (get_device() if like is None else like)
    t = fastnn.as_tensor(x, device=device)
    if dtype is None:
        t = python_data_dtype(t, x)
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    return t


def operands(*xs) -> list:
    """The operands of one op as tensors, host data placed beside the first tensor among them."""
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    return [to_tensor(x, like=like) for x in xs]


def axes_arg(axis):
    if isinstance(axis, list):
        return tuple(axis)
    return axis
