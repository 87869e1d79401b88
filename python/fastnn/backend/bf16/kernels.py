"""The backend bfloat16 arrays belong to: the CPU backend itself for everything but the kernel table, whose
kernels (native float32/float64 code) get their bfloat16 operands widened to float32 and give floating results
back rounded to bfloat16 -- torch's CPU way for bfloat16 (compute in float, store bfloat16). The kernels that
write into their operands (the optimizer updates, ``gemm_into``, batch norm's running statistics) have the
rounded values stored back into the bfloat16 arrays. A native bfloat16 kernel replaces the widening wrapper of
its name by a method of the same name (``_NATIVE``): matmul and linear run the bf16 GEMM (bf16 products,
float32 accumulation, one rounding of the result), as torch's bfloat16 matmul does.

Only the registry makes one, for ``Bf16Array``; it shares the CPU backend's device, generator and memory tricks
(``__getattr__`` forwards, and caches, everything it does not define)."""
from __future__ import annotations

import numpy as np

from ..table import all_kernels
from .array import Bf16Array, Bf16Pending, _has_wide_float, _narrow, _pending, _write_back, astype_any, from_float, \
    is_bf16, to_float
from .convert import STORAGE, float_from_bits

_STORAGE = {STORAGE}  # a set: dtypes given as types or names (np.float32, "float32") compare without raising

_WRITES_OPERANDS = {"gemm_into", "adam_update", "sgd_update", "batch_norm_forward"}
_NATIVE = {"matmul", "linear"}  # methods of Bf16Backend on the bf16 GEMM, for bfloat16 operands


def _bits(x):
    """A bfloat16 array's bits as uint16 (a view: same strides), which the bf16 GEMM reads."""
    return x.view(np.ndarray).view(np.uint16)


def _gemm_ok(x) -> bool:
    return is_bf16(x) or type(x) is Bf16Pending


def _operand(x):
    """A GEMM operand: stored bf16 as its bits; a pending result (float32 values that are bfloat16 once
    stored, e.g. a ReLU's masked gradient in an autocast backward) as float32, which the GEMM rounds to
    bfloat16 while packing (round to nearest even: the value storing it would give)."""
    return x.view(np.ndarray) if type(x) is Bf16Pending else _bits(x)


def _widen(x, widened: list):
    if isinstance(x, np.ndarray) and is_bf16(x):
        f = float_from_bits(x)
        widened.append((x, f))
        return f
    if type(x) is Bf16Pending:  # already float32 values
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)):
        return type(x)(_widen(v, widened) for v in x)
    return x


def _widening(name: str, kernel):
    writes = name in _WRITES_OPERANDS

    def run(*args, **kwargs):
        narrow = not _has_wide_float(args) and not _has_wide_float(tuple(kwargs.values()))
        widened: list = []
        fargs = _widen(args, widened)
        fkwargs = {k: _widen(v, widened) for k, v in kwargs.items()}
        result = kernel(*fargs, **fkwargs)
        if writes:
            for dst, f in widened:
                _write_back(dst, f)
        return _narrow(result) if narrow else result

    run.__name__ = name
    return run


class Bf16Backend:
    """The CPU backend with its kernel table widening bfloat16 operands (see the module's text)."""

    def __init__(self, cpu) -> None:
        from .xp import xp

        self._cpu = cpu
        self.xp = xp  # NumPy, making bfloat16 arrays where asked for the storage dtype
        for name in all_kernels():
            wide = _widening(name, getattr(cpu, name))
            setattr(self, f"_wide_{name}" if name in _NATIVE else name, wide)

    def matmul(self, a, b):
        if _gemm_ok(a) and _gemm_ok(b) and a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == b.shape[-2]:
            return _pending(self._cpu.matmul_bf16(_operand(a), _operand(b)))
        return self._wide_matmul(a, b)  # mixed dtypes, vectors, bad shapes (the wide kernel's checks)

    def linear(self, x, w, b, epilogue: str = "none"):
        if (epilogue == "none" and is_bf16(x) and is_bf16(w) and x.ndim >= 1 and w.ndim == 2
                and x.shape[-1] == w.shape[1] and (b is None or is_bf16(b))):
            bias = None if b is None else float_from_bits(b)  # added in float32 before the one rounding
            x2 = x if x.ndim >= 2 else x.reshape(1, -1)
            out = self._cpu.matmul_bf16(_bits(x2), _bits(w).T, bias)
            return _pending(out if x.ndim >= 2 else out.reshape(-1))
        return self._wide_linear(x, w, b, epilogue)

    # allocation in bfloat16 (NumPy would make plain arrays of the storage dtype, and fill them with raw bytes);
    # the CPU backend's own stay as they are, so float32 work pays nothing for bfloat16
    def empty(self, shape, dtype):
        if dtype in _STORAGE:
            return Bf16Array(shape, STORAGE)
        return self._cpu.empty(shape, dtype)

    def zeros(self, shape, dtype):
        if dtype in _STORAGE:
            return np.zeros(shape, STORAGE).view(Bf16Array)  # zero bits are +0.0
        return self._cpu.zeros(shape, dtype)

    def full(self, shape, value, dtype):
        if dtype in _STORAGE:
            return from_float(np.full(shape, to_float(value), np.float32))
        return self._cpu.full(shape, value, dtype)

    def asarray(self, data, dtype=None):
        if dtype is not None and dtype in _STORAGE:
            return astype_any(np.asarray(to_float(data)), STORAGE, copy=False)
        return self._cpu.asarray(data, dtype)

    def __getattr__(self, name):
        value = getattr(self._cpu, name)
        setattr(self, name, value)  # found once: later look-ups are plain attribute reads
        return value

    def __repr__(self) -> str:
        return f"<fastnn backend {self._cpu.name!r} (bfloat16 arrays) on {self._cpu.device}>"
