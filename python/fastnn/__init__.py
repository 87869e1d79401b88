"""fastnn: a small, fast deep-learning library: tensors with reverse-mode autograd over native kernels."""
from __future__ import annotations

__version__ = "0.1.0"

import importlib
import sys as _sys

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
from .ops.arg_checks import OutOfMemoryError
from .ops.attention import scaled_dot_product_attention
from .ops import (atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, broadcast_to,
                  column_stack, concat, concatenate, dstack, flip, fliplr, flipud, hstack, meshgrid, moveaxis, movedim,
                  narrow_copy, ravel, repeat_interleave, roll, rot90, row_stack, select, swapaxes, swapdims, take,
                  tile, vstack)
from .ops import (gather, index_add, index_copy, index_fill, index_put, masked_scatter, masked_select, scatter,
                  scatter_add, scatter_reduce, take_along_dim)
from .ops import argwhere, bucketize, isin, nonzero, searchsorted
from .ops import diag, diag_embed, diagflat, diagonal, trace, tril, tril_indices, triu, triu_indices
from .ops import (adjoint, alias_copy, block_diag, cartesian_prod, combinations, diagonal_copy, diagonal_scatter,
                  dsplit, expand_copy, hsplit, index_reduce, nonzero_static, permute_copy, put, select_scatter,
                  slice_scatter, split_with_sizes, squeeze_copy, t_copy, tensor_split, transpose_copy, unbind_copy,
                  unfold_copy, unravel_index, unsafe_chunk, unsafe_split, unsqueeze_copy, view_copy, vsplit)
from .ops.searching import where  # noqa: F811  (one-argument where = nonzero(as_tuple=True); 3 args as before)
from . import return_types
from .ops.sorting import (argsort, kthvalue, median, mode, msort, multinomial, nanmedian, nanquantile, quantile,
                          sort, topk, unique, unique_consecutive)
from .ops.binary_math import (  # noqa: A004
    addcdiv, addcmul, allclose, arctan2, atan2, clamp_max, clamp_min, copysign, divide, equal, float_power,
    floor_divide, fmax, fmin, fmod, heaviside, hypot, isclose, lerp, logaddexp, logaddexp2, remainder, xlogy)
from .ops.binary_math import div  # noqa: F811  (div with rounding_mode=, over arithmetic's true division)
from .ops.cumulative import cummax, cummin, cumprod, cumsum, logcumsumexp
from .ops.norms import norm
from .ops.rounding import (  # noqa: A004
    bitwise_left_shift, bitwise_right_shift, ceil, fix, floor, frac, isinf, isneginf, isposinf, isreal, logical_and,
    logical_or, logical_xor, nan_to_num, negative, positive, round, sgn, signbit, trunc)
from .ops.arithmetic import bitwise_and, bitwise_not, bitwise_or, bitwise_xor, logical_not
from .ops.special_math import digamma, erfc, erfinv, i0, lgamma, logit
from .ops.stats import aminmax, count_nonzero, nanmean, nansum, std_mean, var_mean
from .ops.trig import (
    acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctanh, asin, asinh, atan, atanh, cosh, deg2rad, exp2,
    expm1, log2, log10, rad2deg, reciprocal, rsqrt, sinc, sinh, square, tan)
from .ops.binary_math import rsub
from .ops.complex_parts import angle, conj, conj_physical, imag, real, resolve_conj, resolve_neg
from .ops.float_bits import frexp, gcd, lcm, ldexp, nextafter
from .ops.integrate import cumulative_trapezoid, trapezoid, trapz
from .ops.norms import dist, renorm
from .ops.special_math import mvlgamma, polygamma
from . import special
from .ops import conv1d, conv_transpose1d, conv_transpose2d
from .ops import conv3d, conv_transpose3d
from .ops import group_norm, rms_norm  # torch.instance_norm has another (all-positional) signature: F only
from .ops import adaptive_avg_pool1d, avg_pool1d, max_pool1d
from .ops import bilinear, pixel_shuffle, pixel_unshuffle
from .random import get_rng_state, manual_seed, seed, set_rng_state
from . import data, datasets, metrics, nn, optim
from . import distributed
from .io import load, save
from .ops.matmul_family import (addbmm, addmm, addmv, addr, baddbmm, cdist, chain_matmul, cross, dot, ger, inner,
                                kron, mv, outer, tensordot, vdot)
from .ops.einsum import einsum
from .ops.decompositions import det, logdet, matrix_power, pinverse
from .ops.decompositions import inv as inverse
from .ops.decompositions import torch_cholesky as cholesky
from .ops.decompositions import torch_qr as qr
from .ops.decompositions import torch_slogdet as slogdet
from .ops.decompositions import torch_svd as svd
from . import linalg
from . import distributions
from .ops.similarity import cosine_similarity, pairwise_distance, pdist
from .ops.embedding_bag import embedding_bag
from .ops.dropout_variants import alpha_dropout, feature_alpha_dropout
# ---- apimisc: the torch surface programs probe and construct with ----
from .dtypes import bfloat16, float16, half, int8, int16, int32, short, uint8
from .dtypes import int as int  # noqa: A001,PLC0414
from .legacy_types import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
                           LongTensor, ShortTensor)
from .random import Generator
from ._api import (compile, get_default_dtype, inference_mode, is_floating_point, is_inference_mode_enabled,  # noqa: A004
                   is_nonzero, is_tensor, numel, set_default_dtype, set_default_tensor_type, set_printoptions,
                   set_float32_matmul_precision, get_float32_matmul_precision, use_deterministic_algorithms,
                   are_deterministic_algorithms_enabled, initial_seed, finfo, iinfo)
from . import backends, amp, accelerator, serialization, sparse, utils
from .amp import (autocast, is_autocast_enabled, get_autocast_dtype, set_autocast_enabled,  # noqa: F401
                  set_autocast_dtype, is_autocast_cache_enabled, set_autocast_cache_enabled, clear_autocast_cache)
from . import cpu  # noqa: F401  (torch.cpu, with torch.cpu.amp)
# ---- fmt: memory formats (torch.channels_last ...), torch.zero_ / torch.fill_ ----
from ._memory_format import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from .ops.filling import fill_, zero_
from ._tensor_args import tensor_args as _tensor_args
from .sparse import sparse_coo_tensor, spmm
from . import cuda_amp as _cuda_amp
cuda.amp = _cuda_amp  # torch.cuda.amp, importable as a module path too (fastnn.cuda is a module, not a package)
_sys.modules[__name__ + ".cuda.amp"] = _cuda_amp
_sys.modules[__name__ + ".cpu.amp"] = cpu.amp  # torch.cpu.amp as a module path (fastnn.cpu is a module)

clip = clamp
true_divide = div
relu_ = Tensor.relu_  # torch.relu_(x): the in-place ReLU (autograd/inplace.py)

# Tensor-only arguments where torch has no Scalar overload (torch.eq(2, t), torch.maximum(t, 2) raise TypeError).
_TENSOR_ARGS = {**dict.fromkeys(("eq", "ne", "lt", "le", "gt", "ge", "max", "min", "copysign", "fmod", "rsub",
                                 "clamp_min", "clamp_max")),
                **dict.fromkeys(("atan2", "fmax", "fmin", "ldexp", "maximum", "minimum", "logical_and", "logical_or",
                                 "logical_xor", "gcd", "lcm", "isclose"), "other"),
                "heaviside": "values"}
_checked = {id(globals()[n]): _tensor_args(globals()[n], n, o) for n, o in _TENSOR_ARGS.items()}
_checked.update({id(globals()[n]): _tensor_args(globals()[n], n, either=True)
                 for n in ("bitwise_left_shift", "bitwise_right_shift")})
for _name, _fn in list(globals().items()):  # the names and their aliases (arctan2 is atan2) alike
    if not _name.startswith("_") and id(_fn) in _checked:
        globals()[_name] = _checked[id(_fn)]
del _name, _fn, _checked

from ._public_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(globals(), ("fastnn.ops",))  # a non-Tensor input: torch's TypeError naming the op


def __getattr__(name: str):
    # fastnn.keras is imported on first use: PyTorch-style programs do not pay its ~4 ms at start-up.
    if name == "keras":
        return importlib.import_module(".keras", __name__)
    if name == "multiprocessing":  # Python's multiprocessing costs start-up time: loaded on first use
        return importlib.import_module(".multiprocessing", __name__)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
