"""torch.nn.functional.softmax / log_softmax: the functional forms take ``dim=None`` (torch's legacy implicit
dim, with its deprecation warning) and torch's signature ``(input, dim=None, _stacklevel=3, dtype=None)``;
``fastnn.softmax`` (torch.softmax) still wants an int dim."""
from __future__ import annotations

import warnings

from ..ops.activation import log_softmax as _log_softmax
from ..ops.activation import softmax as _softmax


def _implicit_dim(name: str, input) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                  "an argument.", UserWarning, stacklevel=3)
    return 0 if input.ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    return _softmax(input, _implicit_dim("softmax", input) if dim is None else dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    return _log_softmax(input, _implicit_dim("log_softmax", input) if dim is None else dim, dtype=dtype)
