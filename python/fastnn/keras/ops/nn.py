"""keras.ops.nn: Keras 3's neural-network ops (activations, losses, moments, normalize) on fastnn Tensors.
Each delegates to fastnn.nn.functional / fastnn ops, so results keep autograd."""
from __future__ import annotations

import fastnn
import fastnn.nn.functional as F

from ._convert import dtype_of, to_tensor


def relu(x):
    return F.relu(to_tensor(x))


def relu6(x):
    return F.relu6(to_tensor(x))


def sigmoid(x):
    return fastnn.sigmoid(to_tensor(x))


def gelu(x, approximate=True):  # Keras defaults to the tanh approximation, torch to the exact erf form
    return F.gelu(to_tensor(x), approximate="tanh" if approximate else "none")


def silu(x):
    return F.silu(to_tensor(x))


swish = silu


def elu(x, alpha=1.0):
    return F.elu(to_tensor(x), alpha=alpha)


def selu(x):
    return F.selu(to_tensor(x))


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(to_tensor(x), negative_slope=negative_slope)


def softplus(x):
    return F.softplus(to_tensor(x))


def softsign(x):
    return F.softsign(to_tensor(x))


def tanh(x):
    return fastnn.tanh(to_tensor(x))


def softmax(x, axis=-1):
    x = to_tensor(x)
    if isinstance(axis, (tuple, list)):  # Keras normalizes over several axes jointly
        return fastnn.exp(x - fastnn.logsumexp(x, dim=tuple(axis), keepdim=True))
    return F.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    x = to_tensor(x)
    if isinstance(axis, (tuple, list)):
        return x - fastnn.logsumexp(x, dim=tuple(axis), keepdim=True)
    return F.log_softmax(x, dim=axis)


def log_sigmoid(x):
    return -F.softplus(-to_tensor(x))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise NotImplementedError("keras.ops.one_hot: sparse=True is not supported by fastnn")
    x = to_tensor(x).long()
    # Keras maps negative / out-of-range indices to all-zero rows (torch raises): mask them out
    valid = (x >= 0) & (x < num_classes)
    out = F.one_hot(fastnn.where(valid, x, fastnn.zeros_like(x)), num_classes)
    out = out * valid.unsqueeze(-1).long()
    out = out.to(dtype_of(dtype or "float32"))
    if axis != -1:
        out = fastnn.movedim(out, -1, axis)
    return out


def multi_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    out = one_hot(x, num_classes, axis=-1, dtype=dtype, sparse=sparse)
    out = fastnn.amax(out, dim=-2) if out.dim() > 1 else out
    if axis != -1:
        out = fastnn.movedim(out, -1, axis)
    return out


def _clip_probs(p):
    eps = 1e-7  # Keras' backend epsilon
    return fastnn.clamp(p, eps, 1.0 - eps)


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = to_tensor(target), to_tensor(output)
    if from_logits:
        logp = F.log_softmax(output, dim=axis)
    else:  # Keras renormalizes the probabilities and clips them before the log
        output = output / fastnn.sum(output, dim=axis, keepdim=True)
        logp = fastnn.log(_clip_probs(output))
    return -fastnn.sum(target * logp, dim=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    output = to_tensor(output)
    target = to_tensor(target).long()
    if target.dim() == output.dim() and target.shape[-1] == 1:
        target = target.squeeze(-1)
    depth = output.shape[axis]
    oh = one_hot(target, depth, axis=axis, dtype=output.dtype)
    return categorical_crossentropy(oh, output, from_logits=from_logits, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    target, output = to_tensor(target), to_tensor(output)
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target.to(output.dtype), reduction="none")
    output = _clip_probs(output)
    return -(target * fastnn.log(output) + (1 - target) * fastnn.log(1 - output))


def moments(x, axes, keepdims=False, synchronized=False):
    if synchronized:
        raise NotImplementedError("keras.ops.moments: synchronized=True needs a distribution strategy")
    x = to_tensor(x)
    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    mean = fastnn.mean(x, dim=axes, keepdim=True)
    var = fastnn.mean(fastnn.square(x - mean), dim=axes, keepdim=True)
    if not keepdims:
        mean, var = mean.squeeze(axes), var.squeeze(axes)
    return mean, var


def normalize(x, axis=-1, order=2, epsilon=None):
    x = to_tensor(x)
    eps = 1e-12 if epsilon is None else epsilon  # Keras' torch backend: torch's default eps
    return F.normalize(x, p=order, dim=axis, eps=eps)


def hard_sigmoid(x):  # Keras: relu6(x + 3) / 6, torch's hardsigmoid
    return F.hardsigmoid(to_tensor(x))


def hard_silu(x):
    return F.hardswish(to_tensor(x))


hard_swish = hard_silu


def hard_tanh(x):
    return F.hardtanh(to_tensor(x))


def celu(x, alpha=1.0):
    return F.celu(to_tensor(x), alpha=alpha)


def glu(x, axis=-1):
    return F.glu(to_tensor(x), dim=axis)


def soft_shrink(x, threshold=0.5):
    return F.softshrink(to_tensor(x), lambd=threshold)


def hard_shrink(x, threshold=0.5):
    return F.hardshrink(to_tensor(x), lambd=threshold)


def tanh_shrink(x):
    return F.tanhshrink(to_tensor(x))


def threshold(x, threshold, default_value):
    return F.threshold(to_tensor(x), threshold, default_value)


def sparse_plus(x):  # 0 below -1, x above 1, (x + 1)^2 / 4 between
    x = to_tensor(x)
    mid = fastnn.square(x + 1) / 4
    return fastnn.where(x <= -1, fastnn.zeros_like(x), fastnn.where(x >= 1, x, mid))


def squareplus(x, b=4):
    x = to_tensor(x)
    return (x + fastnn.sqrt(fastnn.square(x) + b)) / 2


def sparse_sigmoid(x):  # 0 below -1, 1 above 1, (x + 1) / 2 between
    return fastnn.clamp((to_tensor(x) + 1) / 2, 0.0, 1.0)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    if kwargs:
        raise TypeError(f"keras.ops.layer_normalization: unexpected arguments {sorted(kwargs)}")
    x = to_tensor(x)
    eps = 1e-7 if epsilon is None else epsilon  # Keras' backend epsilon()
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    mean = fastnn.mean(x, dim=axes, keepdim=True)
    var = fastnn.mean(fastnn.square(x - mean), dim=axes, keepdim=True)
    out = (x - mean) * fastnn.rsqrt(var + eps)
    if gamma is not None:
        out = out * to_tensor(gamma)
    if beta is not None:
        out = out + to_tensor(beta)
    return out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    x = to_tensor(x)
    eps = 1e-7 if epsilon is None else epsilon
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = x * fastnn.rsqrt(fastnn.mean(fastnn.square(x), dim=axes, keepdim=True) + eps)
    return out if scale is None else out * to_tensor(scale)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001):
    x = to_tensor(x)
    shp = [1] * x.dim()
    shp[axis] = x.shape[axis]

    def b(v):
        return to_tensor(v).reshape(tuple(shp))
    out = (x - b(mean)) * fastnn.rsqrt(b(variance) + epsilon)
    if scale is not None:
        out = out * b(scale)
    if offset is not None:
        out = out + b(offset)
    return out


def in_top_k(targets, predictions, k):
    t = to_tensor(targets).long()
    p = to_tensor(predictions)
    target_score = fastnn.take_along_dim(p, t.unsqueeze(-1), dim=-1)
    # NumPy/TF semantics: the target is in the top k if fewer than k scores beat it strictly
    return fastnn.sum((p > target_score).to(fastnn.int32), dim=-1) < k


def psnr(x1, x2, max_val):
    a, b = to_tensor(x1), to_tensor(x2)
    mse = fastnn.mean(fastnn.square(a - b))
    peak = fastnn.tensor(float(max_val), dtype=mse.dtype, device=mse.device)
    return 20.0 * fastnn.log10(peak) - 10.0 * fastnn.log10(mse)


# ---- convolution and pooling (Keras' channels_last default: inputs (N, *spatial, C)) ----
def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def _same_pad(x, window, strides, dilation, value=0.0):
    """TensorFlow's 'same': total padding so the output has ceil(n / stride) positions, the odd one after."""
    flat = []
    for i in reversed(range(len(window))):
        n = x.shape[2 + i]
        eff = (window[i] - 1) * dilation[i] + 1
        total = builtins_max(((n + strides[i] - 1) // strides[i] - 1) * strides[i] + eff - n, 0)
        flat += [total // 2, total - total // 2]
    return F.pad(x, flat, mode="constant", value=value)


def _fn(name, nd):
    fn = getattr(F, f"{name}{nd}d", None)
    if fn is None:
        raise NotImplementedError(f"keras.ops: {nd}-D {name} is not available in fastnn")
    return fn


def builtins_max(a, b):
    return a if a >= b else b


def _channels_first(x, data_format):
    if data_format in (None, "channels_last"):
        return fastnn.movedim(x, -1, 1), True
    if data_format != "channels_first":
        raise ValueError(f"keras.ops: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return x, False


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    x, last = _channels_first(to_tensor(inputs), data_format)
    k = to_tensor(kernel)
    nd = x.dim() - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"keras.ops.conv: inputs must be 3-D to 5-D, got {x.dim()}-D")
    strides, dil = _tuple(strides, nd), _tuple(dilation_rate, nd)
    w = k.permute((nd + 1, nd) + tuple(range(nd)))  # (*k, Cin/g, Cout) -> (Cout, Cin/g, *k)
    groups = x.shape[1] // k.shape[nd]
    if padding == "same":
        x = _same_pad(x, tuple(k.shape[:nd]), strides, dil)
    elif padding != "valid":
        raise ValueError(f"keras.ops.conv: padding must be 'valid' or 'same', got {padding!r}")
    fn = _fn("conv", nd)
    out = fn(x, w, None, stride=strides, dilation=dil, groups=groups)
    return fastnn.movedim(out, 1, -1) if last else out


def _pool(kind, inputs, pool_size, strides, padding, data_format):
    x, last = _channels_first(to_tensor(inputs), data_format)
    nd = x.dim() - 2
    size = _tuple(pool_size, nd)
    strides = size if strides is None else _tuple(strides, nd)
    if padding not in ("valid", "same"):
        raise ValueError(f"keras.ops.{kind}_pool: padding must be 'valid' or 'same', got {padding!r}")
    if kind == "max":
        if padding == "same":
            x = _same_pad(x, size, strides, (1,) * nd, value=float("-inf"))
        out = _fn("max_pool", nd)(x, size, strides)
    else:
        if padding == "same":  # the mean over the window's real elements only, as TF does
            ones = fastnn.ones_like(x)
            s = _fn("avg_pool", nd)
            num = s(_same_pad(x, size, strides, (1,) * nd), size, strides)
            den = s(_same_pad(ones, size, strides, (1,) * nd), size, strides)
            out = num / den
        else:
            out = _fn("avg_pool", nd)(x, size, strides)
    return fastnn.movedim(out, 1, -1) if last else out


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("average", inputs, pool_size, strides, padding, data_format)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Keras' layout: (batch, seq, heads, head_dim)."""
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("keras.ops.dot_product_attention: attn_logits_soft_cap is not supported")
    if flash_attention:
        raise NotImplementedError("keras.ops.dot_product_attention: flash_attention=True is not supported")
    q, k, v = (fastnn.swapaxes(to_tensor(t), 1, 2) for t in (query, key, value))  # -> (B, H, S, D)
    s = 1.0 / (q.shape[-1] ** 0.5) if scale is None else scale
    logits = fastnn.matmul(q, fastnn.swapaxes(k, -1, -2)) * s
    if bias is not None:
        logits = logits + to_tensor(bias)
    keep = None
    if mask is not None:
        keep = to_tensor(mask).bool()
    if is_causal:
        causal = fastnn.tril(fastnn.ones((q.shape[-2], k.shape[-2]), dtype=fastnn.bool, device=q.device))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        logits = fastnn.where(keep, logits, fastnn.full_like(logits, float(fastnn.finfo(logits.dtype).min)))
    out = fastnn.matmul(F.softmax(logits, dim=-1), v)
    return fastnn.swapaxes(out, 1, 2)


def _adaptive(kind, inputs, output_size, data_format):
    x, last = _channels_first(to_tensor(inputs), data_format)
    nd = x.dim() - 2
    out = _fn(f"adaptive_{kind}_pool", nd)(x, _tuple(output_size, nd))
    return fastnn.movedim(out, 1, -1) if last else out


def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive("avg", inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive("max", inputs, output_size, data_format)


def depth_to_space(x, block_size, data_format="channels_last"):
    x, last = _channels_first(to_tensor(x), data_format)
    x = fastnn.movedim(x, 1, -1)  # TF's DCR order: channel (i * r + j) * C' + c, on (N, H, W, C)
    n, h, w, c = x.shape
    r = block_size
    out = x.reshape((n, h, w, r, r, c // (r * r))).permute((0, 1, 3, 2, 4, 5)).reshape((n, h * r, w * r, -1))
    return out if last else fastnn.movedim(out, -1, 1)


def space_to_depth(x, block_size, data_format="channels_last"):
    x, last = _channels_first(to_tensor(x), data_format)
    x = fastnn.movedim(x, 1, -1)
    n, h, w, c = x.shape
    r = block_size
    out = x.reshape((n, h // r, r, w // r, r, c)).permute((0, 1, 3, 2, 4, 5)).reshape((n, h // r, w // r, -1))
    return out if last else fastnn.movedim(out, -1, 1)


def sparsemax(x, axis=-1):
    x = to_tensor(x)
    z = fastnn.movedim(x, axis, -1)
    zs = fastnn.sort(z, dim=-1, descending=True).values
    k = fastnn.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    cs = fastnn.cumsum(zs, dim=-1)
    support = (1 + k * zs) > cs
    ksup = fastnn.sum(support.to(z.dtype), dim=-1, keepdim=True)
    tau = (fastnn.take_along_dim(cs, ksup.long() - 1, dim=-1) - 1) / ksup
    return fastnn.movedim(fastnn.clamp(z - tau, min=0.0), -1, axis)


from .ctc import ctc_loss  # noqa: E402,F401 - keras.ops.nn.ctc_loss


from .nn_more import (conv_transpose, ctc_decode, depthwise_conv, fold, separable_conv,  # noqa: E402,F401
                      unfold)
