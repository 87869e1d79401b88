"""The trapezoidal rule along a dim: trapezoid (= trapz) and cumulative_trapezoid, built from shape ops and
arithmetic, so their gradients come from those ops'."""
from __future__ import annotations

import numbers

from .._tensor import Tensor
from ._util import as_tensor, normalize_dim
from .arithmetic import add, div, mul, sub
from .cumulative import cumsum
from .reduction import sum as reduce_sum
from .shape import narrow, reshape


def _pieces(y, x, dx, dim, name):
    """(y[1:] + y[:-1]) / 2 times the spacing along ``dim``: the areas of the trapezoids."""
    y = as_tensor(y, name)
    ax = normalize_dim(dim, y.ndim, name)
    n = y.shape[ax]
    m = max(n - 1, 0)
    mid = div(add(narrow(y, ax, 1, m), narrow(y, ax, 0, m)), 2) if n else div(y, 2)
    if x is None:
        return mid if dx is None or dx == 1 else mul(mid, dx), ax
    x = as_tensor(x, name)
    if x.ndim == 1 and y.ndim > 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        x = reshape(x, tuple(n if i == ax else 1 for i in range(y.ndim)))
    xa = normalize_dim(ax - y.ndim + x.ndim, x.ndim, name) if x.ndim != y.ndim else ax
    if not n:
        return mid, ax
    return mul(mid, sub(narrow(x, xa, 1, m), narrow(x, xa, 0, m))), ax


def _check_x(x, dx, name):
    if x is not None and dx is not None:
        raise TypeError(f"{name}(): pass either x or dx, not both")
    if x is not None and isinstance(x, numbers.Number):  # trapezoid(y, 2.0): a scalar x is the spacing
        return None, x
    return x, dx


def trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, with sample points ``x`` or spacing ``dx``."""
    x, dx = _check_x(x, dx, "trapezoid")
    pieces, ax = _pieces(y, x, dx, dim, "trapezoid")
    return reduce_sum(pieces, ax)


def trapz(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral (one element shorter than y along ``dim``)."""
    x, dx = _check_x(x, dx, "cumulative_trapezoid")
    pieces, ax = _pieces(y, x, dx, dim, "cumulative_trapezoid")
    return cumsum(pieces, ax) if isinstance(pieces, Tensor) else pieces
