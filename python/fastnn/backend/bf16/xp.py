"""The array module of bfloat16's backend: NumPy, except that the functions making arrays of a dtype they are
given make bfloat16 arrays when that dtype is bfloat16's storage. NumPy's own would return plain arrays of the
storage dtype (which no ufunc takes) and fill them with raw bytes (``np.asarray(0.5, dtype=storage)`` is two
bytes of the float64, not 0.5). Everything else is NumPy's, looked up once and cached."""
from __future__ import annotations

import numpy as np

from .array import Bf16Array, Bf16Pending, astype_any, from_float, is_bf16, to_float
from .convert import STORAGE

_STORAGE = {STORAGE}
_OURS = (Bf16Array, Bf16Pending)


def _wants_bf16(dtype) -> bool:
    return dtype is not None and dtype in _STORAGE


class _Namespace:
    def __getattr__(self, name):
        value = getattr(np, name)
        setattr(self, name, value)
        return value

    def empty(self, shape, dtype=float, order="C", **kwargs):
        if _wants_bf16(dtype):
            return Bf16Array(shape, STORAGE, order=order)
        return np.empty(shape, dtype, order, **kwargs)

    def zeros(self, shape, dtype=float, order="C", **kwargs):
        if _wants_bf16(dtype):
            return np.zeros(shape, STORAGE, order).view(Bf16Array)  # zero bits are +0.0
        return np.zeros(shape, dtype, order, **kwargs)

    def ones(self, shape, dtype=None, order="C", **kwargs):
        if _wants_bf16(dtype):
            return from_float(np.ones(shape, np.float32, order))
        return np.ones(shape, dtype, order, **kwargs)

    def full(self, shape, fill_value, dtype=None, order="C", **kwargs):
        if _wants_bf16(dtype):
            return from_float(np.full(shape, to_float(fill_value), np.float32, order))
        return np.full(shape, fill_value, dtype, order, **kwargs)

    def eye(self, n, m=None, k=0, dtype=float, **kwargs):
        if _wants_bf16(dtype):
            return from_float(np.eye(n, m, k, np.float32, **kwargs))
        return np.eye(n, m, k, dtype, **kwargs)

    def asarray(self, a, dtype=None, **kwargs):
        if _wants_bf16(dtype):
            if is_bf16(a):  # the bits as they are
                return a if type(a) is Bf16Array else a.view(Bf16Array)
            return astype_any(np.asarray(to_float(a)), STORAGE, copy=False)
        if dtype is None and type(a) in _OURS:  # NumPy's would drop the subclass (and with it bfloat16's math)
            return a
        return np.asarray(a, dtype, **kwargs)

    def array(self, a, dtype=None, copy=True, **kwargs):
        if _wants_bf16(dtype):
            if is_bf16(a):  # the bits as they are (copied in the order asked)
                out = np.array(a.view(np.ndarray), copy=copy, order=kwargs.get("order", "K"))
                return out.view(Bf16Array)
            return astype_any(np.asarray(to_float(a)), STORAGE, copy=bool(copy))
        if dtype is None and type(a) in _OURS:
            return a.copy() if copy else a
        return np.array(a, dtype, copy=copy, **kwargs)


xp = _Namespace()
