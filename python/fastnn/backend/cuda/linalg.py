"""matmul, gemm_into and linear on the CUDA GEMM kernels (csrc/cuda/gemm.cu) for float32; other dtypes,
and arguments the composite rejects, go to the composite kernels (``super()``, CuPy's), so errors read as
theirs.

Operands are handed to the kernels as views: a transposed operand (``w.T``, ``g.T``) is read in place, a
broadcast batch dim is a batch stride of 0. Only an operand with unit stride along neither of its last two
dims (or a negative stride) is copied first. ``fastnn.backends.cuda.matmul.allow_tf32`` (False by default,
as in torch) lets an sm_80+ GPU run float32 products on TF32 tensor cores; the emulator always runs the
fp32 SIMT kernel."""
from __future__ import annotations

import math

import numpy as np

_F32 = np.dtype(np.float32)
_EPILOGUES = ("none", "relu", "gelu")


def _allow_tf32() -> bool:
    from ...backends import cuda as _flags  # read per call: programs flip it between products

    return bool(_flags.matmul.allow_tf32)


def _in_place(x) -> bool:
    """Whether the kernels read (or write) x as it is: unit stride along one of its last two dims, none
    negative."""
    if x.ndim < 2 or any(s < 0 for s in x.strides):
        return False
    rows, cols = x.shape[-2:]
    sr, sc = x.strides[-2:]
    return cols == 1 or sc == x.itemsize or rows == 1 or sr == x.itemsize


def _operand(xp, x):
    """x itself when the kernel can read it in place, else a C-contiguous copy."""
    return x if _in_place(x) else xp.ascontiguousarray(x)


def _as_batch3(xp, x, batch):
    """x as the kernel's batch operand for the broadcast batch shape: its 2-D matrix when it has no batch
    of its own (the binding broadcasts it with stride 0), else (prod(batch), rows, cols), a view where the
    batch dims collapse into one stride (a broadcast dim keeps stride 0)."""
    if math.prod(x.shape[:-2]) == 1:
        return x.reshape(x.shape[-2:])
    xb = xp.broadcast_to(x, batch + x.shape[-2:])
    if len(batch) == 1:
        return xb
    return xb.reshape((math.prod(batch),) + x.shape[-2:])  # counted: -1 is ambiguous for empty matrices


def _overlaps(xp, out, *others) -> bool:
    return any(xp.may_share_memory(out, o) for o in others)


class CudaLinalgKernels:
    def _gemm_options(self, m, n, k, batch=1) -> dict:
        """The keyword arguments of a GEMM binding call: the TF32 switch, and the split-K workspace when
        the launcher would split this problem (a small output over a long k, as weight gradients are)."""
        tf32 = _allow_tf32()
        size = self.native.gemm_workspace_size(m, n, k, batch, allow_tf32=tf32, device=self.device_id)
        return {"allow_tf32": tf32, "workspace": self.xp.empty(size, self.xp.float32) if size else None,
                "device": self.device_id, "stream": self.stream()}

    def matmul(self, a, b):
        if a.dtype != _F32 or b.dtype != _F32 or a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            return super().matmul(a, b)  # 1-D operands, other dtypes, and the composite's shape errors
        try:
            batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        except ValueError:
            return super().matmul(a, b)
        xp = self.xp
        m, k = a.shape[-2:]
        n = b.shape[-1]
        with self.device_guard():
            out = xp.empty(batch + (m, n), xp.float32)
            if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
                # (..., m, k) @ (k, n) is one tall GEMM: a Linear over a sequence. Rows are counted, not -1.
                rows, count = math.prod(a.shape[:-1]), 1
                a2, b2, c = a.reshape(rows, k), _operand(xp, b), out.reshape(rows, n)
            else:
                rows, count = m, math.prod(batch)
                a2 = _as_batch3(xp, _operand(xp, a), batch)
                b2 = _as_batch3(xp, _operand(xp, b), batch)
                c = out.reshape((count, m, n)) if batch else out
            self.native.gemm_f32(a2, b2, c, 1.0, 0.0, **self._gemm_options(rows, n, k, count))
        return out

    def gemm_into(self, a, b, out, alpha: float = 1.0, beta: float = 0.0):
        xp = self.xp
        if (a.dtype != _F32 or b.dtype != _F32 or out.dtype != _F32 or a.ndim != 2 or b.ndim != 2 or out.ndim != 2
                or a.shape[1] != b.shape[0] or out.shape != (a.shape[0], b.shape[1])
                or not _in_place(out) or _overlaps(xp, out, a, b)):
            return super().gemm_into(a, b, out, alpha, beta)  # other dtypes, bad shapes, odd or aliased out
        with self.device_guard():
            self.native.gemm_f32(_operand(xp, a), _operand(xp, b), out, float(alpha), float(beta),
                                 **self._gemm_options(a.shape[0], b.shape[1], a.shape[1]))

    def linear(self, x, w, b, epilogue: str = "none"):
        if (x.dtype != _F32 or w.dtype != _F32 or x.ndim < 1 or w.ndim != 2 or x.shape[-1] != w.shape[1]
                or (b is not None and (b.dtype != _F32 or b.shape != (w.shape[0],))) or epilogue not in _EPILOGUES):
            return super().linear(x, w, b, epilogue)  # the composite's results and errors for the rest
        xp = self.xp
        lead = x.shape[:-1]
        rows = math.prod(lead)  # explicit: reshape(-1, 0) is ambiguous when there are no in-features
        n = w.shape[0]
        with self.device_guard():
            x2 = _operand(xp, x.reshape(rows, x.shape[-1]))
            y = xp.empty((rows, n), xp.float32)
            bias = None if b is None else xp.ascontiguousarray(b)
            self.native.linear_f32(x2, _operand(xp, w), bias, y, epilogue,
                                   **self._gemm_options(rows, n, x.shape[-1]))
        return y.reshape(lead + (n,))
