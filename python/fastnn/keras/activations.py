"""keras.activations: Keras 3's activation functions on fastnn tensors (each through fastnn.keras.ops, so
results keep autograd), and serialize / deserialize / get by Keras' names."""
from __future__ import annotations

from .. import ops
from . import _serial
from .ops import nn as _nn
from .ops._convert import to_tensor


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras' options: ``negative_slope`` * (x - threshold) below ``threshold``, 0 up to
    it when ``threshold`` is set, and clipped at ``max_value``."""
    x = to_tensor(x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return ops.leaky_relu(x, float(negative_slope))
        negative = ops.relu(-x + threshold) if threshold != 0 else ops.relu(-x)
    clip = max_value is not None
    if threshold != 0:
        y = ops.where(ops.gt(x, float(threshold)), x, 0.0)
    elif max_value == 6:
        y = _nn.relu6(x)
        clip = False
    else:
        y = ops.relu(x)
    if clip:
        y = ops.clamp(y, 0.0, float(max_value))
    return y - negative_slope * negative if negative_slope != 0.0 else y


def leaky_relu(x, negative_slope=0.2):
    return _nn.leaky_relu(x, negative_slope=negative_slope)


def relu6(x):
    return _nn.relu6(x)


def softmax(x, axis=-1):
    return _nn.softmax(x, axis=axis)


def elu(x, alpha=1.0):
    return _nn.elu(x, alpha=alpha)


def selu(x):
    return _nn.selu(x)


def softplus(x):
    return _nn.softplus(x)


def softsign(x):
    return _nn.softsign(x)


def soft_shrink(x, threshold=0.5):
    return _nn.soft_shrink(x, threshold=threshold)


def sparse_plus(x):
    return _nn.sparse_plus(x)


def silu(x):
    return _nn.silu(x)


swish = silu


def squareplus(x, b=4):
    return _nn.squareplus(x, b=b)


def gelu(x, approximate=False):
    return _nn.gelu(x, approximate=approximate)


def celu(x, alpha=1.0):
    return _nn.celu(x, alpha=alpha)


def glu(x, axis=-1):
    return _nn.glu(x, axis=axis)


def tanh(x):
    return _nn.tanh(x)


def tanh_shrink(x):
    return _nn.tanh_shrink(x)


def hard_tanh(x):
    return _nn.hard_tanh(x)


def hard_shrink(x, threshold=0.5):
    return _nn.hard_shrink(x, threshold=threshold)


def threshold(x, threshold, default_value):
    return _nn.threshold(x, threshold, default_value)


def sigmoid(x):
    return _nn.sigmoid(x)


def exponential(x):
    return ops.exp(to_tensor(x))


def hard_sigmoid(x):
    return _nn.hard_sigmoid(x)


def log_sigmoid(x):
    return _nn.log_sigmoid(x)


def sparse_sigmoid(x):
    return _nn.sparse_sigmoid(x)


def hard_silu(x):
    return _nn.hard_silu(x)


hard_swish = hard_silu


def linear(x):
    return x


def mish(x):
    x = to_tensor(x)
    return x * ops.tanh(_nn.softplus(x))


def log_softmax(x, axis=-1):
    return _nn.log_softmax(x, axis=axis)


def sparsemax(x, axis=-1):
    return _nn.sparsemax(x, axis=axis)


_ALL = (relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus, soft_shrink, sparse_plus,
        silu, gelu, glu, tanh, tanh_shrink, threshold, sigmoid, sparse_sigmoid, exponential, hard_sigmoid, hard_silu,
        hard_tanh, hard_shrink, linear, mish, log_softmax, log_sigmoid, sparsemax)
ALL_OBJECTS_DICT = {fn.__name__: fn for fn in _ALL}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu


def _builtin_name(fn):
    name = getattr(fn, "__name__", None)
    return name if name is not None and ALL_OBJECTS_DICT.get(name) is fn else None


def serialize(activation):
    """A built-in activation's name ('relu'); a custom function as Keras' dict naming it."""
    name = _builtin_name(activation)
    if name is not None:
        return name
    if callable(activation) and getattr(activation, "__name__", "<lambda>") != "<lambda>":
        return _serial.function_config(activation.__name__)
    raise ValueError(f"Unknown activation function '{activation}' cannot be serialized due to invalid function "
                     "name. Make sure to use an activation name that matches the references defined in "
                     "activations.py or pass custom activations by name in `custom_objects`.")


def deserialize(config, custom_objects=None):
    """The activation function a name or ``serialize``'s dict refers to."""
    name = config["config"] if isinstance(config, dict) and config.get("class_name") == "function" else config
    if isinstance(name, str):
        return _serial.lookup(name, ALL_OBJECTS_DICT, custom_objects, "function")
    raise ValueError(f"Could not deserialize activation: {config!r}")


def get(identifier):
    """An activation function from a name (as Keras spells it), a serialized dict, a callable, or None
    (linear)."""
    if identifier is None:
        return linear
    return _serial.get_named(identifier, deserialize, ALL_OBJECTS_DICT, "activation function", instantiate=False)


def name_of(fn) -> str:
    """The name a layer's get_config stores for its activation: Keras' name for a built-in one."""
    name = _builtin_name(fn)
    return name if name is not None else getattr(fn, "__name__", "custom")
