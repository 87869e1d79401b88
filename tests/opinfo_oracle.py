"""The OpInfo oracle: PyTorch's own op test samples, run through fastnn beside torch, forward and backward.

PyTorch ships its op test database inside the wheel (``torch.testing._internal.common_methods_invocations.op_db``):
one ``OpInfo`` per op, each able to generate sample inputs (odd shapes, size-1 and empty dims, non-contiguous
views, broadcasting, keyword variants). This module finds fastnn's callable for each OpInfo the way torch exposes
the op (``torch.<name>`` -> ``fastnn.<name>``, ``nn.functional.X`` -> ``fastnn.nn.functional.X``, ``linalg.X`` ->
``fastnn.linalg.X``, ``special.X`` -> ``fastnn.special.X``, Tensor-only ops -> ``fastnn.Tensor.<name>``), converts
every sample to fastnn tensors (same dtype, strides and ``requires_grad``), runs both, and compares outputs and the
gradients of ``sum(outputs * cotangent)`` with a fixed random cotangent.

Each sample (from ``op.sample_inputs``) lands in one class:
  pass         outputs (and gradients, where torch has them) match
  wrong        fastnn returned something different (shape, dtype, values, type, missing gradient)
  error        fastnn raised where torch did not
  unsupported  fastnn raised NotImplementedError, a TypeError about a dtype it does not implement, or the sample
               needs an argument fastnn has no equivalent of (``torch.layout``, a Generator, an int32 tensor while
               fastnn has no int32)
  skip         torch itself raised, or the sample holds complex / sparse / quantized tensors

Each of OpInfo's ``error_inputs`` (bad arguments torch refuses with a stated exception type) is run too:
'match' when fastnn raises that type, else 'wrong_type', 'no_raise' or 'unsupported'.

Run as a script: ``PYTHONPATH=python python tests/opinfo_oracle.py [--ops add,sum] [--json out.json]
[--max-samples 12] [--device cuda] [--update-baseline]``. ``tests/test_opinfo.py`` runs it under pytest against the
checked-in baseline ``tests/opinfo_baseline.json`` (per op, how many samples pass and how many error inputs raise
torch's type; an op may only gain).

``run(device="cuda")`` (``--device cuda``) runs the same samples with fastnn's tensors on that device: each torch CPU
tensor becomes a fastnn tensor on the device (same dtype, strides and ``requires_grad``), ``device`` arguments naming
the CPU name that device, and fastnn's outputs and gradients are copied to the host and compared with torch's CPU
results by the same rules. One more rule there: a tensor result of a sample with device inputs must itself be on the
device ('wrong' otherwise: a result that silently landed on the CPU). ``tests/test_opinfo_cuda.py`` ratchets it
against ``tests/opinfo_baseline_cuda.json`` (with ``CUDA_MAX_SAMPLES`` samples per op and dtype).
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np

BASELINE = Path(__file__).with_name("opinfo_baseline.json")
BASELINE_CUDA = Path(__file__).with_name("opinfo_baseline_cuda.json")
DEFAULT_MAX_SAMPLES = 12
CUDA_MAX_SAMPLES = DEFAULT_MAX_SAMPLES  # samples per op and dtype of the cuda run (the emulated device in CI)
CLASSES = ("pass", "wrong", "error", "unsupported", "skip")
SUMMARY_KEY = None  # set below: the pytest stash key tests/conftest.py prints in the terminal summary

# Namespaces of op_db names that fastnn mirrors; the others (fft, masked, signal, sparse, torch.ops...) are not
# looked up (fft has no real-only counterpart; the others are PyTorch internals).
NAMESPACES = {"": "fastnn", "nn.functional": "fastnn.nn.functional", "linalg": "fastnn.linalg",
              "special": "fastnn.special"}

# Ops whose results are random or uninitialised: only their shape and dtype are compared, never values or grads.
SHAPE_ONLY = {
    "bernoulli", "cauchy", "exponential", "geometric", "log_normal", "normal", "uniform", "multinomial",
    "rand_like", "randn", "randn_like", "randint", "randint_like", "empty", "empty_like", "empty_permuted",
    "empty_strided", "new_empty", "new_empty_strided", "nn.functional.dropout", "nn.functional.dropout2d",
    "nn.functional.dropout3d", "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout",
    "nn.functional.rrelu", "nn.functional.fractional_max_pool2d", "nn.functional.fractional_max_pool3d",
}

# Ops random only for some arguments: those samples compare shape and dtype only.
SHAPE_ONLY_IF = {
    "nn.functional.scaled_dot_product_attention": lambda s: bool(s.kwargs.get("dropout_p", 0)),
    "nn.functional.multi_head_attention_forward": lambda s: bool(s.kwargs.get("dropout_p", 0)) and
    s.kwargs.get("training", True),
}

# (op name, variant) -> reason: samples never run because fastnn would crash the process (a segfault cannot be
# caught). Keep each entry with its reason and report it; remove it once the crash is fixed.
CRASH_SKIPS: dict[tuple[str, str], str] = {}

# Dtypes a sample is generated in (when the op supports them). Float32 carries the gradients.
SAMPLE_DTYPES = ("float32", "int64", "bool")

# Tolerances for float32 against torch's float32 (different summation orders, different libm).
FWD_TOL = {"float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}
BWD_TOL = {"float32": (1e-3, 1e-4), "float64": (1e-6, 1e-8)}


# torch nn modules whose constructor argument is kept under another attribute name: {class: {arg: attribute}}.
MODULE_ATTRS = {"PairwiseDistance": {"p": "norm"}}


class Unconvertible(Exception):
    """A sample argument with no fastnn equivalent (an 'unsupported' sample)."""


class Skip(Exception):
    """A sample outside the oracle's scope (complex, sparse, quantized tensors)."""


try:
    import pytest
    SUMMARY_KEY = pytest.StashKey[list]()
except ImportError:  # the script runs without pytest
    pass


def _imports():
    import torch

    import fastnn
    import fastnn.nn.functional  # noqa: F401  (the namespace op names resolve into)
    return torch, fastnn


def load_op_db():
    """op_db itself (importing it costs a few seconds: it builds all of PyTorch's OpInfos)."""
    from torch.testing._internal import common_utils
    from torch.testing._internal.common_methods_invocations import op_db
    from torch.testing._internal.opinfo import core

    # Each sample_inputs() call crawls the Python stack (inspect.stack(), reading source files) looking for the
    # unittest.TestCase running it: a few ms outside pytest, ~0.1 s per call inside it (a deep stack). The
    # oracle never runs inside a TestCase, so the crawl's answer is always None: give it directly.
    common_utils.extract_test_fn = core.extract_test_fn = lambda: None
    return op_db


def op_key(op) -> str:
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def _namespace(name: str):
    """(fastnn module path, attribute) for an op_db name, or None for namespaces fastnn does not mirror."""
    ns, _, attr = name.rpartition(".")
    if ns not in NAMESPACES:
        return None
    return NAMESPACES[ns], attr


def _module(path: str):
    import importlib
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def _fastnn_attr(path: str, attr: str):
    mod = _module(path)
    obj = getattr(mod, attr, None) if mod is not None else None
    if obj is None or isinstance(obj, types.ModuleType) or not callable(obj):
        return None
    _, fastnn = _imports()
    if isinstance(obj, fastnn.dtype):  # fastnn.float / fastnn.bool are dtypes, as in torch
        return None
    return obj


def _rebind(fn, torch, fastnn):
    """OpInfo's lambda with the torch modules in its globals swapped for fastnn's (``x.T``, ``torch.where(...)``)."""
    swap = {torch: fastnn, torch.nn: fastnn.nn, torch.nn.functional: fastnn.nn.functional}
    for sub in ("linalg", "special"):
        mod = _module(f"fastnn.{sub}")
        if mod is not None:
            swap[getattr(torch, sub)] = mod
    g = dict(fn.__globals__)
    for k, v in fn.__globals__.items():
        if isinstance(v, types.ModuleType):
            for tm, fm in swap.items():
                if v is tm:
                    g[k] = fm
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def resolve(op):
    """(fastnn callable, how) for an OpInfo, or (None, reason) when fastnn has no such name."""
    torch, fastnn = _imports()
    where = _namespace(op.name)
    if where is None:
        return None, "namespace not mirrored"
    path, attr = where
    names = [attr] + [a.name.rpartition(".")[2] for a in op.aliases]
    if isinstance(op.op, types.FunctionType) and op.op.__name__ == "<lambda>":
        # OpInfo wraps Tensor-only ops (x.T, x.repeat(dims)) and argument reorderings in lambdas: run the same
        # lambda on fastnn tensors, provided fastnn has the name at all.
        has = any(_fastnn_attr(path, n) is not None for n in names) or (
            path == "fastnn" and any(hasattr(fastnn.Tensor, n) for n in names))
        return (_rebind(op.op, torch, fastnn), "lambda") if has else (None, "no such name")
    for n in names:
        fn = _fastnn_attr(path, n)
        if fn is not None:
            return fn, "function" if n == attr else f"alias {n}"
    if path == "fastnn" and op.method_variant is not None:
        for n in names:
            if callable(getattr(fastnn.Tensor, n, None)):
                # unbound, as OpInfo calls torch.Tensor.<name>: a non-tensor first argument must fail there too
                return (lambda x, *a, _f=getattr(fastnn.Tensor, n), **k: _f(x, *a, **k)), "method"
    return None, "no such name"


# ---- conversion torch -> fastnn -------------------------------------------------------------------------------
def _np_strided_copy(t):
    """A NumPy copy of a torch tensor's values with the same strides (so non-contiguous stays non-contiguous)."""
    a = t.detach().numpy()
    if a.size == 0 or a.flags.c_contiguous or any(s < 0 for s in a.strides):
        return a.copy()
    item = a.itemsize
    if any(s % item for s in a.strides):
        return a.copy()
    span = 1 + sum((n - 1) * s // item for n, s in zip(a.shape, a.strides))
    flat = np.lib.stride_tricks.as_strided(a, shape=(span,), strides=(item,)).copy()
    return np.lib.stride_tricks.as_strided(flat, shape=a.shape, strides=a.strides)


def _device_strided_copy(t, be):
    """``_np_strided_copy`` of a torch CPU tensor, on the device of backend ``be`` (strides kept: the span of
    the strided copy goes over, and the device array is viewed with the same strides)."""
    a = _np_strided_copy(t)
    if a.size == 0 or a.flags.c_contiguous:
        return be.from_host(a)
    item = a.itemsize
    span = 1 + sum((n - 1) * s // item for n, s in zip(a.shape, a.strides))
    flat = be.from_host(np.lib.stride_tricks.as_strided(a, shape=(span,), strides=(item,)).copy())
    return be.xp.lib.stride_tricks.as_strided(flat, shape=a.shape, strides=a.strides)


class Converter:
    """Converts one sample's torch objects to fastnn's, remembering tensor pairs (and aliasing) for backward.
    With ``device`` (a fastnn.device other than the CPU) tensors are made on that device and ``device``
    arguments naming the CPU name it; ``on_device`` says whether anything was put there."""

    def __init__(self, torch, fastnn, device=None):
        self.torch, self.fastnn = torch, fastnn
        self.pairs = {}  # id(torch tensor) -> (torch tensor, fastnn tensor)
        self.device = device
        self.be = None if device is None else _backend(device)
        self.on_device = False

    def tensor(self, arr):
        """A fastnn tensor of host array ``arr`` (a cotangent) on the converter's device."""
        if self.be is None:
            return self.fastnn.Tensor._wrap(arr)
        return self.fastnn.Tensor._wrap(self.be.from_host(arr))

    def dtype(self, d):
        name = str(d).rpartition(".")[2]
        fd = getattr(self.fastnn, name, None)
        if not isinstance(fd, self.fastnn.dtype):
            raise Unconvertible(f"dtype {name}")
        return fd

    def module(self, m):
        """fastnn.nn's module of the same class, built from the torch module's constructor arguments (read
        back from its attributes): for modules without parameters, buffers or children, such as the
        ``distance_function=nn.PairwiseDistance()`` some samples pass."""
        import inspect

        cls = type(m).__name__
        fcls = getattr(self.fastnn.nn, cls, None)
        if fcls is None or m._parameters or m._buffers or m._modules:
            raise Unconvertible(f"torch module argument {cls}()")
        kwargs = {}
        for name, p in inspect.signature(type(m).__init__).parameters.items():
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            attr = MODULE_ATTRS.get(cls, {}).get(name, name)
            if not hasattr(m, attr):
                raise Unconvertible(f"torch module argument {cls}(): no attribute holds its {name!r}")
            kwargs[name] = self(getattr(m, attr))
        f = fcls(**kwargs)
        f.train(m.training)
        return f

    def __call__(self, x):
        torch = self.torch
        if isinstance(x, torch.Tensor):
            if id(x) in self.pairs:
                return self.pairs[id(x)][1]
            if x.is_complex() or x.is_sparse or x.is_quantized or x.layout != torch.strided:
                raise Skip(f"{x.dtype} {x.layout} tensor")
            name = str(x.dtype).rpartition(".")[2]
            if not isinstance(getattr(self.fastnn, name, None), self.fastnn.dtype):
                raise Unconvertible(f"{name} tensor")  # a storage type fastnn does not have (yet)
            try:
                arr = _np_strided_copy(x) if self.be is None else _device_strided_copy(x, self.be)
            except Exception as e:  # NumPy refuses it (over 64 dims, a meta tensor): no fastnn form either
                raise Unconvertible(f"{name} tensor of shape {tuple(x.shape)}: {_exc(e)}") from e
            if self.be is not None:
                self.on_device = True
            ft = self.fastnn.Tensor._wrap(arr)
            if x.requires_grad:
                ft.requires_grad_(True)
            self.pairs[id(x)] = (x, ft)
            return ft
        if isinstance(x, torch.Size):
            return tuple(x)
        if isinstance(x, torch.dtype):
            return self.dtype(x)
        if isinstance(x, torch.device):
            return str(x) if self.device is None else self._device_arg(str(x))
        if self.device is not None and isinstance(x, str) and x == "cpu":
            return self._device_arg(x)
        if isinstance(x, (list, tuple)):
            out = [self(v) for v in x]
            return tuple(out) if isinstance(x, tuple) else out
        if isinstance(x, dict):
            return {k: self(v) for k, v in x.items()}
        if isinstance(x, torch.memory_format):
            fm = getattr(self.fastnn, str(x).rpartition(".")[2], None)
            if not isinstance(fm, self.fastnn.memory_format):
                raise Unconvertible(f"argument {x!r}")
            return fm
        if isinstance(x, (torch.layout, torch.Generator)):
            raise Unconvertible(f"argument {x!r}")
        if isinstance(x, torch.nn.Module):
            return self.module(x)
        if callable(x) and getattr(x, "__module__", "") and x.__module__.startswith("torch"):
            raise Unconvertible(f"torch callable argument {getattr(x, '__name__', x)}")
        return x

    def _device_arg(self, name: str):
        """A device argument of a sample generated on the CPU: the CPU is the converter's device."""
        if name != "cpu":
            return name
        self.on_device = True
        return str(self.device)


def _backend(device):
    from fastnn.backend import get_backend

    return get_backend(device)


def _host(f):
    """The values of fastnn tensor ``f`` as a host NumPy array (a copy for a device tensor)."""
    d = f.detach()
    return np.asarray(d.numpy()) if d.device.type == "cpu" else d.numpy(force=True)


# ---- comparison -------------------------------------------------------------------------------------------------
def _dtype_name(d) -> str:
    return str(d).rpartition(".")[2]


def _compare(t, f, tol, torch, fastnn, where="output", device=None) -> str | None:
    """None when fastnn's result ``f`` matches torch's ``t``, else the reason. With ``device``, a tensor ``f``
    must be on that device (its values are compared on the host)."""
    if isinstance(t, torch.Tensor) and t.layout != torch.strided and hasattr(f, "to_dense"):
        return _compare(t.to_dense(), f.to_dense(), tol, torch, fastnn, f"{where} (dense)", device)  # sparse
    if isinstance(t, torch.Tensor):
        if t._is_zerotensor():  # torch's symbolic zeros (sgn's gradient) have no NumPy view
            t = torch.zeros(t.shape, dtype=t.dtype)
        if not isinstance(f, fastnn.Tensor):
            return f"{where}: expected a Tensor, got {type(f).__name__}"
        if device is not None and f.device != device:
            return f"{where}: on {f.device}, expected {device}"
        if tuple(t.shape) != tuple(f.shape):
            return f"{where}: shape {tuple(f.shape)} != torch's {tuple(t.shape)}"
        if _dtype_name(t.dtype) != _dtype_name(f.dtype):
            return f"{where}: dtype {_dtype_name(f.dtype)} != torch's {_dtype_name(t.dtype)}"
        if tol is None:  # shape-only op
            return None
        if t.is_complex():
            return None
        ta = t.detach().numpy()
        fa = _host(f)
        if ta.dtype.kind in "biu":
            if not np.array_equal(ta, fa):
                bad = int(np.sum(ta != fa))
                return f"{where}: {bad} of {ta.size} values differ"
            return None
        rtol, atol = tol.get(ta.dtype.name, (1e-3, 1e-3))
        if not np.allclose(fa, ta, rtol=rtol, atol=atol, equal_nan=True):
            with np.errstate(invalid="ignore"):
                err = np.abs(fa.astype(np.float64) - ta.astype(np.float64))
                err = np.where(np.isnan(err) & (np.isnan(fa) == np.isnan(ta)), 0, err)
            return f"{where}: values differ (max abs err {np.nanmax(err) if err.size else 0:.3g})"
        return None
    if isinstance(t, (tuple, list)) and not isinstance(t, torch.Size):
        if not isinstance(f, (tuple, list)):
            return f"{where}: expected a sequence of {len(t)}, got {type(f).__name__}"
        if len(t) != len(f):
            return f"{where}: {len(f)} results != torch's {len(t)}"
        for i, (a, b) in enumerate(zip(t, f)):
            r = _compare(a, b, tol, torch, fastnn, f"{where}[{i}]", device)
            if r:
                return r
        return None
    if isinstance(t, torch.Size):
        return None if tuple(f) == tuple(t) else f"{where}: {tuple(f)} != torch's {tuple(t)}"
    if isinstance(t, torch.dtype):
        return None if _dtype_name(f) == _dtype_name(t) else f"{where}: {f} != torch's {t}"
    if isinstance(t, (bool, int, float)):
        if isinstance(f, fastnn.Tensor) or type(f) is not type(t):
            return f"{where}: expected a Python {type(t).__name__}, got {type(f).__name__}"
        if tol is None or t == f or (isinstance(t, float) and math.isnan(t) and math.isnan(f)):
            return None
        if isinstance(t, float) and math.isclose(t, f, rel_tol=1e-4, abs_tol=1e-5):
            return None
        return f"{where}: {f!r} != torch's {t!r}"
    if t is None:
        return None if f is None else f"{where}: expected None, got {type(f).__name__}"
    return None  # something the oracle does not compare (a string, a device)


def _flat_tensors(x, torch_or_fastnn_tensor):
    if isinstance(x, torch_or_fastnn_tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for v in x for t in _flat_tensors(v, torch_or_fastnn_tensor)]
    return []


def _classify_exception(e: BaseException) -> str:
    if isinstance(e, (NotImplementedError, Unconvertible)):
        return "unsupported"
    if isinstance(e, TypeError) and "dtype" in str(e) and ("support" in str(e) or "implemented" in str(e)):
        return "unsupported"
    return "error"


def _exc(e: BaseException) -> str:
    msg = str(e).split("\n")[0]
    return f"{type(e).__name__}: {msg[:160]}"


def run_sample(op, fn, sample, torch, fastnn, seed: int, dtype_name: str, device=None):
    """(class, reason) for one sample; with ``device``, fastnn runs it on that device."""
    key = op.name
    shape_only = key in SHAPE_ONLY
    conv = Converter(torch, fastnn, device)
    try:
        f_input = conv(sample.input)
        f_args = conv(sample.args)
        f_kwargs = conv(sample.kwargs)
    except Skip as e:
        return "skip", str(e)
    except Unconvertible as e:
        return "unsupported", f"argument: {e}"

    try:
        t_out = op.op(sample.input, *sample.args, **sample.kwargs)
    except Exception as e:
        return "skip", f"torch raised {_exc(e)}"
    try:
        f_out = fn(f_input, *f_args, **f_kwargs)
    except Exception as e:
        return _classify_exception(e), _exc(e)

    # OpInfo's output_process_fn_grad maps a result that is unique only up to a choice (eigenvectors' signs,
    # svd's U and V) to one that is unique: compare (and differentiate) that, as torch's own tests do.
    try:
        t_proc = sample.output_process_fn_grad(t_out)
    except Exception:
        t_proc = t_out
    f_proc = f_out
    if t_proc is not t_out:
        try:
            fp = sample.output_process_fn_grad
            f_proc = _rebind(fp, torch, fastnn)(f_out) if isinstance(fp, types.FunctionType) else fp(f_out)
        except Exception as e:
            return "error", f"output_process_fn_grad on fastnn's output: {_exc(e)}"
    if shape_only is False and key in SHAPE_ONLY_IF and SHAPE_ONLY_IF[key](sample):
        shape_only = True
    tol = None if shape_only else FWD_TOL
    on = device if conv.on_device else None  # where the results must be (None: not checked)
    reason = _compare(t_out, f_out, None, torch, fastnn, device=on) or _compare(t_proc, f_proc, tol, torch, fastnn)
    if reason and key in TIE_INDEX_DIM and _same_up_to_ties(key, sample, t_out, f_out, torch):
        reason = None
    if reason:
        return "wrong", reason
    if shape_only:
        return "pass", ""

    # ---- backward ----
    t_leaves = [(t, f) for t, f in conv.pairs.values() if t.requires_grad]
    if not t_leaves:
        return "pass", ""
    t_outs = _flat_tensors(t_proc, torch.Tensor)
    f_outs = _flat_tensors(f_proc, fastnn.Tensor)
    if len(f_outs) != len(t_outs):
        return "wrong", f"backward: {len(f_outs)} tensor outputs != torch's {len(t_outs)}"
    diff = [(t, f) for t, f in zip(t_outs, f_outs) if t.requires_grad and t.dtype.is_floating_point]
    if not diff:
        return "pass", ""
    rng = np.random.default_rng(seed)
    cts = [rng.standard_normal(tuple(t.shape)).astype(_dtype_name(t.dtype)) for t, _ in diff]
    t_ins = [t for t, _ in t_leaves]
    try:
        t_grads = torch.autograd.grad([t for t, _ in diff], t_ins, [torch.from_numpy(c.copy()) for c in cts],
                                      allow_unused=True)
    except Exception as e:
        return "skip", f"torch backward raised {_exc(e)}"
    for i, (t, f) in enumerate(diff):
        if not f.requires_grad:
            return "wrong", f"backward: output {i} does not require grad"
    f_ins = [f for _, f in t_leaves]
    try:
        f_grads = fastnn.autograd.grad([f for _, f in diff], f_ins, [conv.tensor(c) for c in cts],
                                       allow_unused=True)
    except Exception as e:
        return _classify_exception(e), f"backward: {_exc(e)}"
    for i, (tg, fg) in enumerate(zip(t_grads, f_grads)):
        if tg is None or fg is None:
            other = fg if tg is None else tg
            if other is not None and not (tg is not None and tg._is_zerotensor()) and \
                    bool(np.any((other.detach().numpy() if fg is None else _host(other)) != 0)):
                return "wrong", f"grad[{i}]: {'torch' if tg is None else 'fastnn'} has none, the other is nonzero"
            continue
        r = _compare(tg, fg, BWD_TOL, torch, fastnn, f"grad[{i}]", device)
        if r:
            if "values differ" in r and dtype_name == "float32":
                # An ill-conditioned gradient (layer_norm over one element is rstd * rounding noise) differs
                # by more than float32's tolerance between any two implementations: the same sample in float64
                # tells a wrong gradient from a noisy one.
                cls, why = run_sample(op, fn, _as_float64(sample, torch), torch, fastnn, seed, "float64", device)
                return (cls, why) if cls != "pass" else ("pass", "")
            return "wrong", r
    return "pass", ""


# Selection ops whose index output is unspecified among equal values (torch's CPU sort with stable=False,
# topk, kthvalue and mode pick one of the tied positions by their C++ library's algorithm): op name -> where
# its dim argument sits (position in sample.args, default). Their indices are compared by what they select.
TIE_INDEX_DIM = {"sort": (0, -1), "argsort": (0, -1), "msort": (None, 0), "topk": (1, -1), "kthvalue": (1, -1),
                 "mode": (0, -1)}


def _same_up_to_ties(key, sample, t_out, f_out, torch) -> bool:
    """Whether fastnn's indices pick values equal to torch's picks (the values outputs already matched or
    not, separately): a sort's indices must still be a permutation of each line."""
    if getattr(sample.kwargs, "get", None) and sample.kwargs.get("stable"):
        return False  # a stable sort's order is specified
    pos, default = TIE_INDEX_DIM[key]
    dim = sample.kwargs.get("dim", sample.args[pos] if pos is not None and len(sample.args) > pos else default)
    x = sample.input.detach()
    if x.dim() == 0:
        return False
    t_idx = t_out if isinstance(t_out, torch.Tensor) else t_out[1]
    f_idx = f_out if not isinstance(f_out, (tuple, list)) else f_out[1]
    if not isinstance(t_idx, torch.Tensor) or t_idx.dtype != torch.int64:
        return False
    if not isinstance(t_out, torch.Tensor):  # the values output must agree exactly
        if not torch.equal(t_out[0].detach(), torch.from_numpy(_host(f_out[0]))):
            return False
    fi = torch.from_numpy(_host(f_idx).copy())
    ti = t_idx
    if ti.dim() < x.dim():  # kthvalue/mode without keepdim
        ti, fi = ti.unsqueeze(dim), fi.unsqueeze(dim)
    if fi.shape != ti.shape or bool(((fi < 0) | (fi >= max(x.shape[dim], 1))).any()):
        return False
    picked_t = torch.take_along_dim(x, ti, dim)
    picked_f = torch.take_along_dim(x, fi, dim)
    if not torch.equal(picked_t, picked_f):
        return False
    if key in ("sort", "argsort", "msort") and fi.numel():  # each line's indices must be a permutation
        return torch.equal(fi.sort(dim).values, ti.sort(dim).values)
    return True


def _as_float64(sample, torch):
    def f(t):
        if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
            return t.detach().to(torch.float64).requires_grad_(t.requires_grad)
        return t
    return sample.transform(f)


def _dtypes_for(op, torch):
    supported = op.supported_dtypes("cpu")
    return [d for d in SAMPLE_DTYPES if getattr(torch, d) in supported]


def run_op(op, fn, torch, fastnn, max_samples: int, device=None):
    """Per-op counts and the first reasons of each failing class (fastnn on ``device``: None is the CPU)."""
    counts = dict.fromkeys(CLASSES, 0)
    reasons: dict[str, dict[str, int]] = {c: {} for c in CLASSES if c != "pass"}
    crash = CRASH_SKIPS.get((op.name, op.variant_test_name))
    if crash:
        return {"counts": counts, "reasons": reasons, "crash_skip": crash}
    idx = 0
    for dname in _dtypes_for(op, torch):
        dt = getattr(torch, dname)
        grad = dname in ("float32", "float64")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples = list(itertools.islice(op.sample_inputs("cpu", dt, requires_grad=grad), max_samples))
        except Exception as e:
            reasons["skip"][f"sample_inputs({dname}) raised {_exc(e)}"] = 1
            continue
        for sample in samples:
            idx += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    cls, why = run_sample(op, fn, sample, torch, fastnn, seed=idx, dtype_name=dname, device=device)
                except Exception as e:  # the oracle's own failure on an odd sample: an error, never a crash
                    cls, why = "error", f"oracle: {_exc(e)}"
            counts[cls] += 1
            if cls != "pass":
                r = f"[{dname}] {why}"
                reasons[cls][r] = reasons[cls].get(r, 0) + 1
    return {"counts": counts, "reasons": reasons}


ERROR_CLASSES = ("match", "wrong_type", "no_raise", "unsupported")


def run_error_inputs(op, fn, torch, fastnn, max_samples: int, device=None):
    """OpInfo's error_inputs (bad arguments torch refuses with a stated exception type): does fastnn raise
    that type too? 'match', 'wrong_type', 'no_raise', or 'unsupported' (the argument has no fastnn form, or
    fastnn raised NotImplementedError)."""
    counts = dict.fromkeys(ERROR_CLASSES, 0)
    reasons: dict[str, int] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eis = list(itertools.islice(op.error_inputs("cpu"), max_samples))
    except Exception:  # an op without error_inputs, or one whose generator needs CUDA
        return {"counts": counts, "reasons": reasons}
    for ei in eis:
        s = ei.sample_input
        conv = Converter(torch, fastnn, device)
        try:
            if "out" in s.kwargs:  # fastnn has no out= (its misuse is what these inputs test)
                raise Unconvertible("out=")
            args = conv(s.input), conv(s.args), conv(s.kwargs)
        except (Skip, Unconvertible):
            counts["unsupported"] += 1
            continue
        got = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(args[0], *args[1], **args[2])
            except Exception as e:
                got = e
        want = ei.error_type.__name__
        if got is None:
            cls, why = "no_raise", f"expected {want}, fastnn raised nothing"
        elif isinstance(got, ei.error_type):
            cls, why = "match", ""
        elif isinstance(got, NotImplementedError):
            cls, why = "unsupported", _exc(got)
        else:
            cls, why = "wrong_type", f"expected {want}, got {_exc(got)}"
        counts[cls] += 1
        if why:
            reasons[why] = reasons.get(why, 0) + 1
    return {"counts": counts, "reasons": reasons}


@contextlib.contextmanager
def _eager_device_seeds(torch):
    """``torch.manual_seed`` (each ``sample_inputs`` call seeds) also seeds torch's cuda/xpu/mtia generators;
    for a device torch has not initialised it queues the call with ``traceback.format_stack()``, three stack
    crawls per seed: half the oracle's time under pytest's deep stack. Torch's devices stay unused here, so
    for the run their seeding applies only to an initialised device (as it would anyway), queuing nothing."""
    saved = []
    for name in ("cuda", "xpu", "mtia"):
        mod = getattr(torch, name, None)
        seed_all, initialized = getattr(mod, "manual_seed_all", None), getattr(mod, "is_initialized", None)
        if seed_all is None or initialized is None:
            continue

        def eager(seed, _seed_all=seed_all, _initialized=initialized):
            if _initialized():
                _seed_all(seed)

        saved.append((mod, seed_all))
        mod.manual_seed_all = eager
    try:
        yield
    finally:
        for mod, seed_all in saved:
            mod.manual_seed_all = seed_all


def run(ops: list[str] | None = None, max_samples: int = DEFAULT_MAX_SAMPLES, op_db=None, progress=False,
        device="cpu"):
    """Runs the oracle with fastnn's tensors on ``device`` (torch always on the CPU); returns {"ops": {key:
    {...}}, "unmatched": [...], "names": n, "matched_names": n, "device": str, ...}."""
    torch, _ = _imports()
    with _eager_device_seeds(torch):
        return _run(ops, max_samples, op_db, progress, device)


def _run(ops, max_samples, op_db, progress, device):
    torch, fastnn = _imports()
    dev = fastnn.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = _backend(dev).device  # "cuda" names the current device: compare with its index
    on = None if dev.type == "cpu" else dev
    torch.manual_seed(0)
    t0 = time.perf_counter()
    op_db = load_op_db() if op_db is None else op_db
    t_import = time.perf_counter() - t0
    results, unmatched = {}, {}
    names = {op.name for op in op_db}
    matched_names = set()
    for op in op_db:
        key = op_key(op)
        if ops and key not in ops and op.name not in ops:
            continue
        fn, how = resolve(op)
        if fn is None:
            unmatched[key] = how
            continue
        matched_names.add(op.name)
        if progress:
            print(f"  {key} ...", file=sys.stderr, flush=True)
        torch.manual_seed(0)
        t_op = time.perf_counter()
        r = run_op(op, fn, torch, fastnn, max_samples, on)
        r["how"] = how
        r["error_inputs"] = ({"counts": dict.fromkeys(ERROR_CLASSES, 0), "reasons": {}} if r.get("crash_skip")
                             else run_error_inputs(op, fn, torch, fastnn, max_samples, on))
        r["seconds"] = time.perf_counter() - t_op
        results[key] = r
    totals = dict.fromkeys(CLASSES, 0)
    error_totals = dict.fromkeys(ERROR_CLASSES, 0)
    for r in results.values():
        for c in CLASSES:
            totals[c] += r["counts"][c]
        for c in ERROR_CLASSES:
            error_totals[c] += r["error_inputs"]["counts"][c]
    return {"device": str(dev), "names": len(names), "matched_names": len(matched_names), "entries": len(op_db),
            "matched_entries": len(results), "max_samples": max_samples, "totals": totals,
            "error_totals": error_totals, "ops": results,
            "unmatched": unmatched, "seconds": time.perf_counter() - t0, "op_db_import_seconds": t_import}


def table(report) -> str:
    cols = ("samples", "pass", "wrong", "error", "unsupported", "skip", "err_inputs", "err_match")
    rows = []
    width = max([len(k) for k in report["ops"]] + [5])
    rows.append(f"{'op':<{width}} " + " ".join(f"{c:>11}" for c in cols))

    def row(name, c, e, mark=""):
        vals = (sum(c.values()), *(c[k] for k in CLASSES), sum(e.values()), e["match"])
        return f"{name:<{width}} " + " ".join(f"{v:>11}" for v in vals) + mark

    for key in sorted(report["ops"]):
        r = report["ops"][key]
        mark = "  CRASH-SKIPPED" if r.get("crash_skip") else ""
        rows.append(row(key, r["counts"], r["error_inputs"]["counts"], mark))
    rows.append(row("TOTAL", report["totals"], report["error_totals"]))
    return "\n".join(rows)


def summary(report) -> str:
    t = report["totals"]
    n = sum(t.values())
    compared = n - t["skip"]
    where = "" if report.get("device", "cpu") == "cpu" else f" on {report['device']}"
    return (f"OpInfo oracle{where}: {report['matched_names']} of {report['names']} op_db names matched "
            f"({report['matched_entries']} of {report['entries']} OpInfos); {n} samples: {t['pass']} pass "
            f"({100 * t['pass'] / max(compared, 1):.1f}% of {compared} compared), {t['wrong']} wrong, "
            f"{t['error']} error, {t['unsupported']} unsupported, {t['skip']} skip; error_inputs: "
            f"{report['error_totals']['match']} of {sum(report['error_totals'].values())} raise torch's type; "
            f"{report['seconds']:.1f} s (op_db import {report['op_db_import_seconds']:.1f} s)")


def failures(report) -> str:
    lines = []
    for key in sorted(report["ops"]):
        r = report["ops"][key]
        if r.get("crash_skip"):
            lines.append(f"{key}: CRASH-SKIPPED: {r['crash_skip']}")
        for cls in ("wrong", "error", "unsupported"):
            for why, n in sorted(r["reasons"][cls].items(), key=lambda kv: -kv[1]):
                lines.append(f"{key}: {cls} x{n}: {why}")
        for why, n in sorted(r["error_inputs"]["reasons"].items(), key=lambda kv: -kv[1]):
            lines.append(f"{key}: error_input x{n}: {why}")
    return "\n".join(lines)


def baseline_of(report) -> dict[str, dict[str, int]]:
    """Per op, the samples that pass and the error inputs that raise torch's exception type."""
    ops = sorted(report["ops"].items())
    return {"samples_pass": {k: r["counts"]["pass"] for k, r in ops},
            "error_inputs_match": {k: r["error_inputs"]["counts"]["match"] for k, r in ops if
                                   r["error_inputs"]["counts"]["match"]}}


def regressions(report, baseline) -> list[str]:
    """Ops passing fewer samples (or matching fewer error inputs) than the baseline says they did; an op the
    run no longer has counts as 0."""
    out = []
    for key, want in sorted(baseline["samples_pass"].items()):
        got = report["ops"].get(key, {"counts": {"pass": 0}})["counts"]["pass"]
        if got < want:
            out.append(f"{key}: {got} samples pass, baseline {want}")
    for key, want in sorted(baseline["error_inputs_match"].items()):
        got = report["ops"].get(key, {"error_inputs": {"counts": {"match": 0}}})["error_inputs"]["counts"]["match"]
        if got < want:
            out.append(f"{key}: {got} error inputs raise torch's exception type, baseline {want}")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ops", help="comma-separated op names (or name.variant) to run; default all matched")
    p.add_argument("--json", help="write the full report here")
    p.add_argument("--max-samples", type=int, default=None,
                   help=f"samples per op per dtype (default {DEFAULT_MAX_SAMPLES}; {CUDA_MAX_SAMPLES} on cuda)")
    p.add_argument("--device", default="cpu", help="the device of fastnn's tensors (cpu, cuda, cuda:1)")
    p.add_argument("--failures", action="store_true", help="print every failing sample's reason")
    p.add_argument("--unmatched", action="store_true", help="list op_db names fastnn lacks")
    p.add_argument("--progress", action="store_true", help="print each op's name as it starts (finds crashes)")
    p.add_argument("--update-baseline", action="store_true",
                   help=f"rewrite {BASELINE.name} ({BASELINE_CUDA.name} with --device cuda) from this run")
    a = p.parse_args(argv)
    ops = set(a.ops.split(",")) if a.ops else None
    cuda = a.device != "cpu"
    default_max = CUDA_MAX_SAMPLES if cuda else DEFAULT_MAX_SAMPLES
    max_samples = default_max if a.max_samples is None else a.max_samples
    report = run(ops, max_samples, progress=a.progress, device=a.device)
    print(table(report))
    if a.failures:
        print("\n" + failures(report))
    if a.unmatched:
        print("\nunmatched: " + ", ".join(sorted(report["unmatched"])))
    print(summary(report))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1, sort_keys=True))
    if a.update_baseline:
        if ops or max_samples != default_max or a.device not in ("cpu", "cuda"):
            print("--update-baseline needs the full default run (no --ops / --max-samples; cpu or cuda)",
                  file=sys.stderr)
            return 2
        path = BASELINE_CUDA if cuda else BASELINE
        path.write_text(json.dumps(baseline_of(report), indent=1, sort_keys=True) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
