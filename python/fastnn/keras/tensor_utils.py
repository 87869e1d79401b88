"""keras.utils' tensor helpers: ``normalize``, ``standardize_dtype``, ``is_keras_tensor`` and
``get_source_inputs`` (``pack_x_y_sample_weight`` / ``unpack_x_y_sample_weight`` live with fit's data, in
training_data.py)."""
from __future__ import annotations

from .._tensor import Tensor
from .layers.base import KerasTensor

# Keras 3.15's dtype names (keras.src.backend.common.dtypes.ALLOWED_DTYPES) and its Python-type map
ALLOWED_DTYPES = ("float16", "float32", "float64", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32",
                  "int64", "bfloat16", "bool", "string", "float8_e4m3fn", "float8_e5m2", "complex64", "complex128")
_PYTHON_DTYPES = {bool: "bool", int: "int32", float: "float32", str: "string", "int": "int32", complex: "complex64"}


def standardize_dtype(dtype) -> str:
    """A dtype (None for Keras' float32 default, a name, a Python type, a NumPy / fastnn / torch dtype) as
    Keras' dtype name; ValueError names an unknown one."""
    if dtype is None:
        return "float32"
    try:
        dtype = _PYTHON_DTYPES.get(dtype, dtype)
    except TypeError:  # an unhashable spec is no Python type
        pass
    if hasattr(dtype, "name"):
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):
        dtype = dtype.__name__
    elif "torch" in str(dtype) or "jax.numpy" in str(dtype) or "fastnn" in str(dtype):
        dtype = str(dtype).split(".")[-1]
    if dtype == "bool_":  # NumPy's and fastnn's name for it
        dtype = "bool"
    if dtype not in ALLOWED_DTYPES:
        raise ValueError(f"Invalid dtype: {dtype}")
    return dtype


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis`` (a zero norm divides by 1). A host array in gives
    a NumPy array back, as Keras'; a tensor goes through keras.ops.nn.normalize (and keeps autograd)."""
    from .. import creation, linalg
    from .ops import nn as ops_nn

    if isinstance(x, Tensor):
        return ops_nn.normalize(x, axis=axis, order=order)
    t = creation.tensor(x)
    if not t.is_floating_point():
        t = t.double()
    norm = linalg.norm(t, order, axis).reshape(-1) if axis is None else linalg.norm(t, order, axis)
    norm = norm.reshape(1) if norm.ndim == 0 else norm
    norm = norm.masked_fill(norm == 0, 1)
    return (t / norm.unsqueeze(axis or -1)).numpy()


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor of the functional API (from ``keras.Input`` or a layer on one)."""
    return isinstance(x, KerasTensor)


def get_source_inputs(tensor):
    """The ``keras.Input`` tensors a symbolic tensor was computed from (in first-use order), as Keras'; a
    non-symbolic value is returned as it is."""
    if not isinstance(tensor, KerasTensor):
        return tensor
    if tensor.source is None:
        return [tensor]
    found: list = []
    _, ins, _ = tensor.source
    for t in ins if isinstance(ins, (list, tuple)) else [ins]:
        for s in get_source_inputs(t):
            if all(s is not f for f in found):
                found.append(s)
    return found


__all__ = ["get_source_inputs", "is_keras_tensor", "normalize", "standardize_dtype"]
