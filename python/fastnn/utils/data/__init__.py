"""``torch.utils.data`` as a module path: everything in ``fastnn.data``, and its submodules under torch's
names (``torch.utils.data.sampler``, ``.dataset``, ``.dataloader``, ``.distributed``)."""
from __future__ import annotations

import sys

from ...data import *  # noqa: F401,F403
from ...data import __all__, dataset, distributed_sampler, loader, sampler  # noqa: F401
from ...data import worker as _worker

dataloader = loader
distributed = distributed_sampler
# `import fastnn.utils.data.sampler` and `from fastnn.utils.data.dataloader import DataLoader` find these
for _name, _mod in (("sampler", sampler), ("dataset", dataset), ("dataloader", loader), ("distributed", distributed),
                    ("_utils.worker", _worker)):
    sys.modules[f"{__name__}.{_name}"] = _mod
