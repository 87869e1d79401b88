"""torch.nn.functional's names over fastnn's differentiable ops."""
from __future__ import annotations

from ..ops.activation import gelu, sigmoid, tanh  # noqa: F401
from .functional_softmax import log_softmax, softmax  # noqa: F401  (dim=None: torch's legacy rule)
from ..ops.activation import leaky_relu as _leaky_relu
from ..ops.activation import relu as _relu
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.conv import conv2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..autograd import inplace as _inplace_ops
from ..ops.linalg import linear as _linear
from ..ops.loss import cross_entropy, nll_loss  # noqa: F401
from ..ops.loss_binary import binary_cross_entropy, binary_cross_entropy_with_logits  # noqa: F401
from ..ops.loss_margin import hinge_embedding_loss, multi_margin_loss  # noqa: F401
from ..ops.loss_prob import kl_div  # noqa: F401
from ..ops.loss_regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss  # noqa: F401
from ..ops.normalization import layer_norm  # noqa: F401
from ..ops.batchnorm import batch_norm  # noqa: F401
from ..ops.embedding import embedding  # noqa: F401
from ..ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from ..ops.softplus import softplus as _softplus_op
from .attention import multi_head_attention_forward  # noqa: F401
from ..ops.activation_extra import (  # noqa: F401
    celu, glu, gumbel_softmax, hardshrink, hardsigmoid, hardswish, hardtanh, logsigmoid, mish, prelu, relu6, rrelu,
    selu, softmin, softshrink, softsign, tanhshrink, threshold)
from ..ops.activation_extra import celu_, elu, elu_, hardtanh_, rrelu_, selu_, threshold_  # noqa: F401
from ..ops.loss_composed import (  # noqa: F401
    cosine_embedding_loss, gaussian_nll_loss, margin_ranking_loss, multilabel_margin_loss,
    multilabel_soft_margin_loss, poisson_nll_loss, soft_margin_loss, triplet_margin_loss,
    triplet_margin_with_distance_loss)
from ..ops.conv1d import conv1d  # noqa: F401
from ..ops.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: F401
from ..ops.group_norm import group_norm, instance_norm, local_response_norm, rms_norm  # noqa: F401
from ..ops.pool1d import (adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool2d, avg_pool1d,  # noqa: F401
                          lp_pool1d, lp_pool2d, max_pool1d)
from ..ops.upsampling import interpolate, upsample, upsample_bilinear, upsample_nearest  # noqa: F401
from ..ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle  # noqa: F401
from ..ops.fold import fold, unfold  # noqa: F401
from ..ops.bilinear import bilinear  # noqa: F401
from ..ops.unpool import max_unpool1d, max_unpool2d  # noqa: F401


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def linear(input, weight, bias=None):
    return _linear(input, weight, bias)


def relu(input, inplace: bool = False):
    """torch.nn.functional.relu; ``inplace=True`` writes the result into ``input`` (Tensor.relu_)."""
    return input.relu_() if inplace else _relu(input)


def relu_(input):
    return input.relu_()


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    if inplace:  # leaky_relu's backward reads only the sign mask it made: the snapshot needs no copy
        return _inplace_ops.apply(input, _leaky_relu, (negative_slope,))
    return _leaky_relu(input, negative_slope)


def leaky_relu_(input, negative_slope: float = 0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def silu(input):
    return input * sigmoid(input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):  # noqa: F811  (torch names the argument so)
    return _softplus_op(input, beta, threshold)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
                            return_indices: bool = True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices: bool = True):
    return adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices: bool = True):
    return adaptive_max_pool2d(input, output_size, return_indices=True)
# ---- linalg engineer: padding, similarity, one_hot, embedding_bag, dropout variants ----
from ..ops.padding import pad  # noqa: E402,F401
from ..ops.similarity import cosine_similarity, normalize, one_hot, pairwise_distance, pdist  # noqa: E402,F401
from ..ops.embedding_bag import embedding_bag  # noqa: E402,F401
from ..ops.dropout_variants import alpha_dropout, dropout1d, dropout3d, feature_alpha_dropout  # noqa: E402,F401
from ..ops.ctc import ctc_loss  # noqa: E402,F401
from ..ops.conv3d import conv3d, conv_transpose3d  # noqa: E402,F401

from .._public_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(globals(), ("fastnn.ops", "fastnn.nn.functional"))  # a non-Tensor input: torch's TypeError
