"""The dtypes a Tensor can hold, with PyTorch's names and NumPy's storage.

float32, float64, int64 and bool are computed on everywhere; int32, int16, int8, uint8 and float16 are storage
types (creation, ``.to``, promotion, indexing, save/load, elementwise math through the array module) whose
native kernels may refuse them. bfloat16 has no NumPy dtype: its arrays hold the bits as the opaque 2-byte
dtype ``V2`` (``backend/bf16/``: a NumPy subclass whose ufuncs compute in float32 and round back)."""
from __future__ import annotations

import numpy as np

from .backend.bf16.convert import STORAGE as _BF16_STORAGE


class dtype:
    """A fastnn dtype (``fastnn.float32`` ...). Compares equal to the matching NumPy dtype and name."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "is_complex")

    def __init__(self, name: str, storage=None):
        self.name = name
        self.np = np.dtype(storage or name)
        self.is_floating_point = self.np.kind == "f" or name == "bfloat16"
        self.is_signed = self.np.kind != "u" and self.np.kind != "b"
        self.is_complex = False
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
int32 = dtype("int32")
int16 = dtype("int16")
int8 = dtype("int8")
uint8 = dtype("uint8")
float16 = dtype("float16")
bfloat16 = dtype("bfloat16", _BF16_STORAGE)  # the bits, as an opaque 2-byte NumPy type (backend/bf16/)
float = float32  # noqa: A001  (PyTorch spells these aliases so)
double = float64
long = int64
int = int32  # noqa: A001
short = int16
half = float16

ALL = (float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool_)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"float": float32, "double": float64, "long": int64, "int": int32, "short": int16, "half": float16})
default_float = float32


_HOLDS = ", ".join(d.name for d in ALL)


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
    raise TypeError(f"fastnn tensors hold {_HOLDS}, not {npd}")


def from_numpy_dtype(npd: np.dtype) -> dtype:
    """The fastnn dtype an array of NumPy dtype ``npd`` becomes when it is wrapped without a dtype request."""
    if npd in _BY_NP:
        return _BY_NP[npd]
    if npd.kind == "f":  # float128 and the like
        return float64
    if npd.kind in "iu":  # uint16/32/64: torch has no tensors of them either (from_numpy refuses them)
        return int64
    raise TypeError(f"cannot make a tensor from an array of dtype {npd}: fastnn tensors hold {_HOLDS}")


import builtins as _builtins  # noqa: E402

builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool


def __getattr__(name: str):
    raise AttributeError(f"module 'fastnn.dtypes' has no attribute {name!r}")
