"""Fuzz cases for fastnn's public ops, each run beside torch on the same arguments (differential testing).

``differential(op, args, kwargs)`` runs in the fuzz worker: it builds the tensors the specs describe twice (a
fastnn one and a torch one from the same NumPy array), calls the op in both libraries and returns a small
verdict: what each did (value summary or exception type and message) and whether the values agree. The test
module (tests/test_fuzz_ops.py) classifies it; a crash or hang kills only the worker (fuzz_harness).

Op names: ``"T.add"`` (``fastnn.add`` / ``torch.add``), ``"F.max_pool2d"`` (``nn.functional``), ``"M.index_add_"``
(a method of the first argument), ``"O.Adam"`` (an optimizer built over the first argument's tensors as
parameters, then one ``step`` with fixed gradients), ``"N.Linear"`` (a module constructor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    """A tensor to build in both libraries: ``fill`` "randn" | "int:lo:hi" | "nan" | "inf" | "big" | "zeros";
    ``device`` is fastnn's (torch's twin always lives on the CPU: the emulated CUDA device is fastnn's only)."""

    shape: tuple
    dtype: str = "float32"
    fill: str = "randn"
    device: str = "cpu"
    seed: int = 0


@dataclass(frozen=True)
class ArraySpec:
    """A NumPy array where the op wants a Tensor: the non-Tensor argument torch refuses with a TypeError."""

    shape: tuple
    dtype: str = "float32"


def _array(spec) -> np.ndarray:
    rng = np.random.default_rng(spec.seed + 7919 * len(spec.shape) + sum(spec.shape))
    shape = tuple(spec.shape)
    if spec.fill.startswith("int:"):
        lo, hi = (int(v) for v in spec.fill.split(":")[1:])
        arr = rng.integers(lo, hi, size=shape) if hi > lo else np.full(shape, lo)
    elif spec.fill == "nan":
        arr = rng.standard_normal(shape)
        arr.flat[:: 3] = np.nan
    elif spec.fill == "inf":
        arr = rng.standard_normal(shape)
        arr.flat[:: 2] = np.inf
        arr.flat[1:: 4] = -np.inf
    elif spec.fill == "big":
        arr = rng.choice([-3.4e38, 3.4e38, 1e30], size=shape)
    elif spec.fill == "zeros":
        arr = np.zeros(shape)
    else:
        arr = rng.standard_normal(shape)
    if spec.dtype == "bool":
        return np.asarray(arr > 0)
    return np.asarray(arr).astype(spec.dtype)


def _build(value, lib: str):
    """The spec tree with each TensorSpec / ArraySpec made into a tensor of ``lib`` ("fastnn" or "torch")."""
    if isinstance(value, TensorSpec):
        arr = _array(value)
        if lib == "torch":
            import torch

            return torch.from_numpy(arr.copy())
        import fastnn

        return fastnn.tensor(arr, device=value.device)
    if isinstance(value, ArraySpec):
        return np.ones(value.shape, value.dtype)
    if isinstance(value, list):
        return [_build(v, lib) for v in value]
    if isinstance(value, tuple):
        return tuple(_build(v, lib) for v in value)
    if isinstance(value, dict):
        return {k: _build(v, lib) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("dtype:"):
        import fastnn
        import torch

        return getattr(fastnn if lib == "fastnn" else torch, value[6:])
    return value


def _resolve(op: str, lib: str, args):
    import fastnn
    import torch

    kind, _, name = op.partition(".")
    root = fastnn if lib == "fastnn" else torch
    if kind == "T":
        return getattr(root, name), args
    if kind == "F":
        return getattr(root.nn.functional, name), args
    if kind == "M":
        return getattr(args[0], name), args[1:]
    if kind == "N":
        return getattr(root.nn, name), args
    raise ValueError(f"unknown op kind {op!r}")


def _run_optimizer(op: str, lib: str, args, kwargs):
    import fastnn
    import torch

    root = fastnn if lib == "fastnn" else torch
    params = [root.nn.Parameter(t) for t in args[0]]
    opt = getattr(root.optim, op.partition(".")[2])(params, *args[1:], **kwargs)
    for i, p in enumerate(params):
        g = np.linspace(-1.0, 1.0, num=int(np.prod(p.shape)), dtype=np.float32).reshape(tuple(p.shape)) * (i + 1)
        p.grad = fastnn.tensor(g) if lib == "fastnn" else torch.from_numpy(g)
    opt.step()
    return [p.detach() for p in params]


def _call(op: str, lib: str, args, kwargs):
    args = _build(args, lib)
    kwargs = _build(kwargs, lib)
    if op.startswith("O."):
        return _run_optimizer(op, lib, args, kwargs)
    fn, rest = _resolve(op, lib, args)
    out = fn(*rest, **kwargs)
    if op.startswith("N."):  # a module: its parameters' shapes are the value to compare
        return [p.detach() for p in out.parameters()]
    return out


def _host(value):
    """Results as NumPy arrays / plain values (fastnn or torch), nested."""
    if hasattr(value, "detach") and hasattr(value, "shape"):
        v = value.detach()
        v = v.cpu() if hasattr(v, "cpu") else v
        return np.asarray(v.numpy())
    if isinstance(value, (list, tuple)):
        return [_host(v) for v in value]
    if hasattr(value, "shape") and not isinstance(value, np.ndarray) and hasattr(value, "__len__"):
        return tuple(value)
    return value


def _summary(value) -> object:
    if isinstance(value, np.ndarray):
        return (tuple(value.shape), str(value.dtype))
    if isinstance(value, list):
        return [_summary(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value if isinstance(value, (int, float, bool, str, type(None), tuple)) else type(value).__name__


def _same(a, b, exact_dtype: bool) -> str:
    """'' when fastnn's ``a`` matches torch's ``b``, else what differs."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"type {type(a).__name__} vs {type(b).__name__}"
        if a.shape != b.shape:
            return f"shape {a.shape} vs {b.shape}"
        if exact_dtype and a.dtype != b.dtype:
            return f"dtype {a.dtype} vs {b.dtype}"
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            af, bf = a.astype(np.float64), b.astype(np.float64)
            ok = np.isclose(af, bf, rtol=1e-3, atol=1e-4, equal_nan=True) | (np.isinf(af) & (af == bf))
            if not ok.all():
                return f"values differ at {int((~ok).sum())} of {a.size}"
            return ""
        return "" if np.array_equal(a, b) else "values differ"
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"length {len(a)} vs {len(b)}"
        for x, y in zip(a, b):
            why = _same(x, y, exact_dtype)
            if why:
                return why
        return ""
    if isinstance(a, float) and isinstance(b, float):
        return "" if (a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-3)) else \
            f"{a!r} vs {b!r}"
    return "" if a == b else f"{a!r} vs {b!r}"


def _attempt(op, lib, args, kwargs):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", _host(_call(op, lib, args, kwargs)))
    except Exception as exc:  # noqa: BLE001  (each library's exception is the datum compared)
        return ("error", type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc) else "")


def differential(op: str, args: tuple, kwargs: dict, compare: str = "values", with_torch: bool = True) -> dict:
    """Runs ``op`` in torch, then fastnn, on the same arguments. ``compare``: "values" (shape, dtype, values),
    "shape" (random ops: shape and dtype only), "none" (only whether each raised). ``with_torch=False`` runs
    fastnn alone (the test's second try after a hang, to tell torch's hangs from fastnn's: torch 2.13's
    max_pool1d with a 2**62 kernel never returns)."""
    if not with_torch:
        return {"torch": ("skipped",), "fastnn": _attempt(op, "fastnn", args, kwargs), "differs": ""}
    torch_result = _attempt(op, "torch", args, kwargs)
    fastnn_result = _attempt(op, "fastnn", args, kwargs)
    verdict = {"torch": torch_result if torch_result[0] == "error" else ("ok", _summary(torch_result[1])),
               "fastnn": fastnn_result if fastnn_result[0] == "error" else ("ok", _summary(fastnn_result[1])),
               "differs": ""}
    if torch_result[0] == fastnn_result[0] == "ok" and compare != "none":
        a, b = fastnn_result[1], torch_result[1]
        if compare == "shape":
            a, b = _summary(a), _summary(b)
        verdict["differs"] = _same(a, b, exact_dtype=True)
    return verdict


def device_mismatch(op: str, args: tuple, kwargs: dict) -> dict:
    """fastnn only (torch here has no CUDA): the op on a CPU and an emulated-CUDA tensor together."""
    return {"fastnn": _attempt(op, "fastnn", args, kwargs)}
