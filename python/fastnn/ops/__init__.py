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

from . import matmul_family, einsum as _einsum_module  # noqa: F401
from .matmul_family import (addbmm, addmm, addmv, addr, baddbmm, cdist, chain_matmul, cross, dot, ger, inner, kron,
                            mv, outer, tensordot, vdot)
from .einsum import einsum
