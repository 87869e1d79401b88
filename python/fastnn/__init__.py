"""fastnn: a small, fast deep-learning library: tensors with reverse-mode autograd over native kernels."""
from __future__ import annotations

__version__ = "0.1.0"

import importlib

try:
    from .backend import native as _native  # loads fastnn._C (its ISA check runs now)
except ModuleNotFoundError as e:  # pragma: no cover - only reachable from a source tree or broken install
    raise ImportError(f"fastnn's native module failed to load ({e}); reinstall with `pip install .`") from e

# Tensor first: autograd, ops and creation import it at their top, and _tensor imports them at its end.
from ._tensor import Size, Tensor
from . import autograd, cuda, dtypes, ops
from ._runtime import config, get_num_threads, set_num_threads
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full, full_like, linspace,
                       ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros,
                       zeros_like)
from ._device import device
from .dtypes import bool_ as bool  # noqa: A001
from .dtypes import double, dtype, float32, float64, int64, long
from .dtypes import float as float  # noqa: A001,PLC0414
from .ops import (  # noqa: A004  (abs, max, min, pow, sum ... shadow builtins, as in torch)
    abs, add, all, amax, amin, any, argmax, argmin, bmm, cat, chunk, clamp, clone, conv2d, div, eq, exp,
    flatten, ge, gelu, gt, index_select, isfinite, isnan, le, leaky_relu, linear, log, log_softmax,
    logsumexp, lt, masked_fill, matmul, max, maximum, mean, min, minimum, mm, mul, narrow, ne, neg,
    permute, pow, prod, relu, reshape, sigmoid, sign, softmax, split, sqrt, squeeze, stack, std,
    sub, sum, tanh, transpose, unbind, unsqueeze, var, where)
from .ops import avg_pool2d, cos, cross_entropy, erf, layer_norm, log1p, max_pool2d, sin
from .ops.attention import scaled_dot_product_attention
from .random import get_rng_state, manual_seed, seed, set_rng_state
from . import data, datasets, metrics, nn, optim
from .io import load, save

clip = clamp
true_divide = div
relu_ = Tensor.relu_  # torch.relu_(x): the in-place ReLU (autograd/inplace.py)


def __getattr__(name: str):
    # fastnn.keras is imported on first use: PyTorch-style programs do not pay its ~4 ms at start-up.
    if name == "keras":
        return importlib.import_module(".keras", __name__)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
