"""Keras 3's ``Optimizer`` base on fastnn tensors: the variables it tracks (``iterations``, the learning rate,
per-weight slots in Keras' order), lazy ``build``, ``apply(grads, vars)`` / ``apply_gradients(zip(grads,
vars))`` with Keras' order of work in a step (unscale by ``loss_scale_factor``, accumulate gradients, clip,
decay weights, update, moving averages, count the iteration), learning-rate schedules, and
get_config / from_config.

Weights are fastnn Parameters (``layer.trainable_weights``); an object with a ``.value`` Parameter (a Keras
``Variable``-like wrapper) is accepted too. Updates run on the weights' arrays in place (``be.xp``, or a
fused kernel for SGD / Adam / AdamW), under no autograd."""
from __future__ import annotations

import math
import re
import warnings

import numpy as np

from ... import creation
from ...autograd.grad_mode import no_grad
from ...backend import backend_of
from ..._tensor import Tensor
from .. import constraints
from ..distribution import data_parallel
from ..device_scope import get_device
from ..layers.base import snake_case, unique_name, weight_path
from . import schedules as schedules_mod


def _tensor_of(v) -> Tensor:
    """The Parameter behind ``v`` (a Parameter, or a Variable-like wrapper holding one as ``.value``)."""
    if isinstance(v, Tensor):
        return v
    value = getattr(v, "value", None)
    if isinstance(value, Tensor):
        return value
    raise TypeError(f"Expected a fastnn Parameter (a layer's weight) as a variable, got {type(v).__name__}")


def _grad_of(g, like: Tensor):
    """A gradient as an array of its variable's backend and dtype (None stays None)."""
    if g is None:
        return None
    arr = g._data if isinstance(g, Tensor) else backend_of(like._data).from_host(g)
    if arr.dtype != like._data.dtype:
        arr = arr.astype(like._data.dtype)
    return arr


def _name_of(v) -> str:
    path = getattr(v, "path", None) or weight_path(v)
    return path if path is not None else f"variable_{id(v)}"


class Optimizer:
    """Keras' base optimizer. A subclass creates its per-weight slots in ``build(var_list)`` with
    ``add_optimizer_variables`` and implements ``update_step(gradient, variable, learning_rate)`` (tensors;
    ``self.assign`` / ``assign_add`` / ``assign_sub`` write variables), as Keras' do."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, **kwargs) -> None:
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=2)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        self.name = name if name is not None else unique_name(snake_case(type(self).__name__))
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.global_clipnorm = global_clipnorm
        self.clipvalue = clipvalue
        self.use_ema = use_ema
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps}")
        if use_ema:
            if ema_momentum > 1 or ema_momentum < 0:
                raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}")
            if ema_overwrite_frequency and (not isinstance(ema_overwrite_frequency, int)
                                            or ema_overwrite_frequency < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                                 f"ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self.built = False
        self._variables: list[Tensor] = []
        self._trainable_variables: list[Tensor] = []
        self._index: dict[int, int] = {}
        self._count = 0  # the raw iteration count (Python mirror of the ``iteration`` variable)
        self._iterations = creation.zeros((), dtype="int64", device=get_device())
        self._variables.append(self._iterations)
        self._lr_var = None
        self._set_learning_rate(learning_rate, initial=True)

    # ---- learning rate -----------------------------------------------------------------------------------
    def _set_learning_rate(self, learning_rate, initial: bool = False) -> None:
        if isinstance(learning_rate, schedules_mod.LearningRateSchedule) or callable(learning_rate):
            if self._lr_var is not None:
                self._variables.remove(self._lr_var)
                self._lr_var = None
            self._learning_rate = learning_rate
            return
        if initial and not isinstance(learning_rate, float):
            raise ValueError("Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
                             "or a callable (that takes in the current iteration value and returns the "
                             f"corresponding learning rate value). Received instead: learning_rate={learning_rate}")
        if isinstance(getattr(self, "_learning_rate", None), schedules_mod.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. If "
                            "you need the learning rate to be settable, you should instantiate the optimizer "
                            "with a float `learning_rate` argument.")
        value = float(np.float32(float(learning_rate)))  # a float32 variable, as Keras'
        if self._lr_var is None:
            self._lr_var = creation.tensor(value, dtype="float32", device=self._iterations.device)
            self._variables.insert(1, self._lr_var)
        else:
            self._lr_var._write((), value)
        self._learning_rate = value

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, schedules_mod.LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr())
        return lr  # the host mirror of the learning-rate variable (written with it): no device read per step

    @property
    def learning_rate(self) -> float:
        """The current learning rate (a schedule's value at the current iteration) as a float."""
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._set_learning_rate(value)

    lr = learning_rate

    @property
    def iterations(self) -> Tensor:
        """The number of updates applied (a 0-d int64 tensor; with gradient accumulation, of real updates)."""
        if self.gradient_accumulation_steps:
            return creation.tensor(self._count // self.gradient_accumulation_steps, dtype="int64",
                                   device=self._iterations.device)
        return self._iterations

    def _step_count(self) -> int:
        return self._count // self.gradient_accumulation_steps if self.gradient_accumulation_steps else self._count

    # ---- variables ---------------------------------------------------------------------------------------
    @property
    def variables(self) -> list[Tensor]:
        return self._variables[:]

    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation: str = "none", layout=None,
                     name=None) -> Tensor:
        from .. import initializers

        value = initializers.get(initializer)(tuple(shape), dtype=dtype or "float32")
        t = value.detach() if isinstance(value, Tensor) else creation.tensor(value, device=get_device())
        self._variables.append(t)
        return t

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros") -> Tensor:
        from .. import initializers

        ref = _tensor_of(reference_variable)
        init = initializers.get(initializer)
        if getattr(init, "_is_zeros", False):
            t = Tensor._wrap(backend_of(ref._data).xp.zeros_like(ref._data, order="C"))
        else:
            t = Tensor._wrap(backend_of(ref._data).xp.empty_like(ref._data, order="C"))
            initializers.initialize(t, init)
        self._variables.append(t)
        return t

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable for each name, interleaved per variable (Keras' order)."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else [initializer] * len(names)
        if len(names) != len(inits):
            raise ValueError(f"The number of provided names must match the number of provided initializers.  "
                             f"Received name='{name}', initializer='{initializer}'")
        out = tuple([] for _ in names)
        for v in trainable_variables:
            for i, init in enumerate(inits):
                out[i].append(self.add_variable_from_reference(v, name=names[i], initializer=init))
        return out[0] if isinstance(name, str) else out

    def build(self, variables) -> None:
        """Creates the state for ``variables`` (Parameters that require grad; others are left out). Called
        lazily by the first apply; called again with other weights (another model), it starts afresh."""
        variables = [_tensor_of(v) for v in variables]
        variables = [v for v in variables if v.requires_grad]
        if self.built and [id(v) for v in variables] == [id(v) for v in self._trainable_variables]:
            return
        if self.built:  # a new set of weights: drop the old state, keep the counters and learning rate
            self._variables = self._variables[:1 + (self._lr_var is not None)]
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        if variables:
            self._follow_device(variables[0].device)
        if self.use_ema:
            self._model_variables_moving_average = self.add_optimizer_variables(variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulated_gradients = [self.add_variable_from_reference(v, "gradient_accumulator")
                                           for v in variables]
        self.built = True
        self._build_slots(variables)

    def _follow_device(self, dev) -> None:
        """Puts the counters (iterations, the learning rate) on the weights' device, where the per-weight
        slots are made too: an optimizer made outside the model's ``keras.device`` scope keeps its state
        beside the weights it updates."""
        if self._iterations.device == dev:
            return
        moved = {id(self._iterations): self._iterations.to(dev)}
        if self._lr_var is not None:
            moved[id(self._lr_var)] = self._lr_var.to(dev)
            self._lr_var = moved[id(self._lr_var)]
        self._iterations = moved[id(self._iterations)]
        self._variables = [moved.get(id(v), v) for v in self._variables]

    def _build_slots(self, variables) -> None:
        """Subclasses create their per-weight state here."""

    @property
    def _params(self) -> list:
        """The weights the optimizer was built with (the name the training loop used before)."""
        return self._trainable_variables

    @property
    def _inner(self):
        """Non-None once built (the training loop's "has state" check)."""
        return self if self.built else None

    def _get_variable_index(self, variable) -> int:
        return self._index[id(_tensor_of(variable))]

    def assign(self, variable, value) -> None:
        t = _tensor_of(variable)
        with no_grad():
            t._write(..., value._data if isinstance(value, Tensor) else value)

    def assign_add(self, variable, value) -> None:
        t = _tensor_of(variable)
        t._data += value._data if isinstance(value, Tensor) else value
        t._written()

    def assign_sub(self, variable, value) -> None:
        t = _tensor_of(variable)
        t._data -= value._data if isinstance(value, Tensor) else value
        t._written()

    # ---- applying gradients ------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars=None):
        """Keras' ``apply_gradients(zip(grads, vars))``; with no argument, applies the ``.grad`` of the
        weights the optimizer was built with (the compiled training loop's call after ``backward``)."""
        if grads_and_vars is None:
            if not self.built:
                return self._iterations
            pairs = [(p.grad, p) for p in self._trainable_variables if p.grad is not None]
            if pairs:
                self._apply([g for g, _ in pairs], [p for _, p in pairs])
            return self._iterations
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None) -> None:
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built on "
                                 "a list of variables. Call `optimizer.build(trainable_variables)` first. ")
            if len(grads) != len(self._trainable_variables):
                raise ValueError("When passing `grads` as a list of gradient tensors, the gradients must match "
                                 f"`optimizer.variables` one-to-on. Received a list of {len(grads)} gradients, but "
                                 f"the optimizer is tracking {len(self._trainable_variables)} trainable variables.")
            variables = list(self._trainable_variables)
        else:
            variables = [_tensor_of(v) for v in trainable_variables]
            if not self.built:
                self.build(variables)
            for v in variables:
                if id(v) not in self._index:
                    raise ValueError(f"Unknown variable: {_name_of(v)}. This optimizer can only be called for the "
                                     "variables it was originally built with. When working with a new set of "
                                     "variables, you should recreate a new optimizer instance.")
        kept = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable.")
        if len(kept) < len(grads):
            missing = [_name_of(v) for g, v in zip(grads, variables) if g is None]
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                          "`model.compile()`, did you forget to provide a `loss` argument?", stacklevel=2)
        self._apply([g for g, _ in kept], [v for _, v in kept])

    def _apply(self, grads, variables) -> None:
        with no_grad():
            arrays = data_parallel.sync_gradients([_grad_of(g, v) for g, v in zip(grads, variables)])
            if self.loss_scale_factor is not None:
                arrays = [a / a.dtype.type(self.loss_scale_factor) for a in arrays]
            if self.gradient_accumulation_steps:
                steps = self.gradient_accumulation_steps
                accs = [self._accumulated_gradients[self._index[id(v)]] for v in variables]
                if (self._count + 1) % steps == 0:
                    arrays = [(a + acc._data) / a.dtype.type(steps) for a, acc in zip(arrays, accs)]
                    self._update_with(arrays, variables)
                    for acc in self._accumulated_gradients:
                        acc._data[...] = 0
                        acc._written()
                else:
                    for a, acc in zip(arrays, accs):
                        acc._data += a
                        acc._written()
            else:
                self._update_with(arrays, variables)
            if self.use_ema:
                self._update_moving_averages()
                freq = self.ema_overwrite_frequency
                if freq and (self._step_count() + 1) % freq == 0:
                    self._overwrite_model_variables_with_average_value(self._trainable_variables)
            constraints.apply_constraints(variables)  # Keras projects constrained weights after each apply
            self._count += 1
            self._iterations._write((), self._count)

    def _update_with(self, arrays, variables) -> None:
        arrays = self._clip_gradients(arrays)
        lr = self._current_learning_rate()
        self._apply_weight_decay(variables, lr)
        self._update(arrays, variables, lr)
        for v in variables:
            v._written()

    def _update(self, grads, variables, learning_rate: float) -> None:
        """One update of every variable with its gradient array (Keras' ``_backend_update_step``)."""
        for g, v in zip(grads, variables):
            self.update_step(Tensor._wrap(g), v, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError

    # ---- clipping, weight decay, moving averages ---------------------------------------------------------
    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            out = []
            for g in grads:
                xp = backend_of(g).xp
                l2 = xp.sqrt(xp.sum(g * g))
                out.append(g * g.dtype.type(self.clipnorm) / xp.maximum(l2, g.dtype.type(self.clipnorm)))
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            xp = backend_of(grads[0]).xp
            norm = math.sqrt(sum(float(xp.sum(g.astype(np.float64) ** 2)) for g in grads))
            c = self.global_clipnorm
            scale = c * min(1.0 / norm if norm else math.inf, 1.0 / c) + (norm - norm if math.isfinite(norm)
                                                                          else math.nan)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            v = self.clipvalue
            return [backend_of(g).xp.clip(g, -v, v) for g in grads]
        return grads

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._exclude_ids = {id(_tensor_of(v)) for v in var_list} if var_list else set()
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, variable) -> bool:
        if id(variable) in getattr(self, "_exclude_ids", ()):
            return False
        pattern = getattr(self, "_exclude_pattern", None)
        return not (pattern is not None and pattern.search(_name_of(variable).split("/")[-1]) is not None)

    def _apply_weight_decay(self, variables, lr: float) -> None:
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                w = v._data
                w *= w.dtype.type(1.0 - self.weight_decay * lr)

    def _update_moving_averages(self) -> None:
        momentum = self.ema_momentum if self._step_count() != 0 else 0.0
        for var, avg in zip(self._trainable_variables, self._model_variables_moving_average):
            a = avg._data
            a *= a.dtype.type(momentum)
            a += a.dtype.type(1.0 - momentum) * var._data
            avg._written()

    def _overwrite_model_variables_with_average_value(self, trainable_variables) -> None:
        trainable_variables = [_tensor_of(v) for v in trainable_variables]
        if len(trainable_variables) != len(self._model_variables_moving_average):
            raise ValueError(f"The length of model variables ({len(trainable_variables)}) to override does not match "
                             "the length of model variables stored in the optimizer "
                             f"({len(self._model_variables_moving_average)}). Please check if the optimizer was "
                             "called on your model.")
        with no_grad():
            for var, avg in zip(trainable_variables, self._model_variables_moving_average):
                var._write(..., avg._data)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, writes the moving averages into the model's weights (Keras does it after fit)."""
        if self.use_ema:
            self._overwrite_model_variables_with_average_value(var_list)

    def scale_loss(self, loss):
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def zero_grad(self) -> None:
        for p in self._trainable_variables:
            p.grad = None

    # ---- state and config --------------------------------------------------------------------------------
    def set_weights(self, weights) -> None:
        if not self.built:
            raise ValueError("You are calling `set_weights()` on an optimizer that has not yet been built. Please "
                             "call `optimizer.build(trainable_variables)` to create the optimizer weights before "
                             "calling `set_weights()`.")
        for variable, weight in zip(self._variables, weights):
            arr = weight._data if isinstance(weight, Tensor) else weight
            if tuple(variable.shape) != tuple(getattr(arr, "shape", ())):
                raise ValueError(f"Optimizer variable has shape {tuple(variable.shape)} not compatible with provided "
                                 f"weight shape {tuple(getattr(arr, 'shape', ()))}.")
            variable._write(..., backend_of(variable._data).from_host(arr) if not isinstance(weight, Tensor) else arr)
        self._count = int(self._iterations.item())
        if self._lr_var is not None:
            self._learning_rate = float(self._lr_var.item())

    def get_weights(self) -> list:
        return [backend_of(v._data).to_host(v._data).copy() for v in self._variables]

    def save_own_variables(self, store) -> None:
        for i, array in enumerate(self.get_weights()):
            store[str(i)] = array

    def load_own_variables(self, store) -> None:
        if len(store.keys()) != len(self.variables):
            msg = (f"Skipping variable loading for optimizer '{self.name}', because it has {len(self.variables)} "
                   f"variables whereas the saved optimizer has {len(store.keys())} variables. ")
            if len(self.variables) == 0:
                msg += "This is likely because the optimizer has not been called/built yet."
            warnings.warn(msg, stacklevel=2)
            return
        self.set_weights([store[str(i)] for i in range(len(self.variables))])

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules_mod.LearningRateSchedule):
            lr = schedules_mod.serialize(lr)
        elif callable(lr):
            lr = lr
        else:
            lr = float(self._lr_var.item())
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_mod.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"
