"""The complex-number accessors on real tensors (fastnn holds no complex dtype): real, conj, conj_physical,
resolve_conj, resolve_neg return the tensor itself (or a copy for conj_physical), as PyTorch does for real
inputs; imag refuses with PyTorch's error; angle is 0 for x >= 0 and pi for x < 0 (NaN stays NaN)."""
from __future__ import annotations

import math

from .. import dtypes
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor
from ._util import as_tensor, float_data


def real(input) -> Tensor:  # noqa: A002
    return as_tensor(input, "real")


def conj(input) -> Tensor:  # noqa: A002
    return as_tensor(input, "conj")


def resolve_conj(input) -> Tensor:  # noqa: A002
    return as_tensor(input, "resolve_conj")


def resolve_neg(input) -> Tensor:  # noqa: A002
    return as_tensor(input, "resolve_neg")


def conj_physical(input) -> Tensor:  # noqa: A002
    """PyTorch returns the input itself for a real tensor."""
    return as_tensor(input, "conj_physical")


def imag(input) -> Tensor:  # noqa: A002
    as_tensor(input, "imag")
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def angle(input) -> Tensor:  # noqa: A002
    """The argument of a real number: pi for negatives, 0 otherwise, NaN for NaN; float32 for integer
    inputs; zero gradient."""
    a = as_tensor(input, "angle")
    x = float_data(a) if a.dtype is not dtypes.bool_ else a._data.astype(dtypes.default_float.np)
    xp = backend_of(x).xp
    y = xp.where(x < 0, x.dtype.type(math.pi), x.dtype.type(0))
    y = xp.where(xp.isnan(x), x, y)
    return record(Tensor._wrap(y), "AngleBackward0", (a,), lambda g: (xp.zeros_like(g),))
