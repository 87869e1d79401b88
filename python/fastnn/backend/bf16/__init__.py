"""bfloat16 storage on the CPU: NumPy arrays of the opaque 2-byte dtype ``V2`` holding the bits (``array.py``),
and the float32 <-> bfloat16 conversions (``convert.py``)."""
from __future__ import annotations

from . import dlpack
from .array import Bf16Array, Bf16Pending, astype_any, from_float, is_bf16, settle, to_float
from .convert import BITS, STORAGE, bits_from_float, float_from_bits

__all__ = ["BITS", "dlpack", "STORAGE", "Bf16Array", "Bf16Pending", "settle", "astype_any", "bits_from_float", "float_from_bits", "from_float",
           "is_bf16", "to_float"]
