"""Top-level torch functions that are about the runtime rather than about tensors' values: default dtype,
printing, inference mode, ``compile``, determinism and matmul-precision switches, small predicates."""
from __future__ import annotations

import functools
import threading

import numpy as _np

from . import dtypes
from ._printing import set_printoptions
from ._tensor import Tensor
from .autograd.grad_mode import _GradMode, is_grad_enabled
from .random import initial_seed

__all__ = ["compile", "get_default_dtype", "inference_mode", "is_floating_point", "is_inference_mode_enabled",
           "is_nonzero", "is_tensor", "numel", "set_default_dtype", "set_default_tensor_type", "set_printoptions",
           "set_float32_matmul_precision", "get_float32_matmul_precision", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled", "initial_seed", "finfo", "iinfo"]


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:  # noqa: A002  (torch's name)
    return input.is_floating_point()


def is_nonzero(input: Tensor) -> bool:  # noqa: A002
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous" if input.numel() else
                           "Boolean value of Tensor with no values is ambiguous")
    return bool(input.item())


def numel(input: Tensor) -> int:  # noqa: A002
    return input.numel()


def get_default_dtype() -> dtypes.dtype:
    return dtypes.default_float


def set_default_dtype(d) -> None:
    """The float dtype of Python floats and of creation without ``dtype=`` (float32 or float64 in effect;
    float16 is accepted as torch accepts it)."""
    dt = dtypes.to_dtype(d)
    if not dt.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    dtypes.default_float = dt


def set_default_tensor_type(t) -> None:
    """Deprecated in torch; accepts the float legacy types (``torch.FloatTensor``, ``'torch.DoubleTensor'``)."""
    from .legacy_types import resolve

    set_default_dtype(resolve(t))


class inference_mode(_GradMode):
    """``torch.inference_mode(mode=True)``: a context manager and decorator. fastnn has no separate
    inference tensors: inside, graph recording is off, exactly as under ``no_grad`` (what inference mode
    guarantees about results); torch additionally refuses to let such tensors into autograd later."""

    def __init__(self, mode: bool = True):
        if callable(mode) and not isinstance(mode, bool):  # used bare as @inference_mode
            raise TypeError("inference_mode: use it as @fastnn.inference_mode() (with parentheses)")
        self._mode = not mode

    def __enter__(self):
        _inference.depth = getattr(_inference, "depth", 0) + (not self._mode)
        return super().__enter__()

    def __exit__(self, *exc):
        _inference.depth -= (not self._mode)
        return super().__exit__(*exc)

    def __call__(self, fn):
        mode = not self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


_inference = threading.local()  # per thread, as torch's (and as grad mode): another thread's block is not ours


def is_inference_mode_enabled() -> bool:
    return getattr(_inference, "depth", 0) > 0 and not is_grad_enabled()


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor", mode=None,  # noqa: A001
            options=None, disable: bool = False):
    """``torch.compile``: returns ``model`` (a function or Module) unchanged. fastnn runs eagerly and has no
    graph compiler; compile's contract is that the compiled callable gives the same results, which the
    original does. Usable as ``@torch.compile`` and ``@torch.compile(mode=...)``."""
    if model is None:
        return lambda m: m
    if not callable(model):
        raise RuntimeError(f"compile: expected a callable (function or Module), got {type(model).__name__}")
    return model


_matmul_precision = "highest"
_deterministic = False


def set_float32_matmul_precision(precision: str) -> None:
    """'highest', 'high' or 'medium'. 'high' / 'medium' permit TF32 for float32 products, as in torch: they
    are ``backends.cuda.matmul.allow_tf32`` (True), which the CUDA GEMM honours on sm_80+ GPUs. The CPU and
    the emulated CUDA device always compute float32 in float32, which every setting permits."""
    global _matmul_precision
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision: {precision!r}; expected 'highest', 'high' or 'medium'")
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """fastnn's CPU kernels are deterministic already (fixed reduction orders, independent of thread count),
    so the flag only records the request, as ``are_deterministic_algorithms_enabled`` reports it."""
    global _deterministic
    _deterministic = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic


class finfo:
    """``torch.finfo(dtype=None)``: the limits of a float dtype (the default dtype when not given)."""

    def __init__(self, type=None):  # noqa: A002  (torch's name)
        dt = dtypes.default_float if type is None else dtypes.to_dtype(type)
        if not dt.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        self.dtype = dt.name
        if dt is dtypes.bfloat16:  # NumPy has no finfo of it: float32's range with 8 significant bits
            self.bits, self.eps, self.max = 16, 2.0 ** -7, (2.0 - 2.0 ** -7) * 2.0 ** 127
            self.min, self.tiny = -self.max, 2.0 ** -126
            self.smallest_normal, self.resolution = self.tiny, 0.01  # resolution 10**-floor(8 * log10(2))
            return
        info = _np.finfo(dt.np)
        self.bits = info.bits
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(str(info.resolution))  # 1e-06, not its float32 rounding (as torch)

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """``torch.iinfo(dtype)``: the limits of an integer dtype."""

    def __init__(self, type):  # noqa: A002
        dt = dtypes.to_dtype(type)
        if dt.is_floating_point or dt is dtypes.bool_:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                            "'torch.iinfo'")
        info = _np.iinfo(dt.np)
        self.bits, self.max, self.min, self.dtype = info.bits, int(info.max), int(info.min), dt.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
