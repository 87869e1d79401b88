"""Keras' RMSprop, Adadelta, Adagrad, Adamax, Nadam, Adafactor, Ftrl, Lamb and Lion: each update is a few
vectorised passes over the weight's array in its own array module (NumPy or the device's), Keras'
formulas term for term (see each ``_step``)."""
from __future__ import annotations

import math

from ... import creation
from ...backend import backend_of
from ..._tensor import Tensor
from .base import Optimizer
from .fused import base_args


class _ArrayOptimizer(Optimizer):
    """Updates weight by weight: ``_step(i, g, w, lr, xp)`` with weight ``i``'s gradient and weight arrays
    (the slots are looked up by ``i``), written in place."""

    def _update(self, grads, variables, learning_rate: float) -> None:
        self._before_update()
        for g, v in zip(grads, variables):
            w = v._data
            self._step(self._index[id(v)], g, w, learning_rate, backend_of(w).xp)

    def _before_update(self) -> None:
        pass

    def _local_step(self) -> int:
        return self._step_count() + 1


class RMSprop(_ArrayOptimizer):
    """``v = rho v + (1 - rho) g^2`` (centered: minus the square of the gradients' moving mean);
    ``w -= lr g / sqrt(v + eps)``, through a momentum buffer when ``momentum > 0``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _build_slots(self, variables) -> None:
        self._velocities = self.add_optimizer_variables(variables, "velocity")
        self._momentums = self.add_optimizer_variables(variables, "momentum") if self.momentum > 0 else []
        self._average_gradients = self.add_optimizer_variables(variables, "average_gradient") if self.centered else []

    def _step(self, i, g, w, lr, xp) -> None:
        rho = self.rho
        v = self._velocities[i]._data
        v *= rho
        v += (1 - rho) * (g * g)
        if self.centered:
            a = self._average_gradients[i]._data
            a *= rho
            a += (1 - rho) * g
            denom = v - a * a + self.epsilon
        else:
            denom = v + self.epsilon
        inc = (lr * g) / xp.sqrt(denom)
        if self.momentum > 0:
            m = self._momentums[i]._data
            m *= self.momentum
            m += inc
            inc = m
        w -= inc

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adadelta(_ArrayOptimizer):
    """``E[g^2] = rho E[g^2] + (1 - rho) g^2``; ``d = -sqrt(E[d^2] + eps) / sqrt(E[g^2] + eps) g``;
    ``E[d^2] = rho E[d^2] + (1 - rho) d^2``; ``w += lr d``."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _build_slots(self, variables) -> None:
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            variables, ["accumulated_grad", "accumulated_delta_var"])

    def _step(self, i, g, w, lr, xp) -> None:
        rho, eps = self.rho, self.epsilon
        ag, ad = self._accumulated_grads[i]._data, self._accumulated_delta_vars[i]._data
        ag *= rho
        ag += (1 - rho) * (g * g)
        delta = -(xp.sqrt(ad + eps) * g) / xp.sqrt(ag + eps)
        ad *= rho
        ad += (1 - rho) * (delta * delta)
        w += lr * delta

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adagrad(_ArrayOptimizer):
    """``acc += g^2``; ``w -= lr g / sqrt(acc + eps)``, the accumulator starting at
    ``initial_accumulator_value``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _build_slots(self, variables) -> None:
        from ..initializers import Constant

        self._accumulators = self.add_optimizer_variables(variables, "accumulator",
                                                          initializer=Constant(self.initial_accumulator_value))

    def _step(self, i, g, w, lr, xp) -> None:
        acc = self._accumulators[i]._data
        acc += g * g
        w -= (lr * g) / xp.sqrt(acc + self.epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class _AdamFamily(_ArrayOptimizer):
    """Adam's ``beta_1`` / ``beta_2`` / ``epsilon`` and their config, and its first and second moments
    (the ``momentum`` and ``velocity`` slots) for Nadam, Lamb and ScheduleFreeAdamW; Adamax has its own
    slots."""

    def _set_betas(self, beta_1, beta_2, epsilon) -> None:
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _build_slots(self, variables) -> None:
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])

    def _moments(self, i, g):
        """Weight ``i``'s moments moved towards ``g`` and ``g^2`` (in place); returns both arrays."""
        m, v = self._momentums[i]._data, self._velocities[i]._data
        m += (g - m) * (1 - self.beta_1)
        v += (g * g - v) * (1 - self.beta_2)
        return m, v

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adamax(_AdamFamily):
    """``m += (g - m)(1 - b1)``; ``u = max(b2 u, |g|)``; ``w -= lr m / ((1 - b1^t)(u + eps))``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self._set_betas(beta_1, beta_2, epsilon)

    def _build_slots(self, variables) -> None:
        self._m, self._u = self.add_optimizer_variables(variables, ["momentum", "norm"])

    def _step(self, i, g, w, lr, xp) -> None:
        m, u = self._m[i]._data, self._u[i]._data
        m += (g - m) * (1 - self.beta_1)
        xp.maximum(self.beta_2 * u, xp.abs(g), out=u)
        w -= (lr * m) / ((1 - self.beta_1 ** self._local_step()) * (u + self.epsilon))


class Nadam(_AdamFamily):
    """Adam with Nesterov momentum and Keras' momentum schedule ``u_t = b1 (1 - 0.5 * 0.96^t)``, whose
    running product is the ``u_product`` variable."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self._set_betas(beta_1, beta_2, epsilon)

    def _build_slots(self, variables) -> None:
        super()._build_slots(variables)
        self._u_product = (Tensor._wrap(backend_of(variables[0]._data).xp.ones((), variables[0]._data.dtype))
                           if variables else creation.ones((), dtype="float32"))
        self._variables.append(self._u_product)

    def _u(self, t: int) -> float:
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _before_update(self) -> None:
        t = self._local_step()
        self._u_product._write((), float(self._u_product.item()) * self._u(t))
        self._coef = (self._u(t), self._u(t + 1), float(self._u_product.item()))

    def _step(self, i, g, w, lr, xp) -> None:
        u_t, u_t1, prod = self._coef
        prod_next = prod * u_t1
        m, v = self._moments(i, g)
        m_hat = (u_t1 * m) / (1 - prod_next) + ((1 - u_t) * g) / (1 - prod)
        v_hat = v / (1 - self.beta_2 ** self._local_step())
        w -= (m_hat * lr) / (xp.sqrt(v_hat) + self.epsilon)


class Adafactor(_ArrayOptimizer):
    """Factored second moments: per row ``r`` and column ``c`` running means of ``g^2 + epsilon_1`` for
    weights of rank >= 2 (a full ``v`` otherwise), ``beta_2_t = 1 - t^beta_2_decay``, the update clipped
    to RMS ``clip_threshold`` and scaled by ``max(epsilon_2, RMS(w)) * min(lr, 1/sqrt(t))``."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def _build_slots(self, variables) -> None:
        self._r, self._c, self._v = [], [], []
        for var in variables:
            shape = tuple(var.shape)
            if len(shape) < 2:
                r, c = creation.zeros((), dtype="int64"), creation.zeros((), dtype="int64")
                self._variables += [r, c]
            else:
                xp = backend_of(var._data).xp
                r = Tensor._wrap(xp.zeros(shape[:-1], var._data.dtype))
                c = Tensor._wrap(xp.zeros(shape[:-2] + shape[-1:], var._data.dtype))
                self._variables += [r, c]
            self._r.append(r)
            self._c.append(c)
            self._v.append(self.add_variable_from_reference(var, "velocity"))

    def _step(self, i, g, w, lr, xp) -> None:
        t = float(self._local_step())
        if not callable(self._learning_rate) and self.relative_step:
            lr = min(lr, 1 / math.sqrt(t))
        rho_t = min(lr, 1 / math.sqrt(t))
        alpha_t = max(self.epsilon_2, float(xp.sqrt(xp.mean(w * w)))) * rho_t
        rgs = g * g + w.dtype.type(self.epsilon_1)
        b = 1 - t ** self.beta_2_decay
        v = self._v[i]._data
        if w.ndim >= 2:
            r, c = self._r[i]._data, self._c[i]._data
            r *= b
            r += (1 - b) * xp.mean(rgs, axis=-1)
            c *= b
            c += (1 - b) * xp.mean(rgs, axis=-2)
            v[...] = (r / xp.mean(r, axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v *= b
            v += (1 - b) * rgs
        u = g / xp.sqrt(v)
        u_hat = u / max(1.0, float(xp.sqrt(xp.mean(u * u))) / self.clip_threshold)
        w -= alpha_t * u_hat

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}


class Ftrl(_ArrayOptimizer):
    """Follow-the-regularized-leader (McMahan et al.) with L1, L2 and L2-shrinkage regularisation, Keras'
    update term for term."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        if initial_accumulator_value < 0.0:
            raise ValueError("`initial_accumulator_value` needs to be positive or zero. Received: "
                             f"initial_accumulator_value={initial_accumulator_value}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        if l1_regularization_strength < 0.0:
            raise ValueError("`l1_regularization_strength` needs to be positive or zero. Received: "
                             f"l1_regularization_strength={l1_regularization_strength}.")
        if l2_regularization_strength < 0.0:
            raise ValueError("`l2_regularization_strength` needs to be positive or zero. Received: "
                             f"l2_regularization_strength={l2_regularization_strength}.")
        if l2_shrinkage_regularization_strength < 0.0:
            raise ValueError("`l2_shrinkage_regularization_strength` needs to be positive or zero. Received: "
                             f"l2_shrinkage_regularization_strength={l2_shrinkage_regularization_strength}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _build_slots(self, variables) -> None:
        from ..initializers import Constant

        self._accumulators, self._linears = self.add_optimizer_variables(
            variables, ["accumulator", "linear"], initializer=[Constant(self.initial_accumulator_value), "zeros"])

    def _step(self, i, g, w, lr, xp) -> None:
        p = -self.learning_rate_power
        accum, linear = self._accumulators[i]._data, self._linears[i]._data
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        grad_to_use = g + (2 * self.l2_shrinkage_regularization_strength) * w
        new_accum = accum + g * g
        new_pow = new_accum ** p
        linear += grad_to_use - ((new_pow - accum ** p) / lr) * w
        quadratic = new_pow / lr + 2 * l2
        l1 = self.l1_regularization_strength
        w[...] = (xp.clip(linear, -l1, l1) - linear) / quadratic
        accum[...] = new_accum

    def get_config(self) -> dict:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Lamb(_AdamFamily):
    """Adam's bias-corrected direction scaled per weight by the trust ratio ``||w|| / ||update||``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self._set_betas(beta_1, beta_2, epsilon)

    def _step(self, i, g, w, lr, xp) -> None:
        t = self._local_step()
        m, v = self._moments(i, g)
        update = (m / (1.0 - self.beta_1 ** t)) / (xp.sqrt(v / (1.0 - self.beta_2 ** t)) + self.epsilon)
        w_norm = float(xp.sqrt(xp.sum(w * w)))
        g_norm = float(xp.sqrt(xp.sum(update * update)))
        ratio = w_norm / g_norm if w_norm > 0 and g_norm > 0 else 1.0
        w -= (ratio * lr) * update


class Lion(_ArrayOptimizer):
    """``w -= lr sign(b1 m + (1 - b1) g)``; ``m = b2 m + (1 - b2) g``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to "
                             f"SignSGD. Received: beta_1={beta_1}.")

    def _build_slots(self, variables) -> None:
        self._momentums = self.add_optimizer_variables(variables, "momentum")

    def _step(self, i, g, w, lr, xp) -> None:
        m = self._momentums[i]._data
        w -= lr * xp.sign(m * self.beta_1 + g * (1.0 - self.beta_1))
        m *= self.beta_2
        m += g * (1.0 - self.beta_2)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class ScheduleFreeAdamW(_AdamFamily):
    """Schedule-free AdamW (Defazio et al.): the ``momentum`` slot is the iterate ``z`` (starting at the
    weights), ``x`` its running average, and the weights hold ``y = (1 - b1) z + b1 x``; ``warmup_steps``
    ramps the rate linearly. ``x`` is recovered from the weights and the iterate *before* this step, as
    Keras' code reads and its TensorFlow / JAX backends compute (on Keras' torch backend ``momentum.value``
    aliases the updated slot, so there the new iterate is used)."""

    def __init__(self, learning_rate=0.0025, beta_1=0.9, beta_2=0.999, epsilon=1e-8, warmup_steps=0,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self._set_betas(beta_1, beta_2, epsilon)
        self.warmup_steps = warmup_steps

    def _build_slots(self, variables) -> None:
        super()._build_slots(variables)
        for m, var in zip(self._momentums, variables):
            m._data[...] = var._data

    def _step(self, i, g, w, lr, xp) -> None:
        t = float(self._local_step())
        if self.warmup_steps > 0:
            lr = lr * min(t / self.warmup_steps, 1.0)
        b1, b2 = self.beta_1, self.beta_2
        z, v = self._momentums[i]._data, self._velocities[i]._data
        z_old = z.copy()
        v += (g * g - v) * (1 - b2)
        z -= (lr * g) / (xp.sqrt(v / (1 - b2 ** t)) + self.epsilon)
        weight = 1.0 / t
        x_old = (w - (1 - b1) * z_old) / b1  # x_t from y_t and z_t (the iterate before this step)
        x_new = (1 - weight) * x_old + weight * z
        w[...] = (1 - b1) * z + b1 * x_new

    def get_config(self) -> dict:
        return {**super().get_config(), "warmup_steps": self.warmup_steps}
