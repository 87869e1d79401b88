"""float32/float64 <-> bfloat16 bit conversions in vectorised NumPy (the reference the native kernel must match).

bfloat16 is float32's upper half: 1 sign, 8 exponent, 7 mantissa bits. Widening is exact (the bits shifted up).
Narrowing rounds to nearest, ties to even, as torch's CPU cast does: add 0x7FFF plus the kept part's lowest bit
and drop the low 16 bits (a carry out of the mantissa steps the exponent, so the largest finite floats round to
inf, as in torch); denormals are rounded like any other value (no flush to zero). A NaN becomes a quiet NaN: 0xFFFF
from float32 (torch's vectorised cast) and 0x7FC0 from float64 (its scalar cast), as torch. float64 goes through
float32 first, as torch's cast does (``BFloat16(float(x))``), so results equal torch's bit for bit.
"""
from __future__ import annotations

import numpy as np

from ... import _C

# The native conversions (csrc/cpu/bf16_convert.cpp: AVX-512 at that level, bit for bit the NumPy code below);
# a _C built before them lacks the names, and the NumPy code serves alone.
_NARROW = getattr(_C, "bf16_from_f32", None)
_WIDEN = getattr(_C, "f32_from_bf16", None)
# Narrowing in NumPy is ~8 passes (~6 us even for 10 elements) against ~2 us for the native call at any size, so
# narrowing is always native; widening in NumPy is one shift (~1.6 us), which the call's cost exceeds below ~2K.
_NATIVE_MIN = 2048  # widening: below this NumPy's shift is cheaper than the call

NAN_BITS = 0xFFFF  # torch's CPU cast of any float32 NaN to bfloat16 (its vectorised path)
NAN_BITS_FROM_DOUBLE = 0x7FC0  # and of a float64 NaN (its scalar path, c10::BFloat16's canonical NaN)


class bfloat16_scalar(np.void):  # noqa: N801  (NumPy's scalar types are lower case)
    """The scalar type of bfloat16's storage dtype. Ops make scalars of an array's dtype with
    ``x.dtype.type(0.5)``; for bfloat16 that gives a Python float, which the bfloat16 array math takes as torch
    takes a wrapped number (computed beside the array in float32, never widening the result)."""

    def __new__(cls, value=0.0):
        return float(value)


# The opaque 2-byte dtype bfloat16 arrays are stored as: NumPy refuses to cast it to numbers, and it equals "V2"
STORAGE = np.dtype((bfloat16_scalar, 2))
BITS = np.dtype("<u2")  # the same bytes read as little-endian integers (safetensors and DLPack order)


def bits_from_float_numpy(x) -> np.ndarray:
    """``bits_from_float`` in NumPy alone: the reference (tests compare the native kernel against it)."""
    return bits_from_float(x, native=False)


def bits_from_float(x, native: bool = True) -> np.ndarray:
    """The bfloat16 bits (uint16) nearest to each element of ``x`` (anything NumPy makes a float array of)."""
    f = np.asarray(x)
    nan_bits = NAN_BITS_FROM_DOUBLE if f.dtype == np.float64 else NAN_BITS
    if f.dtype != np.float32:
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: inf, as torch's cast
            f = f.astype(np.float32)  # float64 -> float32 -> bfloat16, as torch; ints and float16 exactly or once
    if native and _NARROW is not None:
        return _NARROW(np.ascontiguousarray(f).reshape(-1), nan_bits).view(BITS).reshape(f.shape)
    u = np.ascontiguousarray(f).view(np.uint32)
    # r = (u + 0x7FFF + lsb) >> 16, in place on one temporary: u + 0x8000 stays below 2**32 for every non-NaN
    r = u >> np.uint32(16)
    r &= np.uint32(1)
    r += np.uint32(0x7FFF)
    r += u
    r >>= np.uint32(16)
    out = r.astype(BITS)
    nan = np.isnan(f)
    if nan.any():
        out[nan] = nan_bits
    return out.reshape(f.shape)


def float_from_bits(bits, native: bool = True) -> np.ndarray:
    """float32 values of bfloat16 ``bits`` (uint16 or the V2 storage), exactly."""
    b = np.asarray(bits)
    if b.dtype != BITS:
        b = b.view(BITS)
    if native and _WIDEN is not None and b.size >= _NATIVE_MIN:
        return _WIDEN(np.ascontiguousarray(b).reshape(-1).view(np.uint16)).reshape(b.shape)
    return (b.astype(np.uint32) << np.uint32(16)).view(np.float32)
