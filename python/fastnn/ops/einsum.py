"""einsum: any equation (ellipsis, repeated subscripts for diagonals, summed subscripts), torch's string and
sublist forms.

The equation is first made explicit: ellipses become letters of their own (right-aligned across operands,
as broadcasting aligns them), the implicit output (``'ij,jk'``) becomes the ellipsis letters followed by the
subscripts used once, in alphabetical order. Operands whose size-1 dims meet a larger size elsewhere are
broadcast first, so every subscript has one size.

The forward is ``xp.einsum(..., optimize=True)`` (contraction order chosen by NumPy, products through BLAS).
The gradient of operand k is one more einsum: the output gradient and every other operand contracted onto
operand k's subscripts. Subscripts that only operand k has are restored by a ones vector, and a subscript
repeated in operand k (a diagonal) gets fresh letters tied to the first by identity matrices, so the
gradient lands on the diagonal only. A broadcast operand's gradient is summed back to its shape.
"""
from __future__ import annotations

import string

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, unbroadcast
from .matmul_family import _tname

_LETTERS = string.ascii_letters


def _sublist_to_str(sub):
    out = []
    for s in sub:
        if s is Ellipsis:
            out.append("...")
        elif isinstance(s, int) and 0 <= s < 52:
            out.append(_LETTERS[s])
        else:
            raise RuntimeError(f"einsum(): expected subscript to be within the range [0, 52) but got {s}")
    return "".join(out)


def _parse_args(args):
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand, or at least one "
                        "operand and its subscripts list")
    if isinstance(args[0], str):
        eq = args[0]
        ops = args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
        return eq.replace(" ", ""), list(ops)
    # sublist form: op0, sub0, op1, sub1, ..., [out]
    ops, subs = [], []
    rest = list(args)
    while len(rest) >= 2:
        ops.append(rest.pop(0))
        subs.append(_sublist_to_str(rest.pop(0)))
    eq = ",".join(subs)
    if rest:
        eq += "->" + _sublist_to_str(rest[0])
    return eq, ops


def _explicit(eq: str, shapes):
    """(input subscripts per operand, output subscripts) with ellipses replaced by letters of their own."""
    if "->" in eq:
        lhs, rhs = eq.split("->", 1)
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    used = set(c for c in eq if c.isalpha())
    for c in eq:
        if not (c.isalpha() or c in ".,->"):
            raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(c)} in the equation string, "
                               "subscripts must be in [a-zA-Z]")
    free = [c for c in _LETTERS if c not in used]
    n_ell = []
    for t, shp in zip(terms, shapes):
        letters = len(t.replace("...", ""))
        if "..." in t:
            if t.count("...") > 1:
                raise RuntimeError("einsum(): found more than one ellipsis in an operand's subscripts")
            n = len(shp) - letters
            if n < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) is more than the "
                                   f"number of dimensions ({len(shp)}) for operand {len(n_ell)}")
            n_ell.append(n)
        else:
            if letters != len(shp):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({letters}) does not match "
                                   f"the number of dimensions ({len(shp)}) for operand {len(n_ell)} and no ellipsis "
                                   "was given")
            n_ell.append(0)
    m = max(n_ell, default=0)
    ell = "".join(free[:m])
    ins = [t.replace("...", ell[m - n:]) for t, n in zip(terms, n_ell)]
    if rhs is None:
        counts = {}
        for t in ins:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c, k in counts.items() if k == 1 and c not in ell),
                                   key=lambda c: (c.isupper(), c)))
    else:
        if rhs.count("...") > 1:
            raise RuntimeError("einsum(): found more than one ellipsis in the output subscripts")
        out = rhs.replace("...", ell)
        seen = set()
        for c in out:
            if c in seen:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output")
            seen.add(c)
            if not any(c in t for t in ins):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation for any input "
                                   "operand")
    return ins, out


def einsum(*args) -> Tensor:
    eq, ops = _parse_args(args)
    ts = [as_tensor(t, "einsum") for t in ops]
    if not ts:
        raise RuntimeError("einsum(): must provide at least one operand")
    ins, out_subs = _explicit(eq, [t.shape for t in ts])
    dt = ts[0].dtype
    for t in ts[1:]:
        if t.dtype is not dt:
            raise RuntimeError(f"expected scalar type {_tname(ts[0])} but found {_tname(t)}")
    sizes = {}
    for k, (t, s) in enumerate(zip(ts, ins)):
        own = {}
        for c, n in zip(s, t.shape):
            if c in own and own[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't match, "
                                   f"{n} != {own[c]}")
            own[c] = n
        for c, n in zip(s, t.shape):
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = n
            elif n != 1 and n != prev:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which does not broadcast "
                                   f"with previously seen size {prev}")
    be = backend_of(*(t._data for t in ts[:3]))
    xp = be.xp
    # Each operand at the full size of its subscripts (a repeated subscript keeps its own dims, already equal).
    arrays = [xp.broadcast_to(t._data, tuple(sizes[c] if n == 1 else n for c, n in zip(s, t.shape)))
              for t, s in zip(ts, ins)]
    expr = ",".join(ins) + "->" + out_subs
    out = xp.einsum(expr, *arrays, optimize=len(arrays) > 1)
    out = xp.asarray(out)
    if out.dtype != arrays[0].dtype:
        out = out.astype(arrays[0].dtype)

    def backward(g):
        grads = []
        for k, (t, s) in enumerate(zip(ts, ins)):
            if not t._requires_grad:
                grads.append(None)
                continue
            terms, operands = [out_subs], [g]
            for j, (sj, aj) in enumerate(zip(ins, arrays)):
                if j != k:
                    terms.append(sj)
                    operands.append(aj)
            pool = iter(c for c in _LETTERS if c not in sizes)
            target, seen = [], set()
            for c in s:
                if c in seen:  # a diagonal: a fresh letter tied to c by an identity matrix
                    f = next(pool)
                    terms.append(c + f)
                    operands.append(xp.eye(sizes[c], dtype=g.dtype))
                    target.append(f)
                else:
                    seen.add(c)
                    target.append(c)
            available = set("".join(terms))
            for c in seen:
                if c not in available:  # summed over in operand k alone: its gradient is constant along c
                    terms.append(c)
                    operands.append(xp.ones(sizes[c], dtype=g.dtype))
            gk = xp.asarray(xp.einsum(",".join(terms) + "->" + "".join(target), *operands,
                                      optimize=len(operands) > 2))
            grads.append(unbroadcast(gk.astype(g.dtype, copy=False), t.shape))
        return tuple(grads)

    return record(Tensor._wrap(out), "EinsumBackward0", tuple(ts), backward)
