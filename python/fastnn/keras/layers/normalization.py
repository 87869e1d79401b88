"""BatchNormalization and LayerNormalization with Keras' arguments, defaults (epsilon 1e-3, momentum 0.99)
and weights (gamma, beta, moving_mean, moving_variance), on fastnn's batch_norm / layer_norm ops."""
from __future__ import annotations

import numpy as np

from ... import creation, ops
from ...autograd.grad_mode import no_grad
from ...backend import backend_of
from ..distribution.data_parallel import current_step
from ..distribution.global_batch_norm import batch_norm_global
from .base import Layer
from .conv import as_float


def _axes(axis, ndim: int, name: str) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: invalid axis {a} for an input of rank {ndim}")
        out.append(a % ndim)
    return tuple(sorted(set(out)))


class BatchNormalization(Layer):
    """Normalises each feature (``axis``) with the batch's mean and biased variance in training, and with
    the moving averages in inference. Keras' momentum convention: moving = moving * momentum + batch *
    (1 - momentum), the variance biased (torch keeps the unbiased one; torch's momentum is 1 - Keras')."""
    _passes_masks = True

    def __init__(self, axis=-1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, synchronized: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._preset_weights(gamma=(gamma_regularizer, gamma_constraint), beta=(beta_regularizer, beta_constraint))
        if not isinstance(axis, int):
            raise NotImplementedError("BatchNormalization: only a single int `axis` is supported")
        self.axis = axis
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self._inits = (gamma_initializer, beta_initializer, moving_mean_initializer, moving_variance_initializer)

    def build(self, input_shape) -> None:
        (axis,) = _axes(self.axis, len(input_shape), f"BatchNormalization {self.name}")
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {tuple(input_shape)}.")
        self._axis = axis
        self.gamma = self.add_weight("gamma", (dim,), self._inits[0]) if self.scale else None
        self.beta = self.add_weight("beta", (dim,), self._inits[1]) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (dim,), self._inits[2], trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (dim,), self._inits[3], trainable=False)

    def _channels_second(self, x):
        """x as (N', C, *) for batch_norm, and how to undo it. Channels-last needs no copy: (..., C) is a
        (rows, C) matrix whose per-column statistics are the ones wanted."""
        c = x.shape[self._axis]
        if self._axis == x.ndim - 1:
            if x.ndim > 2:
                # A channels-last view of channels-first storage (what Conv2D returns: its kernel writes
                # (N, C, H, W)) is contiguous once the channel moves back to dim 1: normalise that view and
                # permute back, instead of reshape(-1, C) copying the whole activation into (rows, C).
                order = [0, x.ndim - 1, *range(1, x.ndim - 1)]
                xc = x.permute(*order)
                if xc.is_contiguous():
                    inverse = [0, *range(2, x.ndim), 1]
                    return xc, (lambda y: y.permute(*inverse))
            return x.reshape(-1, c), (lambda y: y.reshape(x.shape))
        if self._axis == 1:
            return x, (lambda y: y)
        order = [0, self._axis] + [d for d in range(1, x.ndim) if d != self._axis]
        inverse = sorted(range(len(order)), key=order.__getitem__)  # the permutation that undoes ``order``
        return x.permute(*order), (lambda y: y.permute(*inverse))

    def call(self, inputs, training=None):
        x = as_float(inputs)
        x2, restore = self._channels_second(x)
        if not (training and self.trainable):
            return restore(ops.batch_norm(x2, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                                          False, 0.0, self.epsilon))
        count = x2.numel() // x2.shape[1]
        run = current_step()
        if run is not None and run.world > 1:  # data-parallel ranks: the global batch's statistics, as Keras' program
            y, mean, var = batch_norm_global(x2, self.gamma, self.beta, self.epsilon, run)
        elif count == 1:  # one value per feature: Keras' variance is 0, torch's op refuses (no unbiased variance)
            mean = x2.detach().mean(0)._data
            var = backend_of(mean).xp.zeros_like(mean)
            y = x2 * 0.0 + (self.beta if self.beta is not None else 0.0)
        else:
            # The op writes the batch mean and the unbiased variance into these scratch vectors (momentum 1);
            # Keras' moving variance averages the biased one.
            mean_t = creation.zeros(x2.shape[1], dtype=x2.dtype.name, device=x2.device)
            var_t = creation.zeros(x2.shape[1], dtype=x2.dtype.name, device=x2.device)
            y = ops.batch_norm(x2, mean_t, var_t, self.gamma, self.beta, True, 1.0, self.epsilon)
            mean, var = mean_t._data, var_t._data * np.float32((count - 1) / count)
        with no_grad():
            m = np.float32(self.momentum)
            for buf, stat in ((self.moving_mean, mean), (self.moving_variance, var)):
                buf._write(..., buf._data * m + stat.astype(buf._data.dtype) * (np.float32(1.0) - m))
        return restore(y)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}


class LayerNormalization(Layer):
    """Normalises over ``axis`` (the last by default) of each sample, then gamma * x + beta."""
    _passes_masks = True

    def __init__(self, axis=-1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if rms_scaling:
            raise NotImplementedError("LayerNormalization: rms_scaling=True is not supported by fastnn.keras yet")
        self._preset_weights(gamma=(gamma_regularizer, gamma_constraint), beta=(beta_regularizer, beta_constraint))
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self._inits = (gamma_initializer, beta_initializer)

    def build(self, input_shape) -> None:
        ndim = len(input_shape)
        axes = _axes(self.axis, ndim, f"LayerNormalization {self.name}")
        if axes != tuple(range(ndim - len(axes), ndim)):
            raise NotImplementedError(f"LayerNormalization {self.name}: only trailing axes are supported, got "
                                      f"axis={self.axis} for rank {ndim}")
        if 0 in axes:
            raise ValueError(f"LayerNormalization {self.name}: cannot normalise over the batch axis")
        self._shape = tuple(input_shape[a] for a in axes)
        if any(s is None for s in self._shape):
            raise ValueError(f"LayerNormalization {self.name}: the normalised dims must be known, got input shape "
                             f"{tuple(input_shape)}")
        self.gamma = self.add_weight("gamma", self._shape, self._inits[0]) if self.scale else None
        self.beta = self.add_weight("beta", self._shape, self._inits[1]) if self.center else None

    def call(self, inputs, training=None):
        return ops.layer_norm(as_float(inputs), self._shape, self.gamma, self.beta, self.epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale}
