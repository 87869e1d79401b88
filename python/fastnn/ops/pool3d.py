"""3-D pooling over (N, C, D, H, W) composed from the 2-D pooling ops (their backwards do the gradients).

A pooling window is a box, and max / mean over a box separate by axis: pool H and W with the 2-D op on
(N, C * D, H, W), then pool D with the 2-D op on (N * C, 1, D, H_out * W_out) and a (kd, 1) window. For the
mean without the padding counted, the valid count of a box is the product of the per-axis counts, so the
two stages' divisions compose exactly. Adaptive windows are boxes too (per-axis floor/ceil bounds).
Only what the Keras layers need: no ceil_mode, dilation or indices."""
from __future__ import annotations

from .._tensor import Tensor
from ._util import as_tensor
from .conv_transpose import _tuple
from .pool1d import adaptive_max_pool2d
from .pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d


def _check(op: str, x) -> None:
    if x.ndim != 5:
        raise RuntimeError(f"{op}: expected a 5-D (N, C, D, H, W) input, got size {list(x.shape)}")


def _separable(op: str, pool2d, input, kernel_size, stride, padding) -> Tensor:
    x = as_tensor(input, op)
    _check(op, x)
    k = _tuple(kernel_size, "kernel_size", 3, op)
    s = k if stride is None else _tuple(stride, "stride", 3, op)
    p = _tuple(padding, "padding", 3, op)
    n, c, d, h, w = x.shape
    y = pool2d(x.reshape(n, c * d, h, w), k[1:], s[1:], p[1:])
    ho, wo = y.shape[2], y.shape[3]
    y = pool2d(y.reshape(n * c, 1, d, ho * wo), (k[0], 1), (s[0], 1), (p[0], 0))
    return y.reshape(n, c, y.shape[2], ho, wo)


def max_pool3d(input, kernel_size, stride=None, padding=0) -> Tensor:
    """torch.nn.functional.max_pool3d without ceil_mode / dilation / indices."""
    return _separable("max_pool3d", max_pool2d, input, kernel_size, stride, padding)


def avg_pool3d(input, kernel_size, stride=None, padding=0, count_include_pad: bool = True) -> Tensor:
    """torch.nn.functional.avg_pool3d without ceil_mode / divisor_override."""
    def pool(a, k, s, p):
        return avg_pool2d(a, k, s, p, count_include_pad=count_include_pad)
    return _separable("avg_pool3d", pool, input, kernel_size, stride, padding)


def _adaptive(op: str, pool2d, input, output_size) -> Tensor:
    x = as_tensor(input, op)
    _check(op, x)
    n, c, d, h, w = x.shape
    out = _tuple(output_size, "output_size", 3, op)
    y = pool2d(x.reshape(n, c * d, h, w), out[1:])
    y = pool2d(y.reshape(n * c, 1, d, out[1] * out[2]), (out[0], out[1] * out[2]))  # W: identity windows
    return y.reshape(n, c, *out)


def adaptive_avg_pool3d(input, output_size) -> Tensor:
    """torch.nn.functional.adaptive_avg_pool3d over (N, C, D, H, W)."""
    return _adaptive("adaptive_avg_pool3d", adaptive_avg_pool2d, input, output_size)


def adaptive_max_pool3d(input, output_size) -> Tensor:
    """torch.nn.functional.adaptive_max_pool3d over (N, C, D, H, W), without indices."""
    return _adaptive("adaptive_max_pool3d", adaptive_max_pool2d, input, output_size)
