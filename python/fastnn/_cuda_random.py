"""``torch.cuda.get_rng_state`` / ``set_rng_state`` / ``get_rng_state_all`` / ``set_rng_state_all``
(re-exported by ``fastnn.cuda``): a device generator's state as a uint8 CPU tensor, as torch gives it
(its bytes are fastnn's generator's, see ``backend/cuda/rng_state.py``, not torch's Philox seed and offset).
"""
from __future__ import annotations

import numpy as np

from .backend import registry as _registry
from .backend.cuda import rng_state as _rng_state


def _be(device):
    from . import cuda as _cuda

    return _registry.cuda_backend(_cuda._index(device))


def get_rng_state(device="cuda"):
    """The state of ``device``'s generator (the current device for 'cuda'), a uint8 CPU tensor."""
    from ._tensor import Tensor

    return Tensor._wrap(_rng_state.get_state(_be(device)))


def set_rng_state(new_state, device="cuda") -> None:
    """Restores ``device``'s generator from ``get_rng_state``'s tensor (uint8, on the CPU)."""
    from . import dtypes

    if getattr(new_state, "dtype", None) is not dtypes.uint8:
        raise TypeError(f"set_rng_state expected a torch.ByteTensor (uint8), got "
                        f"{getattr(new_state, 'dtype', type(new_state).__name__)}")
    if new_state.device.type != "cpu":
        raise RuntimeError(f"set_rng_state expected a CPU tensor, got one on {new_state.device}")
    _rng_state.set_state(_be(device), np.asarray(new_state._data))


def get_rng_state_all() -> list:
    from . import cuda as _cuda

    return [get_rng_state(i) for i in range(_cuda.device_count())]


def set_rng_state_all(new_states) -> None:
    for i, state in enumerate(new_states):
        set_rng_state(state, i)


__all__ = ["get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all"]
