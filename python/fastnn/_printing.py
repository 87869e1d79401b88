"""``set_printoptions``' state, read by ``Tensor.__repr__`` (torch's defaults: 4 digits, 1000 elements before
summarising with 3 edge items, 80 columns)."""
from __future__ import annotations

import numpy as np

DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {"default": DEFAULTS, "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
             "full": {"precision": 4, "threshold": 2**63 - 1, "edgeitems": 3, "linewidth": 80}}
options = dict(DEFAULTS)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None) -> None:
    """torch.set_printoptions: a profile ('default', 'short', 'full') first, then the explicit values."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected 'default', 'short' or 'full'")
        options.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            options[name] = int(value)
    options["sci_mode"] = sci_mode  # None: automatic, as torch


def array_kwargs(arr) -> dict:
    """np.array2string's keywords for the current options and host array ``arr``. Like torch, floats print
    with ``precision`` digits each ('1.5000'), unless every finite value is an integer ('1., 2.')."""
    kw = {"precision": options["precision"], "threshold": options["threshold"], "edgeitems": options["edgeitems"],
          "max_line_width": options["linewidth"]}
    if arr.dtype.kind == "f" and arr.size:
        finite = arr[np.isfinite(arr)]
        kw["floatmode"] = "maxprec" if (finite == np.round(finite)).all() else "fixed"
    if options["sci_mode"] is not None:
        kw["suppress_small"] = not options["sci_mode"]
    return kw
