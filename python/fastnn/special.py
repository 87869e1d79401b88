"""fastnn.special: PyTorch's torch.special namespace, over the ops in fastnn.ops (no new math here)."""
from __future__ import annotations

from .ops.activation import log_softmax as _log_softmax
from .ops.activation import sigmoid as expit
from .ops.activation import softmax as _softmax
from .ops.binary_math import xlog1py, xlogy
from .ops.elementwise import erf, log1p
from .ops.reduction import logsumexp
from .ops.rounding import round  # noqa: A004
from .ops.special_math import digamma, entr, erfc, erfcx, erfinv, i0, log_ndtr, logit, ndtr, ndtri
from .ops.special_math import lgamma as gammaln
from .ops.special_math import i0e, i1, i1e, modified_bessel_i0, modified_bessel_i1, polygamma, spherical_bessel_j0, zeta
from .ops.special_math import mvlgamma as multigammaln
from .ops.trig import exp2, expm1, sinc

psi = digamma


def softmax(input, dim, *, dtype=None):  # noqa: A002
    """torch.special.softmax(input, dim, *, dtype=None)."""
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):  # noqa: A002
    """torch.special.log_softmax(input, dim, *, dtype=None)."""
    return _log_softmax(input, dim, dtype=dtype)


__all__ = ["i0e", "i1", "i1e", "modified_bessel_i0", "modified_bessel_i1", "multigammaln", "polygamma",
           "spherical_bessel_j0", "zeta",
           "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "log1p",
           "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr", "ndtri", "psi", "round", "sinc",
           "softmax", "xlog1py", "xlogy"]

from ._public_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(globals(), ("fastnn.ops",))  # a non-Tensor input: torch's TypeError; aliases stay fastnn's objects
