"""Keras' LossScaleOptimizer: dynamic loss scaling around an inner optimizer (for float16 training)."""
from __future__ import annotations

from ... import creation
from ...backend import backend_of
from ..._tensor import Tensor
from ..distribution import data_parallel
from .base import Optimizer, _grad_of, _tensor_of


class LossScaleOptimizer(Optimizer):
    """Scales the loss by ``dynamic_scale`` (``scale_loss``), and in ``apply`` divides the gradients by it
    before the inner optimizer's update. A step with a non-finite gradient is skipped and halves the scale;
    ``dynamic_growth_steps`` finite steps in a row double it."""

    def __init__(self, inner_optimizer, initial_scale=2.0**15, dynamic_growth_steps=2000, name=None,
                 **kwargs) -> None:
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        defaults = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                    "loss_scale_factor": None, "gradient_accumulation_steps": None}
        for arg, default in defaults.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set `{arg}` on the "
                                 "`inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs.keys())}`.")
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = dynamic_growth_steps
        self.inner_optimizer.loss_scale_factor = None

    def build(self, var_list) -> None:
        var_list = [v for v in (_tensor_of(v) for v in var_list) if v.requires_grad]
        if self.built and [id(v) for v in var_list] == [id(v) for v in self._trainable_variables]:
            return
        self._variables = self._variables[:2]
        self.step_counter = creation.zeros((), dtype="int64")
        self.dynamic_scale = creation.tensor(float(self.initial_scale), dtype="float32")
        self._variables += [self.step_counter, self.dynamic_scale]
        self.inner_optimizer.build(var_list)
        self._trainable_variables = var_list
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self.built = True

    @property
    def variables(self):
        return self._variables[:] + self.inner_optimizer.variables

    def check_finite(self, grads) -> bool:
        for g in grads:
            if g is None:
                continue
            arr = g._data if hasattr(g, "_data") else g
            if not bool(backend_of(arr).xp.isfinite(arr).all()):
                return False
        return True

    def apply(self, grads, trainable_variables=None) -> None:
        grads = list(grads)
        if not self.built:
            self.build(trainable_variables)
        if not data_parallel.all_ranks_true(self.check_finite(grads)):  # all ranks skip the step together
            self.step_counter._write((), 0)
            self.dynamic_scale._write((), float(self.dynamic_scale.item()) * 0.5)
            return
        scale = float(self.dynamic_scale.item())
        variables = self._trainable_variables if trainable_variables is None else \
            [_tensor_of(v) for v in trainable_variables]
        unscaled = [None if g is None else Tensor._wrap(_grad_of(g, v) / _grad_of(g, v).dtype.type(scale))
                    for g, v in zip(grads, variables)]
        self.inner_optimizer.apply(unscaled, trainable_variables=trainable_variables)
        if int(self.step_counter.item()) == self.dynamic_growth_steps - 1:
            self.step_counter._write((), 0)
            self.dynamic_scale._write((), scale * 2.0)
        else:
            self.step_counter._write((), int(self.step_counter.item()) + 1)

    def apply_gradients(self, grads_and_vars=None):
        if grads_and_vars is None:
            if not self.built:
                return self.iterations
            pairs = [(p.grad, p) for p in self._trainable_variables]
            self.apply([g for g, _ in pairs], [p for _, p in pairs])
            return self.iterations
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self.iterations

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def scale_loss(self, loss):
        scale = float(self.dynamic_scale.item()) if self.built else self.initial_scale
        return loss * scale

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def zero_grad(self) -> None:
        self.inner_optimizer.zero_grad()

    def get_config(self) -> dict:
        from . import serialize

        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize

        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)
