"""Softmax (over an axis or several, with an optional mask), PReLU (a learned negative slope, shareable across
axes) and ELU as layers, with Keras' arguments, on fastnn's ops."""
from __future__ import annotations

from ... import ops
from ..._tensor import Tensor
from ...creation import as_tensor
from ...nn import functional as F
from .base import Layer
from .conv import as_float


class Softmax(Layer):
    """softmax(inputs) over ``axis`` (an int or a list of ints). With ``mask`` (broadcastable to the inputs;
    True or > 0.5 keeps a position) masked logits are set to -1e9 (-3e4 in float16) before the softmax and
    their outputs to 0 after it."""

    def __init__(self, axis=-1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True
        self.built = True

    def call(self, inputs, mask=None):
        x = as_float(inputs) if inputs.dtype.name != "float16" else inputs
        if mask is not None:
            mask = mask if isinstance(mask, Tensor) else as_tensor(mask)
            if mask.ndim > x.ndim:
                raise ValueError(f"The `mask` must be broadcastable to `inputs` and must not have more dimensions. "
                                 f"Received: inputs.shape={tuple(x.shape)}, mask.shape={tuple(mask.shape)}")
            for m, i in zip(tuple(mask.shape)[::-1], tuple(x.shape)[::-1]):
                if m != 1 and m != i:
                    raise ValueError(f"The `mask` must be broadcastable to `inputs`. Each mask dimension must be 1 "
                                     f"or match the corresponding input dimension. Received: "
                                     f"inputs.shape={tuple(x.shape)}, mask.shape={tuple(mask.shape)}")
            if mask.dtype.name != "bool":
                mask = ops.gt(mask, 0.5)
            x = ops.where(mask, x, -3e4 if x.dtype.name == "float16" else -1e9)
        if isinstance(self.axis, (tuple, list)) and len(self.axis) > 1:
            y = ops.exp(x - ops.logsumexp(x, dim=tuple(self.axis), keepdim=True))
        else:
            axis = self.axis[0] if isinstance(self.axis, (tuple, list)) else self.axis
            y = ops.softmax(x, axis)
        if mask is not None:
            y = ops.where(mask, y, 0.0)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """max(x, 0) - alpha * max(-x, 0), ``alpha`` a weight shaped like one sample, of size 1 along the
    ``shared_axes`` (e.g. [1, 2] for one slope per channel of images)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = alpha_initializer
        self._preset_weights(alpha=(alpha_regularizer, alpha_constraint))
        if shared_axes is None:
            self.shared_axes = None
        elif not isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [shared_axes]
        else:
            self.shared_axes = list(shared_axes)

    def build(self, input_shape) -> None:
        shape = list(input_shape[1:])
        for a in self.shared_axes or ():
            shape[a - 1] = 1
        if any(s is None for s in shape):
            raise ValueError(f"PReLU {self.name}: the non-shared axes must be known, got input shape "
                             f"{tuple(input_shape)}")
        init = self.alpha_initializer
        if isinstance(init, str) and init.lower() == "zeros":
            init = "zeros"
        self.alpha = self.add_weight(shape=tuple(shape), name="alpha", initializer=init)

    def call(self, inputs):
        x = as_float(inputs)
        return ops.relu(x) - self.alpha * ops.relu(-x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha_initializer": self.alpha_initializer, "shared_axes": self.shared_axes}


class ELU(Layer):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return F.elu(as_float(inputs), float(self.alpha))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        # Keras' ELU leaves alpha out of its config (so from_config loses it); it is kept here
        return {**super().get_config(), "alpha": self.alpha}
