"""torch.amp: ``autocast`` and ``GradScaler``, answered honestly for a library without reduced-precision kernels.

``autocast``: fastnn computes in the dtypes it is given, so autocast can only be off or a no-op:
- ``enabled=False`` and autocast on a CUDA device while CUDA is unavailable (torch warns "Disabling autocast"
  and runs in float32; so does fastnn) run the body unchanged; with a CUDA device, an enabled autocast raises
  NotImplementedError (the CUDA backend has no float16/bfloat16 autocast);
- CPU autocast to float32 is not a dtype torch's CPU autocast supports: torch warns and disables, as here;
- CPU autocast to bfloat16 (torch's default there) or float16 would run matmuls and convolutions in reduced
  precision in torch: fastnn cannot (bfloat16 is issue 15; no float16 kernels), so it refuses with
  NotImplementedError instead of silently computing something else.

``GradScaler`` is torch's algorithm (scale the loss, unscale the gradients, skip a step whose gradients are
not finite, grow/back off the scale). On 'cpu' it is enabled, as in torch 2.13; on 'cuda' without CUDA it
warns and disables itself, and disabled it passes everything through (``scale(loss)`` is ``loss``).
"""
from __future__ import annotations

import functools
import warnings

from . import dtypes
from ._tensor import Tensor
from .autograd.grad_mode import no_grad
from .backend import backend_of
from .cuda import is_available as _cuda_available

__all__ = ["autocast", "GradScaler", "is_autocast_available"]

def is_autocast_available(device_type: str) -> bool:
    return device_type in ("cpu", "cuda")


class autocast:
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: context manager and
    decorator (see the module docstring for what each setting does here)."""

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in ("cpu", "cuda"):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = device_type
        self.fast_dtype = None if dtype is None else dtypes.to_dtype(dtype)
        self._enabled = bool(enabled)
        if not self._enabled:
            return
        if device_type == "cuda" and not _cuda_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", UserWarning,
                          stacklevel=2)
            self._enabled = False
        elif device_type == "cuda":
            raise NotImplementedError("autocast('cuda'): fastnn's CUDA backend has no reduced-precision (float16 "
                                      "/ bfloat16) autocast yet; pass enabled=False to run in float32")
        elif device_type == "cpu":
            if self.fast_dtype is None:  # torch's CPU default is bfloat16
                raise NotImplementedError("autocast('cpu'): CPU autocast runs in bfloat16 by default, which fastnn "
                                          "does not have yet (issue 15: bfloat16 storage and autocast); pass "
                                          "enabled=False or drop the autocast region")
            if self.fast_dtype is dtypes.float16:
                raise NotImplementedError("autocast('cpu', dtype=float16): fastnn has no float16 compute kernels "
                                          "to autocast into; pass enabled=False or drop the autocast region")
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                          UserWarning, stacklevel=2)
            self._enabled = False

    def __enter__(self):
        return self  # every autocast that gets here is disabled (see __init__): the body runs as written

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Always False: fastnn never runs an autocast region in reduced precision (see ``autocast``)."""
    return False


class GradScaler:
    """``torch.amp.GradScaler(device='cuda', init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``."""

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device == "cuda" and not _cuda_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict] = {}

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs):
        """``outputs`` (a tensor or nested lists/tuples of them) times the scale (differentiably)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"unscaled": False, "found_inf": False})

    def unscale_(self, optimizer) -> None:
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["unscaled"]:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        inv = 1.0 / self._scale
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad
                    found = found or not bool(backend_of(g._data).xp.isfinite(g._data).all())
                    g._write(..., g._data * g._data.dtype.type(inv))
        st["unscaled"], st["found_inf"] = True, found

    def step(self, optimizer, *args, **kwargs):
        """Unscales (unless ``unscale_`` did), then ``optimizer.step()`` unless a gradient is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        st = self._state(optimizer)
        if not st["unscaled"]:
            self.unscale_(optimizer)
        if st.get("stepped"):
            raise RuntimeError("step() has already been called since the last update().")
        st["stepped"] = True
        return None if st["found_inf"] else optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = float(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            found = any(st["found_inf"] for st in self._per_optimizer.values())
            if found:
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale *= self._growth_factor
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor, "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval, "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
