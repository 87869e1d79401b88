"""bfloat16 storage on the CPU: NumPy arrays of an opaque 2-byte dtype holding the bits, with float32 math in flight
(``array.py``), the float32 <-> bfloat16 conversions (``convert.py``), the kernel table that widens bfloat16
operands (``kernels.py``) and DLPack relabelling for interchange (``dlpack.py``)."""
from __future__ import annotations

from . import dlpack
from .array import Bf16Array, Bf16Pending, astype_any, from_float, is_bf16, settle, to_float
from .convert import BITS, STORAGE, bits_from_float, float_from_bits

__all__ = ["BITS", "STORAGE", "Bf16Array", "Bf16Pending", "astype_any", "bits_from_float", "dlpack",
           "float_from_bits", "from_float", "is_bf16", "settle", "to_float"]
