"""Keras 3's stateful metric API: ``Metric`` (state in ``add_variable`` variables, ``update_state`` /
``result`` / ``reset_state``, ``variables``, ``get_config`` / ``from_config``), the reducing metrics ``Mean``
and ``Sum``, and ``MeanMetricWrapper`` (the mean of a per-sample function).

State lives in ``Variable``s: fastnn tensors (so ``self.total + x`` and every ``keras.ops`` call take them)
with Keras' ``assign`` / ``assign_add`` / ``assign_sub`` / ``value``. Metric updates never enter the autograd
graph: ``update_state`` runs under ``no_grad``, and the variables move to the device of the data they are
given (a model on a GPU counts there; nothing is brought to the host until a caller asks for a number)."""
from __future__ import annotations

import functools
import inspect

import fastnn

from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from .device_scope import get_device
from .layers.base import snake_case, unique_name
from .loss_base import EPSILON, squeeze_or_expand_to_same_rank  # noqa: F401  (EPSILON: the metrics import it here)
from .masking import get_mask, set_mask
from .ops._convert import dtype_of, python_data_dtype

FLOATX = "float32"


def dtype_name(dtype) -> str:
    """A Keras dtype string ("float32") from a string, a fastnn dtype or None (floatx); "int" / "float" are
    Keras' shorthands for int32 / float32."""
    if dtype is None:
        return FLOATX
    if isinstance(dtype, str) and dtype in ("int", "float", "uint"):
        return {"int": "int32", "float": "float32", "uint": "uint32"}[dtype]
    return str(dtype_of(dtype)).replace("fastnn.", "")


def as_tensor(x, dtype=None, like: Tensor | None = None) -> Tensor:
    """``x`` as a tensor (Tensors pass through, cast if ``dtype`` differs); host data (arrays, lists,
    numbers) becomes a tensor on ``like``'s device, else on the current Keras device. Python floats become
    float32, ints int32 (Keras)."""
    dt = dtype_of(dtype) if dtype is not None else None
    if isinstance(x, Tensor):
        t = x
        if like is not None and t.device != like.device:
            t = t.to(like.device)
    else:
        t = fastnn.as_tensor(x, device=like.device if like is not None else get_device())
        if dt is None:
            t = python_data_dtype(t, x)
    if dt is not None and t.dtype != dt:
        t = t.to(dt)
    return t


class Variable(Tensor):
    """A metric's state: a tensor with a name and Keras' ``assign`` methods (never a gradient leaf)."""

    __slots__ = ("name", "path", "trainable", "aggregation")

    def __init__(self, initializer="zeros", shape=(), dtype=None, trainable: bool = False,
                 aggregation: str = "sum", name: str | None = None, path: str | None = None) -> None:
        shape = () if shape is None else tuple(int(s) for s in shape)
        self._set(fastnn.zeros(shape, dtype=dtype_of(dtype_name(dtype)), device=get_device())._data, False)
        self.name = name or "variable"
        self.path = path or self.name
        self.trainable = trainable
        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError(f"Invalid value for argument `aggregation`: {aggregation!r}. Expected one of "
                             "'none', 'mean', 'sum', 'only_first_replica'")
        self.aggregation = aggregation
        if isinstance(initializer, str):
            if initializer.lower() != "zeros":
                from . import initializers

                with no_grad():
                    initializers.get(initializer)(self)
        elif callable(initializer):
            if _takes_shape(initializer):  # Keras' form: initializer(shape, dtype) -> the value
                self.assign(initializer(shape, dtype=dtype_name(dtype)))
            else:  # fastnn.keras.initializers' form: fills the tensor in place
                with no_grad():
                    initializer(self)
        elif initializer is not None:  # a value
            self.assign(initializer)

    @property
    def value(self) -> Tensor:
        """The current value, as a plain tensor sharing this variable's storage."""
        return Tensor._wrap(self._data)

    def assign(self, value):
        v = as_tensor(value, like=self)
        if tuple(v.shape) != tuple(self.shape):
            raise ValueError("The shape of the target variable and the shape of the target value in "
                             "`variable.assign(value)` must match. "
                             f"variable.shape={tuple(self.shape)}, Received: value.shape={tuple(v.shape)}. "
                             f"Target variable: {self!r}")
        if v.dtype != self.dtype:
            v = v.to(self.dtype)
        self._write(Ellipsis, v._data)
        return self

    def assign_add(self, value):
        return self.assign(self.value + as_tensor(value, like=self))

    def assign_sub(self, value):
        return self.assign(self.value - as_tensor(value, like=self))

    def _move_to(self, device) -> None:
        self._data = Tensor._wrap(self._data).to(device)._data
        self._written()

    def __deepcopy__(self, memo):
        out = Variable(None, tuple(self.shape), dtype_name(self.dtype), self.trainable, self.aggregation,
                       self.name, self.path)
        out._data = self._data.copy()
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return (_rebuild_variable, (self.value.cpu().numpy(), self.name, self.path, self.trainable,
                                    self.aggregation))

    def __repr__(self) -> str:
        val = self.value.cpu().numpy()  # a repr reads the value on the host
        return (f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={dtype_name(self.dtype)}, "
                f"value={val.tolist() if val.size <= 8 else '...'}>")


def _takes_shape(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "shape" in params


def _rebuild_variable(value, name, path, trainable, aggregation):
    t = fastnn.tensor(value)
    v = Variable(None, tuple(t.shape), dtype_name(t.dtype), trainable, aggregation, name, path)
    v.assign(t)
    return v


def _devices_of(args, kwargs):
    for a in tuple(args) + tuple(kwargs.values()):
        if isinstance(a, Tensor) and a.device.type != "cpu":
            return a.device
    return None


class Metric:
    """Keras 3's ``keras.metrics.Metric``: subclasses create their state with ``self.add_variable(...)`` in
    ``__init__``, accumulate it in ``update_state`` (``var.assign(...)``) and compute ``result()`` from it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("update_state")
        if fn is not None and not getattr(fn, "_metric_update", False):
            cls.update_state = _updating(fn)

    def __init__(self, dtype=None, name=None) -> None:
        object.__setattr__(self, "_variables", [])
        object.__setattr__(self, "_metrics", [])
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._dtype = dtype_name(dtype)

    def __setattr__(self, name, value):
        if isinstance(value, Metric) and "_metrics" in self.__dict__ and not name.startswith("__"):
            if all(value is not m for m in self._metrics):
                self._metrics.append(value)
        object.__setattr__(self, name, value)

    def _check_super_called(self) -> None:
        if "_variables" not in self.__dict__:
            raise RuntimeError("You forgot to call `super().__init__()` in the `__init__()` method. Go add it!")

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def variables(self) -> list:
        self._check_super_called()
        out = list(self._variables)
        for m in self._metrics:
            out.extend(m.variables)
        return out

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None) -> Variable:
        self._check_super_called()
        v = Variable(initializer, shape, dtype, trainable=False,
                     aggregation=aggregation, name=name, path=f"{self.name.replace('/', '>')}/{name or 'variable'}")
        if self._variables and self._variables[0].device != v.device:
            v._move_to(self._variables[0].device)
        self._variables.append(v)
        return v

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None) -> Variable:
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def _follow(self, device) -> None:
        """Moves the state to ``device`` (the data's), so that updates run where the predictions are."""
        for v in self.variables:
            if v.device != device:
                v._move_to(device)

    def reset_state(self) -> None:
        for v in self.variables:
            v.assign(fastnn.zeros_like(v))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # ---- the functional forms (Keras' stateless_*): state passed in and returned, the metric's own kept
    def _check_variables(self, metric_variables) -> None:
        if len(metric_variables) != len(self.variables):
            raise ValueError("Argument `metric_variables` must be a list of tensors corresponding 1:1 to "
                             f"{type(self).__name__}().variables. Received list with length "
                             f"{len(metric_variables)}, but expected {len(self.variables)} variables.")

    def _with_state(self, metric_variables, fn):
        own = [v.value.clone() for v in self.variables]
        try:
            if metric_variables is not None:
                for v, new in zip(self.variables, metric_variables):
                    v.assign(new)
            out = fn()
            if isinstance(out, Tensor):  # a result may be a state variable (or share its storage)
                out = out.clone()
            return out, [v.value.clone() for v in self.variables]
        finally:
            for v, old in zip(self.variables, own):
                v.assign(old)

    def stateless_update_state(self, metric_variables, *args, **kwargs) -> list:
        self._check_variables(metric_variables)
        return self._with_state(metric_variables, lambda: self.update_state(*args, **kwargs))[1]

    def stateless_result(self, metric_variables):
        self._check_variables(metric_variables)
        return self._with_state(metric_variables, self.result)[0]

    def stateless_reset_state(self) -> list:
        return self._with_state(None, self.reset_state)[1]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"

    __str__ = __repr__


def _updating(fn):
    """A subclass's ``update_state``, run without autograd and with the state on the data's device."""

    @functools.wraps(fn)
    def update_state(self, *args, **kwargs):
        self._check_super_called()
        device = _devices_of(args, kwargs)
        if device is not None:
            self._follow(device)
        with no_grad():
            return fn(self, *args, **kwargs)

    update_state._metric_update = True
    return update_state


# ---- reducing metrics ---------------------------------------------------------------------------------
def detach_keeping_mask(t):
    """``t.detach()`` with ``t``'s Keras mask carried over (masks are keyed by the tensor itself)."""
    out = t.detach()
    mask = get_mask(t)
    if mask is not None:
        set_mask(out, mask)
    return out


def _reduce(x, axes, fn):
    return fn(x, dim=tuple(axes)) if axes else x


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """(values, weights) reduced to one value per sample, as Keras' reducing metrics do: values beyond the
    weights' rank are reduced first, weighted, then both reduced to rank 1."""
    mask = get_mask(values)  # a metric function's masked entries (sparse crossentropy's ignore_class)
    values = as_tensor(values, dtype)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, dtype, like=values)
        sample_weight = apply_mask(sample_weight, mask, dtype)  # Keras: only given weights see it
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_nd, v_nd = sample_weight.dim(), values.dim()
        if v_nd > w_nd:
            values = _reduce(values, range(w_nd, v_nd), reduce_fn)
        sample_weight = fastnn.broadcast_to(sample_weight, tuple(values.shape))
        values = values * sample_weight
        if w_nd > 1:
            sample_weight = _reduce(sample_weight, range(1, w_nd), reduce_fn)
    if values.dim() > 1:
        values = _reduce(values, range(1, values.dim()), reduce_fn)
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values given (``keras.metrics.Sum``): one variable, ``total``."""

    def __init__(self, name="sum", dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype, name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, fastnn.sum, self.dtype)
        self.total.assign_add(values.sum())

    def reset_state(self) -> None:
        self.total.assign(0)

    def result(self):
        return self.total.value.to(dtype_of(self.dtype)).clone()


class Mean(Metric):
    """The (weighted) mean of the values given (``keras.metrics.Mean``): variables ``total`` and ``count``;
    the loss tracker a custom ``train_step`` keeps."""

    def __init__(self, name="mean", dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype, name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype=self.dtype, name="count")

    def update_state(self, values, sample_weight=None):
        if isinstance(values, Tensor) and values.ndim == 0 and values.dtype == self.total.dtype and \
                isinstance(sample_weight, (int, float)) and self.total.device == values.device:
            # the loss tracker's case (a scalar loss weighted by the batch size): two in-place adds
            self.total.add_(values.detach() * float(sample_weight))
            self.count.add_(float(sample_weight))
            return
        if sample_weight is None and isinstance(values, Tensor) and values.ndim == 1 and \
                values.dtype == self.total.dtype and self.total.device == values.device:
            # one value per sample, unweighted (an accuracy's): a sum and a count
            self.total.add_(values.detach().sum())
            self.count.add_(float(values.shape[0]))
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, fastnn.mean, self.dtype)
        self.total.assign_add(values.sum())
        if sample_weight is not None:
            n = sample_weight.sum()
        else:
            n = values.shape[0] if values.dim() >= 1 else 1
        self.count.assign_add(as_tensor(n, self.dtype, like=self.count))

    def reset_state(self) -> None:
        self.total.assign(0)
        self.count.assign(0)

    def result(self):
        total, count = self.total.value, self.count.value
        if count.ndim == 0:  # the usual scalar state: one division (the log reads the value on the host anyway)
            count = count.to(total.dtype)
            return total / count if float(count) != 0 else total * 0.0
        return divide_no_nan(total, count.to(dtype_of(self.dtype)))


def divide_no_nan(a, b):
    """a / b, 0 where b == 0 (keras.ops.divide_no_nan)."""
    zero = b == 0
    return fastnn.where(zero, fastnn.zeros_like(a * 1.0), a / fastnn.where(zero, fastnn.ones_like(b), b))


def apply_mask(sample_weight, mask, dtype):
    """The weights with masked-out entries set to zero (Keras' ``apply_mask`` with reduction "sum")."""
    if mask is None:
        return sample_weight
    fmask = as_tensor(mask, dtype)
    if sample_weight is None:
        return fmask
    sample_weight = as_tensor(sample_weight, dtype, like=fmask)
    fmask, sample_weight = squeeze_or_expand_to_same_rank(fmask, sample_weight)
    return sample_weight * fmask


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)``'s per-sample values over everything seen
    (``keras.metrics.MeanMetricWrapper``)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs) -> None:
        super().__init__(name=name or unique_name("mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        decide = self.__dict__.pop("_on_first_update", None)  # compile's 'accuracy' picks its variant here
        if decide is not None:
            decide(self, y_true, y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        # the predictions' Keras mask (padded steps of a masked sequence model) weights the samples
        sample_weight = apply_mask(sample_weight, get_mask(y_pred), self.dtype)
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        from .metrics import serialize_function

        config = {**super().get_config(), "fn": serialize_function(self._fn)}
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            from .metrics import deserialize_function

            config["fn"] = deserialize_function(config["fn"])
        return cls(**config)
