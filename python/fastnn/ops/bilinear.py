"""bilinear: y[..., o] = x1[..., i] W[o, i, j] x2[..., j] + b[o], as torch.nn.functional.bilinear.

The forward is one GEMM and a row-wise dot: t = x1 @ W viewed as (in1, out*in2), then y = sum_j t * x2. The
backward reuses that shape: dx1 = (g ⊗ x2) @ W(out*in2, in1), dx2 = sum_o g * (x1 @ W)(o, j), and dW is the
GEMM x1ᵀ @ (g ⊗ x2) over the flattened batch."""
from __future__ import annotations

import math

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from . import int_kernels
from ._util import as_tensor


def bilinear(input1, input2, weight, bias=None) -> Tensor:
    op = "bilinear"
    a, c, w = as_tensor(input1, op), as_tensor(input2, op), as_tensor(weight, op)
    bt = None if bias is None else as_tensor(bias, op)
    if a.ndim != c.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {a.ndim} and {c.ndim}")
    for i in range(a.ndim - 1):
        if a.shape[i] != c.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {a.shape[i]} and "
                               f"{c.shape[i]}")
    if w.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out, in1, in2), got {list(w.shape)}")
    o, i1, i2 = w.shape
    if a.shape[-1] != i1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {a.shape[-1]} but expected {i1}")
    if c.shape[-1] != i2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {c.shape[-1]} but expected {i2}")
    if bt is not None and (bt.ndim != 1 or bt.shape[0] != o):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bt.shape[-1] if bt.ndim else 0} "
                           f"but expected {o}")
    dts = {a.dtype, c.dtype, w.dtype} | ({bt.dtype} if bt is not None else set())
    if len(dts) != 1:  # torch's message, naming each operand's C++ type
        named = [("input1", a), ("input2", c), ("weight", w)] + ([("bias", bt)] if bt is not None else [])
        raise RuntimeError("All tensors must have the same dtype, got " +
                           ", ".join(f"{k}: {int_kernels.ctype(t.dtype)}" for k, t in named))
    integer = int_kernels.is_int(a.dtype)
    if not a.dtype.is_floating_point and not integer:
        raise int_kernels.not_implemented("bmm", a.dtype)
    x1, x2, wa = a._data, c._data, w._data
    ba = None if bt is None else bt._data
    be = backend_of(x1, x2, wa, ba)
    xp = be.xp
    lead = tuple(a.shape[:-1])
    m = math.prod(lead)
    x1m, x2m = x1.reshape(m, i1), x2.reshape(m, i2)
    w_i = xp.ascontiguousarray(wa.transpose(1, 0, 2)).reshape(i1, o * i2)  # (in1, out*in2)
    if integer:  # exact, wrapping as torch's integer bmm does; integer tensors have no grad
        t = (int_kernels.matmul(be, x1m, w_i) if m and i1 else xp.zeros((m, o * i2), x1.dtype)).reshape(m, o, i2)
        return Tensor._wrap(int_kernels.bilinear_sum(be, t, x2m, ba).reshape(lead + (o,)))
    t = (be.matmul(x1m, w_i) if m and i1 else xp.zeros((m, o * i2), x1.dtype)).reshape(m, o, i2)
    y = xp.einsum("moj,mj->mo", t, x2m)
    if ba is not None:
        y = y + ba

    def backward(g):
        gm = g.reshape(m, o)
        g1 = g2 = gw = gb = None
        if a._requires_grad or w._requires_grad:
            outer = (gm[:, :, None] * x2m[:, None, :]).reshape(m, o * i2)       # g ⊗ x2
            if a._requires_grad:
                g1 = (be.matmul(outer, xp.ascontiguousarray(w_i.T)) if m and o * i2 else
                      xp.zeros((m, i1), x1.dtype)).reshape(a.shape)
            if w._requires_grad:
                gw = (be.matmul(xp.ascontiguousarray(x1m.T), outer) if m else xp.zeros((i1, o * i2), x1.dtype))
                gw = gw.reshape(i1, o, i2).transpose(1, 0, 2)
        if c._requires_grad:
            g2 = xp.einsum("mo,moj->mj", gm, t).reshape(c.shape)
        if bt is not None and bt._requires_grad:
            gb = gm.sum(axis=0)
        return g1, g2, gw, gb

    return record(Tensor._wrap(y.reshape(lead + (o,))), "BilinearBackward0", (a, c, w, bt), backward)
