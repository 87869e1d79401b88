"""Ops on symbolic tensors in the functional API: ``x + inputs``, ``x[:, 0]``, ``keras.ops.concatenate([a,
b])`` on KerasTensors record an ``OpLayer`` node, as Keras 3 records an Operation, so a functional model
replays them. The node stores the op's name (a keras.ops function) and its arguments with the symbolic
tensors left as numbered slots, so a model that uses ops saves and loads as data."""
from __future__ import annotations

import operator

from .base import KerasTensor, Layer

_SLOT = "__keras_tensor__"


def _encode(value, found: list):
    """The argument structure with each KerasTensor replaced by a slot; slices and Ellipsis as data."""
    if isinstance(value, KerasTensor):
        found.append(value)
        return {_SLOT: len(found) - 1}
    if isinstance(value, slice):
        return {"__slice__": [_encode(value.start, found), _encode(value.stop, found), _encode(value.step, found)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, found) for v in value]}
    if isinstance(value, list):
        return [_encode(v, found) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, found) for k, v in value.items()}
    return value


def _decode(value, tensors: list):
    if isinstance(value, dict):
        if _SLOT in value:
            return tensors[value[_SLOT]]
        if "__slice__" in value:
            return slice(*(_decode(v, tensors) for v in value["__slice__"]))
        if "__ellipsis__" in value:
            return Ellipsis
        if "__tuple__" in value:
            return tuple(_decode(v, tensors) for v in value["__tuple__"])
        return {k: _decode(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, tuple):  # a loaded config has turned {"__tuple__": ...} back into a tuple already
        return tuple(_decode(v, tensors) for v in value)
    return value


def _function(name: str):
    """A keras.ops function by its name ('add', 'nn.relu', 'linalg.norm'), or an operator ('getitem')."""
    if name.startswith("operator."):
        return getattr(operator, name.split(".", 1)[1])
    from .. import ops

    target = ops
    for part in name.split("."):
        target = getattr(target, part)
    return getattr(target, "__wrapped__", target)  # the eager op, not its symbolic-aware wrapper


class OpLayer(Layer):
    """One keras.ops call in a functional graph: ``function`` is its name, ``args``/``kwargs`` the arguments
    with slots where the symbolic inputs go."""

    def __init__(self, function: str, args=(), kwargs=None, **layer_kwargs) -> None:
        super().__init__(**layer_kwargs)
        self.function, self.args, self.op_kwargs = function, list(args), dict(kwargs or {})
        self._fn = _function(function)
        self.built = True

    def call(self, inputs):
        tensors = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        return self._fn(*_decode(self.args, list(tensors)), **_decode(self.op_kwargs, list(tensors)))

    def get_config(self) -> dict:
        return {**super().get_config(), "function": self.function, "args": self.args, "kwargs": self.op_kwargs}


def symbolic_call(name: str, args, kwargs):
    """Records ``name(*args, **kwargs)`` on symbolic tensors: the result is a KerasTensor."""
    found: list = []
    enc_args, enc_kwargs = _encode(list(args), found), _encode(dict(kwargs), found)
    base = name.rsplit(".", 1)[-1]
    layer = OpLayer(name, enc_args, enc_kwargs, name=_unique(base))
    return layer(found)


def _unique(base: str) -> str:
    from .base import unique_name

    return unique_name(base)
