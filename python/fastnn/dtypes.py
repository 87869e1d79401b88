"""The four dtypes a Tensor can hold, with PyTorch's names and NumPy's storage."""
from __future__ import annotations

import numpy as np


class dtype:
    """A fastnn dtype (``fastnn.float32`` ...). Compares equal to the matching NumPy dtype and name."""

    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name: str):
        self.name = name
        self.np = np.dtype(name)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"fastnn.{self.name}"

    def __eq__(self, other) -> bool:
        if isinstance(other, dtype):
            return other is self
        try:
            return np.dtype(other) == self.np
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):
        return (_by_name, (self.name,))


float32 = dtype("float32")
float64 = dtype("float64")
int64 = dtype("int64")
bool_ = dtype("bool")
float = float32  # noqa: A001  (PyTorch spells these aliases so)
double = float64
long = int64

_BY_NP = {d.np: d for d in (float32, float64, int64, bool_)}
_BY_NAME = {"float32": float32, "float64": float64, "int64": int64, "bool": bool_, "float": float32,
            "double": float64, "long": int64}
default_float = float32


def _by_name(name: str) -> dtype:
    return _BY_NAME[name]


def to_dtype(spec) -> dtype:
    """Normalises a dtype given as a fastnn dtype, a NumPy dtype/type, a name or a Python type."""
    if isinstance(spec, dtype):
        return spec
    if spec is builtins_float:
        return float32
    if spec is builtins_int:
        return int64
    if spec is builtins_bool:
        return bool_
    if isinstance(spec, str) and spec in _BY_NAME:
        return _BY_NAME[spec]
    try:
        npd = np.dtype(spec)
    except TypeError:
        raise TypeError(f"not a dtype: {spec!r}") from None
    if npd in _BY_NP:
        return _BY_NP[npd]
    raise TypeError(f"fastnn tensors hold float32, float64, int64 or bool, not {npd}")


def from_numpy_dtype(npd: np.dtype) -> dtype:
    """The fastnn dtype an array of NumPy dtype ``npd`` becomes when it is wrapped without a dtype request."""
    if npd in _BY_NP:
        return _BY_NP[npd]
    if npd.kind == "f":
        return float32 if npd.itemsize < 8 else float64
    if npd.kind in "iu":
        return int64
    raise TypeError(f"cannot make a tensor from an array of dtype {npd}: "
                    "fastnn tensors hold float32, float64, int64 or bool")


import builtins as _builtins  # noqa: E402

builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool
