"""matmul / ``@`` (batched, broadcasting) and linear on the backend's GEMM kernels."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from .. import amp_state
from .. import dtypes
from . import int_kernels
from .activation import gelu
from ._util import as_tensor, unbroadcast


def _swap(x):
    return x.swapaxes(-1, -2)


def _matmul_shape_error(xs: tuple, ys: tuple) -> str:
    """torch.matmul's message for shapes that do not multiply ('' when they do): it names the op matmul
    lowers to (dot, mv, mm, or bmm over the broadcast batch), with the shapes that op sees."""
    if len(xs) == 1 and len(ys) == 1:
        if xs[0] != ys[0]:
            return (f"inconsistent tensor size, expected tensor [{xs[0]}] and src [{ys[0]}] to have the same number "
                    f"of elements, but got {xs[0]} and {ys[0]} elements respectively")
        return ""
    if len(ys) <= 2:  # the input's leading dims fold into the rows of one mm / mv
        rows = math.prod(xs[:-1]) if len(xs) > 1 else 1
        if len(ys) == 1:
            if xs[-1] != ys[0]:
                return f"size mismatch, got input ({rows}), mat ({rows}x{xs[-1]}), vec ({ys[0]})"
            return ""
        if xs[-1] != ys[0]:
            return f"mat1 and mat2 shapes cannot be multiplied ({rows}x{xs[-1]} and {ys[0]}x{ys[1]})"
        return ""
    xb, yb = (xs[:-2] if len(xs) > 2 else ()), ys[:-2]
    for i in range(1, min(len(xb), len(yb)) + 1):
        if xb[-i] != yb[-i] and xb[-i] != 1 and yb[-i] != 1:
            return (f"The size of tensor a ({xb[-i]}) must match the size of tensor b ({yb[-i]}) at non-singleton "
                    f"dimension {max(len(xb), len(yb)) - i}")
    k = xs[-1]
    if k != ys[-2]:
        batch = math.prod(np.broadcast_shapes(xb, yb))
        return (f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k}] but got: "
                f"[{batch}, {ys[-2]}].")
    return ""


def _matmul_dtype_error(a, b) -> str:
    """torch.matmul's message for two dtypes, from the op it lowers to (dot, addmv, mm, bmm)."""
    stem, ctype = int_kernels.stem, int_kernels.ctype
    if a.ndim == 1 and b.ndim == 1:
        return f"dot : expected both vectors to have same dtype, but found {stem(a.dtype)} and {stem(b.dtype)}"
    if b.ndim == 1:
        return (f"addmv input tensors must have the same dtype, but got {stem(b.dtype)}, {stem(a.dtype)}, and "
                f"{stem(b.dtype)}")
    if b.ndim == 2:
        return f"expected m1 and m2 to have the same dtype, but got: {ctype(a.dtype)} != {ctype(b.dtype)}"
    return f"expected scalar type {stem(a.dtype)} but found {stem(b.dtype)}"


def matmul(a, b) -> Tensor:
    a, b = as_tensor(a, "matmul"), as_tensor(b, "matmul")
    if amp_state.ACTIVE:  # CPU autocast: bf16 operands (the one test outside it)
        a, b = amp_state.lower(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    x, y = a._data, b._data
    # torch's texts (of the op matmul lowers to), then both operands in full (torch's fold the batch dims)
    if a.ndim == 1 and b.ndim == 1 and a.dtype is not b.dtype:  # torch's dot checks dtypes before sizes
        raise RuntimeError(_matmul_dtype_error(a, b) + f" ({a.dtype} {_dims(x)} and {b.dtype} {_dims(y)})")
    wrong = _matmul_shape_error(tuple(x.shape), tuple(y.shape))  # otherwise shapes first, then dtypes
    if wrong:
        raise RuntimeError(wrong + f" (matmul of shapes {_dims(x)} and {_dims(y)})")
    if a.dtype is not b.dtype:
        raise RuntimeError(_matmul_dtype_error(a, b) + f" ({a.dtype} {_dims(x)} and {b.dtype} {_dims(y)})")
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    be = backend_of(x, y)
    out2 = be.matmul(x2, y2)
    out = out2
    if x.ndim == 1:
        out = out.squeeze(-2)
    if y.ndim == 1:
        out = out.squeeze(-1)

    def backward(g):
        g2 = g.reshape(out2.shape)
        ga = gb = None
        if a._requires_grad:
            ga = unbroadcast(be.matmul(g2, _swap(y2)), x2.shape).reshape(x.shape)
        if b._requires_grad:
            if y2.ndim == 2 and x2.ndim > 2:
                # Weight gradient of a batched input: one GEMM over the flattened batch, not a sum of many.
                k, rows = x2.shape[-1], math.prod(x2.shape[:-1])  # rows counted: -1 fails on empty arrays
                gb = be.matmul(x2.reshape(rows, k).T, g2.reshape(rows, g2.shape[-1])).reshape(y.shape)
            else:
                gb = unbroadcast(be.matmul(_swap(x2), g2), y2.shape).reshape(y.shape)
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


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None) -> Tensor:
    """activation(input @ weight.T + bias), as torch.nn.functional.linear (plus a fused activation).

    The bias and a ReLU are applied inside the GEMM's last pass over the output; GELU is fused only when
    no gradient is needed (its backward wants the pre-activation, which the fused pass does not keep).
    """
    x, w = input, weight
    if amp_state.ACTIVE:  # CPU autocast: bf16 operands (the one test outside it)
        x, w, bias = amp_state.lower(x, w, bias)
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {x.ndim}D and {w.ndim}D")
    if w.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {w.ndim}D")
    if w.ndim == 1 and bias is not None:  # torch's addmm, which checks dtypes, then wants a matrix
        if x.dtype is not w.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got {int_kernels.stem(x.dtype)} and "
                               f"{int_kernels.stem(w.dtype)}")
        raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
    if w.ndim == 1 and activation is None:  # torch: a 1-D weight is a vector, input @ weight (matmul's checks)
        return matmul(x, w)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:  # shapes before dtypes, in torch's order
        raise RuntimeError(f"linear(): mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, x.shape))} "
                           f"and {w.shape[1]}x{w.shape[0]})")
    integer = _check_linear_dtypes(x, w, bias)
    if bias is not None and bias.shape != (w.shape[0],):
        raise RuntimeError(f"linear(): bias must have shape ({w.shape[0]},), got {tuple(bias.shape)}")
    if activation not in (None, "relu", "gelu"):
        raise ValueError(f"linear(): activation must be None, 'relu' or 'gelu', got {activation!r}")
    needs_grad = any(t is not None and t._requires_grad for t in (x, w, bias))
    if activation == "gelu" and needs_grad:
        return gelu(linear(x, w, bias))
    xa = x._data if x.ndim > 1 else x._data[None, :]
    b = bias._data if bias is not None else None
    be = backend_of(xa, w._data, b)
    if integer:
        return _int_linear(be, x, xa, w._data, b, activation)
    y = be.linear(xa, w._data, b, activation or "none")
    if x.ndim == 1:
        y = y[0]

    def backward(g):
        if activation == "relu":
            g = g * (y > 0)
        rows = math.prod(g.shape[:-1])
        g2 = g.reshape(rows, w.shape[0])
        x2 = xa.reshape(rows, w.shape[1])
        gx = be.matmul(g2, w._data).reshape(x.shape) if x._requires_grad else None
        gw = be.matmul(g2.T, x2) if w._requires_grad else None
        gb = g2.sum(axis=0) if bias is not None and bias._requires_grad else None
        return gx, gw, gb

    # A fused ReLU's backward reads the output (as torch's ReluBackward0, the node torch would show here).
    return record(Tensor._wrap(y), "ReluBackward0" if activation == "relu" else "AddmmBackward0", (x, w, bias),
                  backward)


def _check_linear_dtypes(x, w, bias) -> bool:
    """One floating dtype (the fast path) or one integer dtype (True: torch computes integer GEMMs); a mix
    raises torch's addmm errors."""
    dt = x.dtype
    if dt.is_floating_point and w.dtype is dt and (bias is None or bias.dtype is dt):
        return False
    if int_kernels.is_int(dt) or int_kernels.is_int(w.dtype) or (bias is not None and int_kernels.is_int(bias.dtype)):
        if w.dtype is not dt:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {int_kernels.ctype(dt)} != "
                               f"{int_kernels.ctype(w.dtype)}")
        if bias is not None and bias.dtype is not dt:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got {int_kernels.stem(bias.dtype)} and "
                               f"{int_kernels.stem(dt)}")
        return True
    if dt is dtypes.bool_ and w.dtype is dt and (bias is None or bias.dtype is dt):
        raise int_kernels.not_implemented("addmm_impl_cpu_", dt)
    raise RuntimeError(f"linear(): expected input, weight and bias of one floating dtype, got {x.dtype}, "
                       f"{w.dtype}" + (f", {bias.dtype}" if bias is not None else ""))


def _int_linear(be, x, xa, w, b, activation):
    """linear of integer tensors: exact, in their dtype, outside autograd (integer tensors have no grad)."""
    if activation == "gelu":
        raise int_kernels.not_implemented("GeluKernelImpl", x.dtype)
    rows = math.prod(xa.shape[:-1])
    y = int_kernels.linear(be, xa.reshape(rows, w.shape[1]), w, b).reshape(xa.shape[:-1] + (w.shape[0],))
    if activation == "relu":
        y = be.xp.maximum(y, 0)
    return Tensor._wrap(y[0] if x.ndim == 1 else y)
