"""torch.amp: ``autocast`` and ``GradScaler``, answered honestly for a library without reduced-precision kernels.

``autocast``: CPU autocast to bfloat16 (torch's CPU default) is torch's: inside the region, matmul / linear /
convolutions / scaled_dot_product_attention compute on bf16-rounded inputs with float32 sums and return bfloat16;
losses and the other float32-policy ops run in float32; the rest run in their inputs' dtype (``amp_state``
holds the thread-local state, the casts and the lists). ``enabled=False`` and autocast on a CUDA device while
CUDA is unavailable (torch warns "Disabling autocast") run the body unchanged; with a CUDA device, an enabled
autocast raises NotImplementedError (the CUDA backend has no reduced-precision kernels), as does CPU float16
(no float16 kernels); CPU autocast to float32 is not a dtype torch supports: torch warns and disables, as here.

``GradScaler`` is torch's algorithm (scale the loss, unscale the gradients, skip a step whose gradients are
not finite, grow/back off the scale). On 'cpu' it is enabled, as in torch 2.13; on 'cuda' without CUDA it
warns and disables itself, and disabled it passes everything through (``scale(loss)`` is ``loss``).
"""
from __future__ import annotations

import functools
import warnings

from . import amp_state as _state
from . import dtypes
from ._tensor import Tensor
from .autograd.grad_mode import no_grad
from .backend import backend_of
from .cuda import is_available as _cuda_available

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype"]

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
        if self.fast_dtype is None and device_type == "cpu":  # torch: the device's current autocast dtype
            self.fast_dtype = _state.STATE.dtype
        self._enabled = bool(enabled)
        self._cache_enabled = _state.STATE.cache_enabled if cache_enabled is None else bool(cache_enabled)
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
            if self.fast_dtype is dtypes.float16:
                raise NotImplementedError("autocast('cpu', dtype=float16): fastnn has no float16 compute kernels "
                                          "to autocast into; pass enabled=False or drop the autocast region")
            if self.fast_dtype is not dtypes.bfloat16:
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                              UserWarning, stacklevel=2)
                self._enabled = False

    def __enter__(self):
        if self.device != "cpu":
            return self  # CUDA autocast that reaches here is disabled (see __init__)
        st = _state.STATE
        self._prev = (st.enabled, st.dtype, st.cache_enabled)
        st.nesting += 1
        st.enabled = self._enabled
        if self._enabled:
            st.dtype = self.fast_dtype
        st.cache_enabled = self._cache_enabled
        if st.enabled != self._prev[0]:
            _state.bump(1 if st.enabled else -1)
        return self

    def __exit__(self, *exc):
        if self.device != "cpu":
            return False
        st = _state.STATE
        st.nesting -= 1
        if st.nesting == 0:  # torch clears the cast cache when the outermost region ends
            st.cache.clear()
        was = st.enabled
        st.enabled, st.dtype, st.cache_enabled = self._prev
        if st.enabled != was:
            _state.bump(1 if st.enabled else -1)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)

        return wrapper


def _check_device(device_type) -> str:
    if not isinstance(device_type, str):
        raise TypeError(f"expected a device type string, got {type(device_type).__name__}")
    return device_type


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """torch's: no argument asks about CUDA (never enabled here); 'cpu' reads this thread's state."""
    if device_type is None or _check_device(device_type) != "cpu":
        return False
    return _state.STATE.enabled


def get_autocast_dtype(device_type: str):
    if _check_device(device_type) == "cpu":
        return _state.STATE.dtype
    return dtypes.float16


def set_autocast_enabled(device_type: str, enabled: bool) -> None:
    if _check_device(device_type) != "cpu":
        if enabled:
            raise NotImplementedError("fastnn has no CUDA autocast")
        return
    st = _state.STATE
    if bool(enabled) != st.enabled:
        _state.bump(1 if enabled else -1)
    st.enabled = bool(enabled)


def set_autocast_dtype(device_type: str, dtype) -> None:
    if _check_device(device_type) == "cpu":
        _state.STATE.dtype = dtypes.to_dtype(dtype)


def is_autocast_cache_enabled() -> bool:
    return _state.STATE.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _state.STATE.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    _state.STATE.cache.clear()


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
