"""bfloat16 through DLPack: NumPy neither exports nor imports DLPack's bfloat16 (type code kDLBfloat), so the
capsules are relabelled in place: our bits leave as uint16 arrays whose capsule is then marked bfloat16, and a
producer's bfloat16 capsule (torch's) is marked uint16 for NumPy to import, the bits then viewed as bfloat16.
Zero-copy both ways, like every DLPack exchange.

The DLPack structs: a DLTensor is {void* data; DLDevice device (8 bytes); int32 ndim; DLDataType dtype {uint8
code; uint8 bits; uint16 lanes}; ...}, so its dtype sits 20 bytes in; a "dltensor" capsule's struct starts with
the DLTensor, a "dltensor_versioned" one's after 32 bytes (version, manager_ctx, deleter, flags)."""
from __future__ import annotations

import ctypes

import numpy as np

from ..dlpack import _name_of, _pointer
from .convert import BITS, STORAGE

_DTYPE_OFFSET = {b"dltensor": 20, b"dltensor_versioned": 52}
KDLUINT, KDLBFLOAT = 1, 4


def _dtype_field(capsule):
    name = _name_of(capsule)
    if name not in _DTYPE_OFFSET:
        raise BufferError(f"from_dlpack: not an unused DLPack capsule (its name is {name!r})")
    return (ctypes.c_uint8 * 2).from_address(_pointer(capsule, name) + _DTYPE_OFFSET[name])


def export(arr, **kwargs):
    """The DLPack capsule of bfloat16 array ``arr`` (its bits' uint16 capsule, marked bfloat16)."""
    capsule = arr.view(BITS, np.ndarray).__dlpack__(**kwargs)
    _dtype_field(capsule)[0] = KDLBFLOAT
    return capsule


class Producer:
    """``obj`` (a DLPack producer) as NumPy can import it: a bfloat16 capsule is relabelled uint16, and
    ``bf16`` says so, for the caller to view the bits as bfloat16 again."""

    def __init__(self, obj) -> None:
        self._obj = obj
        self.bf16 = False

    def __dlpack_device__(self):
        return self._obj.__dlpack_device__()

    def __dlpack__(self, **kwargs):
        capsule = self._obj.__dlpack__(**kwargs)
        field = _dtype_field(capsule)
        if field[0] == KDLBFLOAT and field[1] == 16:
            field[0] = KDLUINT
            self.bf16 = True
        return capsule


def imported(arr, producer: Producer):
    """NumPy's import of ``producer``: viewed as bfloat16 when its capsule held bfloat16."""
    if producer.bf16:
        from .array import Bf16Array

        return arr.view(STORAGE).view(Bf16Array)
    return arr
