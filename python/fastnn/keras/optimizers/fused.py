"""Keras' SGD, Adam and AdamW on fastnn's fused multi-tensor kernels (``fastnn.optim._functional``): one
kernel pass per step over every weight, with Keras' formulas (see each class for how they map)."""
from __future__ import annotations

import math

from ..._tensor import Tensor
from ...backend import backend_of
from ...optim import _functional as F
from .base import Optimizer

BASE_ARGS = ("learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
             "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "name")


def base_args(args: dict) -> dict:
    """The base optimizer's arguments out of a subclass __init__'s ``locals()``."""
    return {k: args[k] for k in BASE_ARGS}


class SGD(Optimizer):
    """Keras' SGD: ``m = momentum * m - lr * g; w += m`` (Nesterov: ``w += momentum * m - lr * g``).

    The fused kernel runs it as torch's momentum SGD (``maximize`` with step ``-lr``), whose buffer is
    ``m / lr``: the ``momentum`` slots hold Keras' ``m`` divided by the learning rate of the last step, and
    are rescaled once when the learning rate changes (a schedule), so no extra pass is made at a constant
    rate. A step at rate 0 decays ``m`` alone, as Keras' does."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def _build_slots(self, variables) -> None:
        self.momentums = self.add_optimizer_variables(variables, "momentum") if self.momentum != 0 else []
        self._buffer_lr = None  # the learning rate the buffers are in units of (None: all zero)

    def _update(self, grads, variables, learning_rate: float) -> None:
        mom = self.momentum
        if mom == 0:
            F.sgd(variables, [Tensor._wrap(g) for g in grads], [], lr=learning_rate, momentum=0.0, dampening=0.0,
                  nesterov=False, weight_decay=0.0, maximize=False)
            return
        ref = self._buffer_lr
        if learning_rate == 0.0:  # m = momentum * m, w += m (or momentum * m with Nesterov)
            if ref is not None:
                for v in variables:
                    b = self.momentums[self._index[id(v)]]._data
                    b *= b.dtype.type(mom)
                    v._data += b * b.dtype.type(ref * mom if self.nesterov else ref)
            return
        if ref is not None and ref != learning_rate:
            for b in self.momentums:
                b._data *= b._data.dtype.type(ref / learning_rate)
        self._buffer_lr = learning_rate
        bufs = [self.momentums[self._index[id(v)]] for v in variables]
        F.sgd(variables, [Tensor._wrap(g) for g in grads], bufs, lr=-learning_rate, momentum=mom, dampening=0.0,
              nesterov=bool(self.nesterov), weight_decay=0.0, maximize=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Keras' Adam (``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``) on torch's fused Adam
    kernel: torch's update with ``eps_t = eps / sqrt(1 - b2^t)`` is exactly Keras'. Keras' weight decay
    (``w *= 1 - lr * wd`` before the update) is the kernel's decoupled decay."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _build_slots(self, variables) -> None:
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])
        self._velocity_hats = self.add_optimizer_variables(variables, "velocity_hat") if self.amsgrad else []
        # the kernel's per-tensor step counters (torch's state["step"]), set from the iteration each step
        self._kernel_steps = [Tensor._wrap(backend_of(v._data).xp.zeros((), "float32")) for v in variables]

    def _apply_weight_decay(self, variables, lr: float) -> None:
        self._fused_decay = self.weight_decay is not None and all(self._use_weight_decay(v) for v in variables)
        if not self._fused_decay:
            super()._apply_weight_decay(variables, lr)

    def _update(self, grads, variables, learning_rate: float) -> None:
        idx = [self._index[id(v)] for v in variables]
        t = self._step_count()
        steps = [self._kernel_steps[i] for i in idx]
        for s in steps:
            s._data[...] = t  # the kernel counts it up to t + 1 before use
        eps = self.epsilon / math.sqrt(1.0 - self.beta_2 ** (t + 1))
        F.adam(variables, [Tensor._wrap(g) for g in grads], [self._momentums[i] for i in idx],
               [self._velocities[i] for i in idx], [self._velocity_hats[i] for i in idx] if self.amsgrad else [],
               steps, lr=learning_rate, beta1=self.beta_1, beta2=self.beta_2, eps=eps,
               weight_decay=self.weight_decay if self._fused_decay else 0.0, amsgrad=bool(self.amsgrad),
               maximize=False, decoupled=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with Keras' default decoupled weight decay of 0.004."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad, **base_args(locals()),
                         **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")


