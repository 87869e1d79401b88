"""Shared pieces of the preprocessing layers: Keras' ``encode_categorical_inputs`` on fastnn ops, string-arg
checks, user data as tensors or as nested Python lists (strings never become tensors: they are host data,
as in Keras, where the string layers run outside the graph), and ``from_config``."""
from __future__ import annotations

import inspect

import fastnn

from ... import ops as kops
from ...device_scope import get_device
from ...ops._convert import dtype_of
from ...._tensor import Tensor
from ..base import KerasTensor, Layer, _call_parameters, _is_symbolic


class PreprocessingLayer(Layer):
    """A Layer whose config is its constructor's arguments (Keras' default ``from_config``)."""

    def get_config(self) -> dict:
        """Keras' base keys only (name, trainable, the dtype policy); each layer lists its own arguments, as
        Keras' preprocessing layers do (the generic constructor-argument config would add keys Keras omits)."""
        config = super().get_config()
        return {k: config[k] for k in ("name", "trainable", "dtype") if k in config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ... import config_lib

        config = dict(config)
        dtype = config.get("dtype")
        if isinstance(dtype, dict):  # a DTypePolicy's serialized form: its name
            config["dtype"] = dtype.get("config", {}).get("name")
        return cls(**config_lib.deserialize_value(config, custom_objects))

    def _adapt_batches(self, batches, steps=None) -> None:
        """``update_state`` on each batch of an iterable (the first ``steps`` of them when given), as adapt
        does with a dataset or generator."""
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            self.update_state(batch)

    def _remember(self, **updates) -> None:
        """Makes state learned by ``adapt`` part of the recorded constructor arguments, which is what
        model.save stores for a layer (Keras saves vocabularies as assets; this format has no assets)."""
        cls, args, kw = self.__dict__.get("_init_args", (type(self), (), {}))
        init = inspect.unwrap(cls.__init__)
        bound = inspect.signature(init).bind_partial(self, *args, **kw).arguments
        merged = {}
        for name, value in bound.items():
            if name == "self":
                continue
            if inspect.signature(init).parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                merged.update(value)
            else:
                merged[name] = value
        merged.update(updates)
        self.__dict__["_init_args"] = (cls, (), merged)


def is_batch_stream(data) -> bool:
    """An iterable of batches (a generator, a dataset) rather than one array-like or list of values."""
    return hasattr(data, "__iter__") and not isinstance(data, (list, tuple, str)) and not hasattr(data, "shape")


def validate_string_arg(value, allowed, caller, arg_name) -> None:
    if value not in allowed:
        raise ValueError(f"The `{arg_name}` argument of layer {caller} received an invalid value `{value}`. "
                         f"Allowed values are: {', '.join(map(str, allowed))}.")


def as_tensor(x, dtype=None) -> Tensor:
    """A fastnn tensor of numeric user data (tensors pass through; Python/NumPy data follow keras.ops'
    conversion rules)."""
    return kops.convert_to_tensor(x, dtype=dtype)


def encode_categorical(inputs: Tensor, output_mode: str, depth: int, dtype, count_weights=None) -> Tensor:
    """Keras' ``numerical_utils.encode_categorical_inputs``: 'int' casts; 'one_hot' drops a trailing 1 and
    appends a depth axis; 'multi_hot' and 'count' reduce the token axis (axis 1, or 0 for a vector)."""
    if output_mode == "int":
        return inputs.to(dtype_of(dtype))
    if inputs.ndim == 0:
        inputs = inputs.unsqueeze(-1)
    if output_mode == "multi_hot":
        return kops.multi_hot(inputs, depth, dtype=dtype)
    if output_mode == "one_hot":
        if inputs.ndim > 1 and inputs.shape[-1] == 1:
            inputs = inputs.reshape(tuple(inputs.shape[:-1]))
        return kops.one_hot(inputs, depth, dtype=dtype)
    if output_mode == "count":
        axis = 1 if inputs.ndim > 1 else 0
        if count_weights is not None:
            dtype = count_weights.dtype
        enc = kops.one_hot(inputs, depth, dtype=dtype)
        if count_weights is not None:
            enc = enc * count_weights.unsqueeze(-1)
        return fastnn.sum(enc, dim=axis)
    raise ValueError(f"Unknown output_mode: {output_mode}")


# ---- host data (strings, vocabularies) ------------------------------------------------------------------
def nested(x):
    """(values, shape) of user data: a tensor, an array (anything with ``tolist``), a nested list, or a
    scalar. bytes become str (Keras decodes UTF-8)."""
    if hasattr(x, "tolist") and hasattr(x, "shape"):
        shape = tuple(int(s) for s in x.shape)
        values = x.tolist()
    else:
        values = x
        shape = _shape_of_nested(values)
    return _decode(values), shape


def _shape_of_nested(v) -> tuple:
    if isinstance(v, (list, tuple)):
        if not v:
            return (0,)
        inner = [_shape_of_nested(e) for e in v]
        if any(s != inner[0] for s in inner):
            raise ValueError("Ragged inputs are not supported by fastnn.keras preprocessing layers: every row "
                             f"must have the same length (got shapes {sorted(set(inner))})")
        return (len(v),) + inner[0]
    return ()


def _decode(v):
    if isinstance(v, (list, tuple)):
        return [_decode(e) for e in v]
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return v


def flat(values, shape):
    """The leaves of a nested list, row-major."""
    if not shape:
        return [values]
    out = []

    def walk(v, depth):
        if depth == len(shape):
            out.append(v)
        else:
            for e in v:
                walk(e, depth + 1)

    walk(values, 0)
    return out


def tensor_of(flat_values, shape, dtype) -> Tensor:
    """A tensor of ``shape`` from row-major Python values, on the current Keras device."""
    t = fastnn.tensor(list(flat_values), dtype=dtype_of(dtype), device=get_device())
    return t.reshape(tuple(shape))


class HostLayer(PreprocessingLayer):
    """A layer computing on host data (strings, vocabularies, hashes): called on user data as it is (no
    conversion to a tensor first), and on symbolic inputs it only reports its output's shape and dtype
    (``compute_output_shape`` / ``output_dtype``), so it can sit in a functional or Sequential model."""

    output_dtype = "int64"

    def __call__(self, inputs, *args, **kwargs):
        if _is_symbolic(inputs):
            shapes = [t.shape for t in inputs] if isinstance(inputs, (list, tuple)) else inputs.shape
            out = KerasTensor(self.compute_output_shape(shapes), self.output_dtype, (self, inputs, kwargs), self.name)
            self.output_shape = out.shape
            self.__dict__.setdefault("_inbound_nodes", []).append((inputs, out))  # layer.input / layer.output
            return out
        params = _call_parameters(type(self))
        kwargs = {k: v for k, v in kwargs.items() if k in params}
        return self.call(inputs, *args, **kwargs)
