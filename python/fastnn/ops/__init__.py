"""Differentiable ops by family; each op's forward sits beside its backward."""
from __future__ import annotations

from . import activation, arithmetic, conv, conversion, elementwise, indexing, linalg, reduction, shape
from . import dropout, loss, normalization, pooling
from . import loss_binary, loss_margin, loss_prob, loss_regression, penalty
from . import batchnorm  # embedding: the function below takes the name, as torch.embedding
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import (add, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, div, eq, ge, gt, le, logical_not,
                         lt, mul, ne, neg, pow, sub)
from .attention import scaled_dot_product_attention
from .conv import conv2d
from .conversion import cast, to
from .elementwise import (abs, clamp, cos, erf, exp, isfinite, isnan, log, log1p, maximum, minimum, sign, sin, sqrt,
                          where)
from .indexing import getitem, index_select, masked_fill
from .linalg import bmm, linear, matmul, mm
from .loss import cross_entropy
from .normalization import layer_norm
from .pooling import avg_pool2d, max_pool2d
from .pooling import adaptive_avg_pool2d
from .batchnorm import batch_norm
from .embedding import embedding
from .reduction import all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .shape import (cat, chunk, clone, contiguous, expand, expand_as, flatten, narrow, permute, reshape, split,
                    squeeze, stack, t, transpose, unbind, unflatten, unsqueeze, view, view_as)

from . import reshaping, scatter_gather, searching, triangular
from .reshaping import (atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, broadcast_to,
                        column_stack, concat, concatenate, dstack, flip, fliplr, flipud, hstack, meshgrid, moveaxis,
                        movedim, narrow_copy, ravel, repeat_interleave, roll, rot90, row_stack, select, swapaxes,
                        swapdims, take, tile, vstack)
from .scatter_gather import (gather, index_add, index_copy, index_fill, index_put, masked_scatter, masked_select,
                             scatter, scatter_add, scatter_reduce, take_along_dim)
from .searching import argwhere, bucketize, isin, nonzero, searchsorted
from .triangular import diag, diag_embed, diagflat, diagonal, trace, tril, tril_indices, triu, triu_indices
from . import combining, splitting, view_copies
from .combining import block_diag, cartesian_prod, combinations
from .reshaping import adjoint
from .scatter_gather import index_reduce, put
from .searching import nonzero_static, unravel_index
from .splitting import (diagonal_scatter, dsplit, hsplit, select_scatter, slice_scatter, split_with_sizes,
                        tensor_split, unsafe_chunk, unsafe_split, vsplit)
from .view_copies import (alias_copy, diagonal_copy, expand_copy, permute_copy, squeeze_copy, t_copy, transpose_copy,
                          unbind_copy, unfold_copy, unsqueeze_copy, view_copy)
from . import sorting
from .sorting import (argsort, kthvalue, median, mode, msort, multinomial, nanmedian, nanquantile, quantile, sort,
                      topk, unique, unique_consecutive)
from . import binary_math, cumulative, norms, rounding, special_math, stats, trig
from .binary_math import (addcdiv, addcmul, allclose, arctan2, atan2, clamp_max, clamp_min, copysign, divide, equal,
                          float_power, floor_divide, fmax, fmin, fmod, heaviside, hypot, isclose, lerp, logaddexp,
                          logaddexp2, remainder, xlog1py, xlogy)
from .cumulative import cummax, cummin, cumprod, cumsum, logcumsumexp
from .norms import norm, vector_norm
from .rounding import (bitwise_left_shift, bitwise_right_shift, ceil, fix, floor, frac, isinf, isneginf, isposinf,
                       isreal, logical_and, logical_or, logical_xor, nan_to_num, negative, positive, round, sgn,
                       signbit, trunc)
from .special_math import digamma, entr, erfc, erfinv, i0, lgamma, log_ndtr, logit, ndtr
from .stats import aminmax, count_nonzero, nanmean, nansum, std_mean, var_mean
from .trig import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctanh, asin, asinh, atan, atanh, cosh,
                   deg2rad, exp2, expm1, log2, log10, rad2deg, reciprocal, rsqrt, sinc, sinh, square, tan)
from . import complex_parts, float_bits, integrate
from .binary_math import rsub
from .complex_parts import angle, conj, conj_physical, imag, real, resolve_conj, resolve_neg
from .float_bits import frexp, gcd, lcm, ldexp, nextafter
from .integrate import cumulative_trapezoid, trapezoid, trapz
from .norms import dist, renorm
from .special_math import i0e, i1, i1e, mvlgamma, polygamma, zeta
from .conv1d import conv1d
from .conv_transpose import conv_transpose1d, conv_transpose2d
from .group_norm import group_norm, instance_norm, local_response_norm, rms_norm
from .pool1d import (adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d, lp_pool1d, lp_pool2d,
                     max_pool1d)
from .upsampling import interpolate
from .pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .fold import fold, unfold
from .bilinear import bilinear
from .unpool import max_unpool1d, max_unpool2d
from . import matmul_family, einsum as _einsum_module  # noqa: F401
from .matmul_family import (addbmm, addmm, addmv, addr, baddbmm, cdist, chain_matmul, cross, dot, ger, inner, kron,
                            mv, outer, tensordot, vdot)
from .einsum import einsum
from .conv3d import conv3d, conv_transpose3d
