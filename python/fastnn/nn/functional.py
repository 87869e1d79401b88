"""torch.nn.functional's names over fastnn's differentiable ops."""
from __future__ import annotations

from ..ops.activation import gelu, log_softmax, sigmoid, softmax, tanh  # noqa: F401
from ..ops.activation import leaky_relu as _leaky_relu
from ..ops.activation import relu as _relu
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.conv import conv2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..autograd import inplace as _inplace_ops
from ..ops import elementwise as _elementwise
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
from .attention import multi_head_attention_forward  # noqa: F401


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


def relu6(input):
    return _elementwise.clamp(input, 0.0, 6.0)


def silu(input):
    return input * sigmoid(input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    ew = _elementwise
    scaled = input * beta
    # Above the threshold softplus is the identity to float precision; where() keeps exp from overflowing.
    safe = ew.where(scaled > threshold, 0.0, scaled)
    return ew.where(scaled > threshold, input, ew.log(1 + ew.exp(safe)) / beta)


def elu(input, alpha: float = 1.0):
    ew = _elementwise
    return ew.where(input > 0, input, alpha * (ew.exp(ew.minimum(input, 0.0)) - 1))
