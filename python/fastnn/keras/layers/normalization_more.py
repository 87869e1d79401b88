"""GroupNormalization, UnitNormalization, RMSNormalization and SpectralNormalization with Keras' arguments,
weights and formulas, on fastnn's differentiable ops."""
from __future__ import annotations

from ... import ops
from ...autograd.grad_mode import no_grad
from .. import initializers
from .base import Layer
from .conv import as_float
from .dot import l2_normalize
from .wrappers import Wrapper


def _axis_list(axis, ndim: int, name: str):
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    for a in axes:
        if not isinstance(a, int) or not -ndim <= a < ndim:
            raise ValueError(f"Axis {a} is out of bounds for input shape of rank {ndim}. Received: axis={axis}")
    return axes


class GroupNormalization(Layer):
    """Splits the ``axis`` channels into ``groups`` groups and normalizes each group of each sample over its
    channels and all other non-batch axes (``groups=-1``: one per channel, instance normalization); then
    gamma * x + beta per channel."""

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs) -> None:
        if not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError(f"Received an invalid value for argument `groups`, expected a positive integer (or `-1` "
                             f"for instance normalization). Received: groups={groups}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.groups, self.axis, self.epsilon = groups, axis, epsilon
        self.center, self.scale = center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self._preset_weights(gamma=(gamma_regularizer, gamma_constraint), beta=(beta_regularizer, beta_constraint))

    def build(self, input_shape) -> None:
        _axis_list(self.axis, len(input_shape), "GroupNormalization")
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {tuple(input_shape)}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number of channels ({dim}).")
        if dim % self.groups != 0:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the number of channels ({dim}).")
        self.gamma = self.add_weight(shape=(dim,), name="gamma", initializer=self.gamma_initializer) \
            if self.scale else None
        self.beta = self.add_weight(shape=(dim,), name="beta", initializer=self.beta_initializer) \
            if self.center else None

    def call(self, inputs):
        x = as_float(inputs)
        ndim = x.ndim
        axis = self.axis % ndim
        dim = x.shape[axis]
        # (..., C, ...) -> (..., groups, C / groups, ...): statistics over every non-batch axis but the group one
        grouped_shape = tuple(x.shape[:axis]) + (self.groups, dim // self.groups) + tuple(x.shape[axis + 1:])
        g = x.reshape(grouped_shape)
        reduce = tuple(a for a in range(1, ndim + 1) if a != axis)
        mean = g.mean(dim=reduce, keepdim=True)
        var = ((g - mean) * (g - mean)).mean(dim=reduce, keepdim=True)
        inv = ops.rsqrt(var + self.epsilon)
        bshape = [1] * (ndim + 1)
        bshape[axis], bshape[axis + 1] = self.groups, dim // self.groups
        if self.gamma is not None:
            inv = inv * self.gamma.reshape(tuple(bshape))
        res = -mean * inv
        if self.beta is not None:
            res = res + self.beta.reshape(tuple(bshape))
        return (g * inv + res).reshape(tuple(x.shape))

    def compute_output_shape(self, input_shape):
        _axis_list(self.axis, len(input_shape), "GroupNormalization")
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer}


class UnitNormalization(Layer):
    """x / ||x||_2 over ``axis`` (an int or a list): x * min(rsqrt(sum(x^2)), 1e12), Keras' formula."""

    def __init__(self, axis=-1, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a list/tuple of ints. Received: "
                            f"axis={axis}")
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        x = as_float(inputs)
        _axis_list(self.axis, x.ndim, "UnitNormalization")
        return l2_normalize(x, self.axis, epsilon=1e-12)

    def compute_output_shape(self, input_shape):
        _axis_list(self.axis, len(input_shape), "UnitNormalization")
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """x * rsqrt(mean(x^2 over ``axis``) + epsilon) * scale, ``scale`` a weight over the normalized axes
    (initialized to ones)."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon

    def build(self, input_shape) -> None:
        ndim = len(input_shape)
        if isinstance(self.axis, (list, tuple)):
            self.axis = sorted(self.axis)
        else:
            self.axis = [self.axis]
        _axis_list(self.axis, ndim, "RMSNormalization")
        shape = tuple(input_shape[a] for a in self.axis)
        if any(s is None for s in shape):
            raise ValueError(f"RMSNormalization {self.name}: the normalized axes must be known, got input shape "
                             f"{tuple(input_shape)}")
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")

    def call(self, inputs):
        x = as_float(inputs)
        axes = sorted(a % x.ndim for a in self.axis)
        rrms = ops.rsqrt((x * x).mean(dim=tuple(axes), keepdim=True) + self.epsilon)
        bshape = [1] * x.ndim
        for a in axes:
            bshape[a] = x.shape[a]
        return x * rrms * self.scale.reshape(tuple(bshape))

    def compute_output_shape(self, input_shape):
        _axis_list(self.axis, len(input_shape), "RMSNormalization")
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's ``kernel`` (or ``embeddings``) by its largest singular value, estimated by
    ``power_iterations`` steps of power iteration from the persistent vector ``vector_u`` (1, out). In
    training the normalized kernel and the new u are written into the weights (not differentiated), then
    the layer runs; at inference the layer runs on its kernel as it is. Weights in Keras' order: kernel,
    vector_u, then the layer's others."""

    def __init__(self, layer, power_iterations=1, **kwargs) -> None:
        super().__init__(layer, **kwargs)
        if power_iterations <= 0:
            raise ValueError(f"`power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations}`")
        self.power_iterations = power_iterations

    def build(self, input_shape) -> None:
        super().build(input_shape)
        if hasattr(self.layer, "kernel"):
            name = "kernel"
        elif hasattr(self.layer, "embeddings"):
            name = "embeddings"
        else:
            raise ValueError(f"{type(self.layer).__name__} object has no attribute 'kernel' nor 'embeddings'")
        self.__dict__["_kernel_name"] = name
        kernel = getattr(self.layer, name)
        self.vector_u = self.add_weight(shape=(1, kernel.shape[-1]), name="vector_u", trainable=False,
                                        initializer=initializers.TruncatedNormal(stddev=0.02),
                                        dtype=kernel.dtype.name)

    @property
    def kernel(self):
        return getattr(self.layer, self.__dict__["_kernel_name"])

    @property
    def weights(self):
        if "_kernel_name" not in self.__dict__:
            return super().weights
        kernel = self.kernel
        return [kernel, self.vector_u] + [w for w in self.layer.weights if w is not kernel]

    def normalized_weights(self):
        """(new u, kernel / sigma) from power iteration on the kernel flattened to (-1, out)."""
        kernel = self.kernel
        w = kernel.reshape(-1, kernel.shape[-1])
        u = self.vector_u
        for _ in range(self.power_iterations):
            v = l2_normalize(ops.matmul(u, w.t()), None)
            u = l2_normalize(ops.matmul(v, w), None)
        sigma = ops.matmul(ops.matmul(v, w), u.t())
        return u, (kernel / sigma.reshape(()))

    def call(self, inputs, training=False):
        if training:
            with no_grad():
                kernel = self.kernel
                zero = (kernel == 0).all()  # an all-zero kernel is left as it is (Keras' guard), without a sync
                u, new_kernel = self.normalized_weights()
                u, new_kernel = ops.where(zero, self.vector_u, u), ops.where(zero, kernel, new_kernel)
                self.vector_u._write(..., u._data)
                kernel._write(..., new_kernel._data)
        return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "power_iterations": self.power_iterations}
