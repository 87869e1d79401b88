"""keras.optimizers: Keras 3's optimizers (names, arguments, defaults, variables and update formulas) on
fastnn tensors; SGD, Adam and AdamW run fastnn's fused kernels. ``learning_rate`` may be a float or a
``schedules`` object; ``apply(grads, vars)`` / ``apply_gradients(zip(grads, vars))`` serve custom training
loops, and ``apply_gradients()`` with no argument applies the ``.grad`` of the built weights (``fit``)."""
from __future__ import annotations

from . import legacy, schedules
from .adaptive import Adadelta, Adafactor, Adagrad, Adamax, Ftrl, Lamb, Lion, Nadam, RMSprop, ScheduleFreeAdamW
from .base import Optimizer
from .fused import SGD, Adam, AdamW
from .loss_scale import LossScaleOptimizer
from .multi import MultiOptimizer, OptimizerMap
from .muon import Muon

_ALL = (Optimizer, SGD, Adam, AdamW, RMSprop, Adadelta, Adagrad, Adamax, Adafactor, Ftrl, Lamb, Lion, Nadam, Muon,
        LossScaleOptimizer, ScheduleFreeAdamW, MultiOptimizer, OptimizerMap)
_BY_NAME = {cls.__name__.lower(): cls for cls in _ALL}


def serialize(optimizer) -> dict:
    """Keras' ``{"module", "class_name", "config", "registered_name"}`` form of an optimizer."""
    cls = type(optimizer)
    builtin = _BY_NAME.get(cls.__name__.lower()) is cls
    return {"module": "keras.optimizers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": optimizer.get_config(), "registered_name": None if builtin else cls.__name__}


def deserialize(config, custom_objects=None):
    if isinstance(config, (Optimizer, OptimizerMap)):  # already rebuilt (a nested config restored first)
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_NAME.get(name.lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    return cls.from_config(dict(config.get("config", {})))


def get(identifier):
    """An optimizer from an instance, a name (``"adam"``), or a serialized dict; None stays None."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = deserialize({"class_name": identifier, "config": {}})
    else:
        obj = identifier
    if isinstance(obj, Optimizer):
        return obj
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "Adamax", "Adafactor", "Ftrl",
           "Lamb", "Lion", "Nadam", "Muon", "LossScaleOptimizer", "ScheduleFreeAdamW", "MultiOptimizer", "OptimizerMap",
           "legacy", "schedules", "serialize", "deserialize", "get"]
