"""matmul / ``@`` (batched, broadcasting) on the native GEMM."""
from __future__ import annotations

import numpy as np

from ..autograd.graph import record
from ..backend import cpu
from ..tensor import Tensor
from ._util import as_tensor, unbroadcast


def _swap(x):
    return np.swapaxes(x, -1, -2)


def matmul(a, b) -> Tensor:
    a, b = as_tensor(a, "matmul"), as_tensor(b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    x, y = a._data, b._data
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype} "
                           f"(shapes {_dims(x)} and {_dims(y)})")
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    if x2.shape[-1] != y2.shape[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims(x)} and {_dims(y)})")
    try:
        np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
    except ValueError:
        raise RuntimeError(f"matmul: batch dimensions of {tuple(x.shape)} and {tuple(y.shape)} "
                           "cannot be broadcast") from None
    out2 = cpu.matmul(x2, y2)
    out = out2
    if x.ndim == 1:
        out = out.squeeze(-2)
    if y.ndim == 1:
        out = out.squeeze(-1)

    def backward(g):
        g2 = g.reshape(out2.shape)
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast(cpu.matmul(g2, _swap(y2)), x2.shape).reshape(x.shape)
        if b._requires_grad:
            if y2.ndim == 2 and x2.ndim > 2:
                # Weight gradient of a batched input: one GEMM over the flattened batch, not a sum of many.
                k = x2.shape[-1]
                gb = cpu.matmul(x2.reshape(-1, k).T, g2.reshape(-1, g2.shape[-1])).reshape(y.shape)
            else:
                gb = unbroadcast(cpu.matmul(_swap(x2), g2), y2.shape).reshape(y.shape)
        return ga, gb

    return record(Tensor._wrap(out), "MmBackward0" if x.ndim == y.ndim == 2 else "MatmulBackward0", (a, b),
                  backward)


def _dims(arr) -> str:
    """The operand's own shape, PyTorch-style ("2x3"): flattening batches or padding a vector to a matrix
    would show shapes the caller never passed."""
    return "x".join(str(s) for s in arr.shape)


def mm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm(): expected 2-D tensors, got {a.ndim}-D and {b.ndim}-D")
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    if a.ndim != 3 or b.ndim != 3:
        raise RuntimeError(f"bmm(): expected 3-D tensors, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm(): batch sizes differ: {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)
