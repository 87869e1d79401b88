"""Differentiable ops by family; each op's forward sits beside its backward."""
from __future__ import annotations

from . import activation, arithmetic, conv, conversion, elementwise, indexing, linalg, reduction, shape
from . import dropout, loss, normalization, pooling
from . import loss_binary, loss_margin, loss_prob, loss_regression, penalty
from . import batchnorm, embedding
from .activation import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import (add, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, div, eq, ge, gt, le, logical_not,
                         lt, mul, ne, neg, pow, sub)
from .attention import scaled_dot_product_attention
from .conv import conv2d
from .conversion import cast, to
from .elementwise import abs, clamp, exp, isfinite, isnan, log, maximum, minimum, sign, sqrt, where
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


def _reflect(fn):
    return lambda self, other: fn(other, self)


def _square(a):
    return mul(a, a)


def _rsqrt(a):
    return div(1.0, sqrt(a))


TENSOR_METHODS = {
    # operators
    "__add__": arithmetic.add_same_shape, "__radd__": _reflect(add), "__sub__": sub, "__rsub__": _reflect(sub),
    "__mul__": mul, "__rmul__": _reflect(mul), "__truediv__": div, "__rtruediv__": _reflect(div),
    "__pow__": pow, "__rpow__": _reflect(pow), "__neg__": neg, "__pos__": lambda self: self,
    "__abs__": abs, "__matmul__": matmul, "__rmatmul__": _reflect(matmul), "__getitem__": getitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor, "__invert__": bitwise_not,
    "__rand__": _reflect(bitwise_and), "__ror__": _reflect(bitwise_or),
    # arithmetic and math
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "exp": exp, "log": log,
    "sqrt": sqrt, "rsqrt": _rsqrt, "square": _square, "abs": abs, "sign": sign, "clamp": clamp, "clip": clamp,
    "maximum": maximum, "minimum": minimum, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "logical_not": logical_not, "isnan": isnan, "isfinite": isfinite, "masked_fill": masked_fill,
    # reductions
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin, "argmax": argmax,
    "argmin": argmin, "var": var, "std": std, "logsumexp": logsumexp, "prod": prod, "all": all, "any": any,
    # shape
    "reshape": reshape, "view": view, "view_as": view_as, "permute": permute, "transpose": transpose, "t": t,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "flatten": flatten, "unflatten": unflatten, "expand": expand,
    "expand_as": expand_as, "contiguous": contiguous, "clone": clone, "split": split, "chunk": chunk,
    "narrow": narrow, "unbind": unbind, "index_select": index_select,
    # linear algebra, activations
    "matmul": matmul, "mm": mm, "bmm": bmm, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "gelu": gelu,
    "leaky_relu": leaky_relu, "softmax": softmax, "log_softmax": log_softmax,
    # dtype
    "to": to, "type_as": lambda self, other: cast(self, other.dtype),
    "float": lambda self: cast(self, "float32"), "double": lambda self: cast(self, "float64"),
    "long": lambda self: cast(self, "int64"), "bool": lambda self: cast(self, "bool"),
}
