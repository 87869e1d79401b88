"""torch.nn.functional.pad: constant (any number of dims), reflect, replicate and circular; negative pads crop.

Every mode is one gather per padded dim: output position j of a dim of size n padded by (l, r) reads source
index j - l, mapped back into [0, n) by the mode (reflect mirrors without repeating the edge, replicate
clamps, circular wraps; constant marks it missing and writes ``value``). The backward scatters each
dim's gradient back through the same map, as a product with the 0/1 selection matrix on the backend's
GEMM for the few padded positions only, so positions read twice (replicated edges, reflections) add up.
"""
from __future__ import annotations

import math
import numbers


from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor
from .arg_checks import check_storage

_MODES = ("constant", "reflect", "replicate", "circular")
_NON_CONSTANT_HELP = ("Supported combinations for non-constant padding:\n"
                      "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                      "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                      "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _source_index(xp, n: int, left: int, right: int, mode: str):
    """(source index per output position, validity mask or None) for one dim."""
    j = xp.arange(-left, n + right)
    if mode == "constant":
        valid = (j >= 0) & (j < n)
        return xp.clip(j, 0, max(n - 1, 0)), valid
    if mode == "replicate":
        return xp.clip(j, 0, n - 1), None
    if mode == "circular":  # torch crops the negative sides first, then wraps around what is left
        lo = max(0, -left)
        kept = n - lo - max(0, -right)
        return lo + xp.arange(-max(left, 0), kept + max(right, 0)) % kept, None
    period = 2 * (n - 1)  # reflect: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
    if period == 0:
        return xp.zeros(j.shape, j.dtype), None
    k = j % period
    return xp.where(k < n, k, period - k), None


def _scatter_back(be, g, axis, src, valid, n, left):
    """The gradient of one gathered dim: input i takes g at i + left where that output read it directly (an
    injective map: one take), plus the few padded positions that read it again (reflections, replicated edges,
    wrap-around), added one strided slice each (or, for many, through a (padded positions x n) 0/1 product on
    the GEMM). Memory O(pads * n) at most."""
    xp = be.xp
    n_out = src.shape[0]
    j = xp.arange(n_out)
    direct = src == j - left
    if valid is not None:
        direct = direct & valid
    i = xp.arange(n)
    jj = xp.clip(i + left, 0, max(n_out - 1, 0))
    ok = (i + left >= 0) & (i + left < n_out)
    if n_out:
        ok = ok & direct[jj]
    shape = [1] * g.ndim
    shape[axis] = n
    gin = xp.take(g, jj, axis=axis) * ok.reshape(shape) if n_out else xp.zeros(g.shape[:axis] + (n,) +
                                                                               g.shape[axis + 1:], g.dtype)
    extra = ~direct if valid is None else (~direct & valid)
    if bool(extra.any()):
        pos = xp.nonzero(extra)[0]
        if pos.shape[0] <= 64:  # the usual few pad positions: one strided add each (a K=4 GEMM is slower)
            gin_m, g_m = xp.moveaxis(gin, axis, -1), xp.moveaxis(g, axis, -1)
            for p, t in zip(pos.tolist(), src[pos].tolist()):
                gin_m[..., t] += g_m[..., p]
            return gin.astype(g.dtype, copy=False)
        sel = (src[pos][:, None] == xp.arange(n)[None, :]).astype(g.dtype)
        gm = xp.moveaxis(xp.take(g, pos, axis=axis), axis, -1)
        lead = gm.shape[:-1]
        add = be.matmul(xp.ascontiguousarray(gm).reshape(math.prod(lead), pos.shape[0]), sel)
        gin = gin + xp.moveaxis(add.reshape(lead + (n,)), -1, axis)
    return gin.astype(g.dtype, copy=False)


def pad(input, pad, mode: str = "constant", value=None) -> Tensor:
    a = as_tensor(input, "pad")
    pads = [int(p) for p in pad]
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) // 2 > a.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pads)} and input of dimension {a.ndim}")
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant":
        if value is not None and value != 0:
            raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
        k = len(pads) // 2
        if k not in (1, 2, 3) or a.ndim not in (k + 1, k + 2):
            raise NotImplementedError(f"Padding size {len(pads)} is not supported for {a.ndim}D input tensor.\n"
                                      + _NON_CONSTANT_HELP)
    if value is None:
        value = 0
    if not isinstance(value, numbers.Number):
        raise TypeError(f"pad(): argument 'value' must be a number, not {type(value).__name__}")
    for i in range(len(pads) // 2):  # the sizes first, as torch: a wrapped or negative size computes nothing
        dim = a.ndim - 1 - i
        n, left, right = a.shape[dim], pads[2 * i], pads[2 * i + 1]
        if not 0 <= n + left + right < 2 ** 63:
            if n + left + right >= 2 ** 63:
                raise RuntimeError(f"pad(): the input size {n} plus padding {left} and {right} overflows int64 "
                                   f"(dimension {dim})")
            raise RuntimeError(f"The input size {n}, plus negative padding {left} and {right} resulted in a negative "
                               f"output size, which is invalid. Check dimension {dim} of your input.")
    padded = list(a.shape)
    for i in range(len(pads) // 2):
        padded[a.ndim - 1 - i] += pads[2 * i] + pads[2 * i + 1]
    check_storage(tuple(padded), a._data.dtype.itemsize, "pad")
    x = a._data
    be = backend_of(x)
    xp = be.xp
    plan = []  # (axis, source index, valid mask, input size)
    for i in range(len(pads) // 2):
        axis = a.ndim - 1 - i
        left, right = pads[2 * i], pads[2 * i + 1]
        n = x.shape[axis]
        if left == 0 and right == 0:
            continue
        if n + left + right < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        if mode == "reflect" and (left >= n or right >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, but "
                               f"got: padding ({left}, {right}) at dimension {axis} of input {list(x.shape)}")
        if mode == "circular" and (left > n or right > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode in ("replicate", "circular") and n == 0 and (left > 0 or right > 0):
            raise RuntimeError(f"pad(): input of size 0 at dimension {axis} cannot be padded with mode '{mode}'")
        src, valid = _source_index(xp, n, left, right, mode)
        plan.append((axis, src, valid, n))
    y = x
    for axis, src, valid, n in plan:
        if n == 0:  # constant padding of an empty dim: nothing to read
            shape = list(y.shape)
            shape[axis] = src.shape[0]
            y = xp.full(tuple(shape), value, x.dtype)
            continue
        y = xp.take(y, src, axis=axis)
        if valid is not None and not bool(valid.all()):
            shape = [1] * y.ndim
            shape[axis] = valid.shape[0]
            y = xp.where(valid.reshape(shape), y, xp.asarray(value).astype(x.dtype))
    if y is x:
        y = x.copy()
    y = y.astype(x.dtype, copy=False)

    def backward(g):
        for axis, src, valid, n in reversed(plan):
            g = _scatter_back(be, g, axis, src, valid, n, pads[2 * (a.ndim - 1 - axis)])
        return (g,)

    name = {"constant": "ConstantPadNdBackward0", "reflect": "ReflectionPad{}dBackward0",
            "replicate": "ReplicationPad{}dBackward0", "circular": "CircularPadBackward0"}[mode]
    return record(Tensor._wrap(y), name.format(len(pads) // 2), (a,), backward)
