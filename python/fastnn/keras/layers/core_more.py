"""Core layers: Identity, Lambda, Masking and EinsumDense with Keras' arguments and configs."""
from __future__ import annotations

import inspect
import re
import sys
import types

from ... import ops
from .. import activations
from .base import Layer


class Identity(Layer):
    """Returns its inputs unchanged (any structure); passes masks through."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape


def serialize_function(fn, owner: str) -> dict:
    """A named Python function as Keras' function config; Python lambdas are refused (their code would have
    to be stored and run back, which Keras too refuses to load in safe mode)."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        raise ValueError(f"{owner}: cannot serialize a Python lambda (loading it back would run stored code, "
                         "which Keras' safe mode refuses too); use a named Python function instead")
    if not callable(fn):
        raise ValueError(f"Invalid input type for serialization. Received: {fn} of type {type(fn)}.")
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return {"module": getattr(fn, "__module__", None) or "builtins", "class_name": "function", "config": name,
            "registered_name": "function"}


def deserialize_function(config, custom_objects=None, owner: str = "Lambda"):
    """A function back from :func:`serialize_function`'s config: looked up in ``custom_objects``, then as an
    attribute of its (already imported) module. Nothing is imported and no stored code runs."""
    if callable(config) or config is None:
        return config
    if isinstance(config, str):
        name, module = config, None
    elif isinstance(config, dict) and config.get("class_name") == "__lambda__":
        raise ValueError(f"Requested the deserialization of a `{owner}` layer whose `function` is a Python lambda. "
                         "fastnn.keras does not run stored code; pass the function in custom_objects")
    elif isinstance(config, dict) and config.get("class_name") == "function":
        name, module = config.get("config"), config.get("module")
    else:
        raise ValueError(f"{owner}: cannot deserialize the function config {config!r}")
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    from . import serialization

    found = serialization.custom_object(name)
    if found is not None:
        return found
    mod = sys.modules.get(module) if module else None
    fn = getattr(mod, name, None) if mod is not None else None
    if fn is None:
        from .. import ops as keras_ops

        fn = getattr(keras_ops, name, None)
    if not callable(fn):
        raise ValueError(f"{owner}: could not find the function {name!r} (module {module!r}); pass it in "
                         "custom_objects")
    return fn


class Lambda(Layer):
    """Wraps a function of the inputs. ``arguments`` are extra keyword arguments of each call; the function
    receives ``mask`` / ``training`` when its signature names them. ``output_shape`` (without the batch
    dim, or a function of the input shape) and ``mask`` (a mask, or a function (inputs, mask) -> mask) are
    Keras'."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs) -> None:
        function, output_shape, mask = (deserialize_function(v) if isinstance(v, dict) else v
                                        for v in (function, output_shape, mask))
        self._record_functions_as_data(function=function, output_shape=output_shape, mask=mask)
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda: `function` must be callable. Received: function={function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        self._fn_expects_training_arg = "training" in params
        self._fn_expects_mask_arg = "mask" in params

    def _record_functions_as_data(self, **values) -> None:
        """model.save stores constructor arguments as data: named functions go in as their configs (found
        again by name when loading); a Python lambda stays as it is, and saving refuses it."""
        cls, args, kw = self.__dict__["_init_args"]
        args, kw = list(args), dict(kw)
        for i, (key, value) in enumerate(values.items()):
            if not callable(value) or getattr(value, "__name__", "<lambda>") == "<lambda>":
                continue
            if i < len(args):
                args[i] = serialize_function(value, "Lambda")
            elif key in kw:
                kw[key] = serialize_function(value, "Lambda")
        self.__dict__["_init_args"] = (cls, tuple(args), kw)

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return None  # traced by calling the function
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape
        while isinstance(first, (list, tuple)) and first and isinstance(first[0], (list, tuple)):
            first = first[0]
        batch = first[0] if first else None

        def add_batch(shape):
            if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
                return type(shape)(add_batch(s) for s in shape)
            return (batch,) + tuple(shape)

        return add_batch(self._output_shape)

    def get_config(self) -> dict:
        config = {**super().get_config(), "function": serialize_function(self.function, self.name)}
        if self._output_shape is not None:
            config["output_shape"] = (serialize_function(self._output_shape, self.name) if callable(self._output_shape)
                                      else self._output_shape)
        if self.mask is not None:
            config["mask"] = serialize_function(self.mask, self.name) if callable(self.mask) else self.mask
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .. import config_lib

        config = dict(config)
        functions = {"function": deserialize_function(config.pop("function"), custom_objects)}
        for key in ("output_shape", "mask"):
            if isinstance(config.get(key), dict):
                functions[key] = deserialize_function(config.pop(key), custom_objects)
        config = {**config_lib.deserialize_value(config, custom_objects), **functions}
        if isinstance(config.get("output_shape"), list) and all(isinstance(e, (int, type(None)))
                                                                for e in config["output_shape"]):
            config["output_shape"] = tuple(config["output_shape"])
        return cls(**config)


class Masking(Layer):
    """Masks timesteps whose features all equal ``mask_value``: the mask is any(x != mask_value, axis=-1), and
    masked timesteps are zeroed in the output."""

    def __init__(self, mask_value=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs, mask=None):
        return ops.ne(inputs, self.mask_value).any(-1)

    def call(self, inputs):
        keep = ops.ne(inputs, self.mask_value).any(-1, keepdim=True)
        return ops.where(keep, inputs, 0.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}


# ---- EinsumDense ---------------------------------------------------------------------------------------------
def _split_equation(equation: str):
    """(input spec, weight spec, output spec, where the ellipsis is: None / 'left' / 'right'), Keras' three
    accepted forms."""
    eq = equation.replace("...", "0")
    for pattern, elided in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", None),
                            ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", "left"),
                            ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", "right")):
        m = re.match(pattern, eq)
        if m:
            return m.group(1), m.group(2), m.group(3), elided
    raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form [X],[Y]->[Z], "
                     "...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def analyze_einsum(equation: str, bias_axes, input_shape, output_shape):
    """(kernel shape, bias shape or None, full output shape, kernel input axes, kernel output axes), the
    shapes Keras' EinsumDense derives from its equation."""
    input_spec, weight_spec, output_spec, where = _split_equation(equation)
    left = where == "left"
    input_shape = list(input_shape)
    elided = len(input_shape) - len(input_spec)
    out = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    out.insert(0, input_shape[0])
    if elided > 0 and left:
        for i in range(1, elided):
            out.insert(1, input_shape[i])
    elif elided > 0:
        out.extend(input_shape[len(input_shape) - elided:])
    if left:
        in_map = {d: i + elided - len(input_shape) for i, d in enumerate(input_spec)}
        out_map = {d: i + elided for i, d in enumerate(output_spec)}
    else:
        in_map = {d: i for i, d in enumerate(input_spec)}
        out_map = {d: i for i, d in enumerate(output_spec)}
    for d in input_spec:
        if d in out_map and out[out_map[d]] is not None and out[out_map[d]] != input_shape[in_map[d]]:
            raise ValueError(f"Input shape and output shape do not match at shared dimension '{d}'. Input shape is "
                             f"{input_shape[in_map[d]]}, and output shape is {out[out_map[d]]}.")
    for d in output_spec:
        if d not in input_spec and d not in weight_spec:
            raise ValueError(f"Dimension '{d}' was specified in the output '{output_spec}' but has no corresponding "
                             f"dim in the input spec '{input_spec}' or weight spec '{output_spec}'")
    kernel, in_axes, out_axes = [], [], []
    for i, d in enumerate(weight_spec):
        if d in out_map:
            kernel.append(out[out_map[d]])
            out_axes.append(i)
        elif d in in_map:
            kernel.append(input_shape[in_map[d]])
            in_axes.append(i)
        else:
            raise ValueError(f"Weight dimension '{d}' did not have a match in either the input spec '{input_spec}' "
                             f"or the output spec '{output_spec}'. For this layer, the weight must be fully "
                             "specified.")
    bias = None
    if bias_axes is not None:
        offset = elided if left else 0
        sizes = {c: out[i + offset] for i, c in enumerate(output_spec)}
        for c in bias_axes:
            if c not in output_spec:
                raise ValueError(f"Bias dimension '{c}' was requested, but is not part of the output spec "
                                 f"'{output_spec}'")
        first = min(output_spec.find(c) for c in bias_axes)
        bias = [sizes[c] if c in bias_axes else 1 for c in output_spec[first:]]
        if not left:
            bias.extend([1] * max(elided, 0))
    return kernel, bias, out, in_axes, out_axes


def _axes_initializer(identifier, in_axes, out_axes):
    """Keras gives EinsumDense's variance-scaling kernel initializers (glorot, he, lecun, VarianceScaling) the
    kernel's input/output axes as their fans, instead of the (..., in, out) convention."""
    from .. import initializers

    init = initializers.get(identifier)
    if isinstance(init, initializers.VarianceScaling) and (init.input_axes is None or init.output_axes is None):
        init = type(init).from_config({**init.get_config(), "input_axes": list(in_axes),
                                       "output_axes": list(out_axes)})
    return init


class EinsumDense(Layer):
    """activation(einsum(equation, inputs, kernel) + bias): a dense layer whose kernel and output shapes are
    given by an einsum equation (``"ab,bc->ac"``, ``"...b,bc->...c"``, ``"abc,cd->abd"``, ...);
    ``output_shape`` leaves out the batch dim (None: taken from the input); ``bias_axes`` names the output
    letters the bias varies along."""

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, **kwargs) -> None:
        super().__init__(**kwargs)
        for name, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                            ("gptq_unpacked_column_size", gptq_unpacked_column_size),
                            ("quantization_config", quantization_config)):
            if value is not None:
                raise NotImplementedError(f"EinsumDense: `{name}` (LoRA / quantization) is not supported by "
                                          "fastnn.keras")
        _split_equation(equation)
        self.equation = equation
        self.partial_output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._preset_weights(kernel=(kernel_regularizer, kernel_constraint), bias=(bias_regularizer, bias_constraint))

    def build(self, input_shape) -> None:
        kernel, bias, full, in_axes, out_axes = analyze_einsum(self.equation, self.bias_axes, input_shape,
                                                               self.partial_output_shape)
        self.full_output_shape = tuple(full)
        self.kernel = self.add_weight(shape=tuple(kernel), name="kernel",
                                      initializer=_axes_initializer(self.kernel_initializer, in_axes, out_axes))
        if bias is not None:
            self.bias = self.add_weight(shape=tuple(bias), name="bias", initializer=self.bias_initializer)
        else:
            self.bias = None

    def call(self, inputs, training=None):
        x = inputs if inputs.dtype.is_floating_point else inputs.float()
        y = ops.einsum(self.equation, x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(analyze_einsum(self.equation, self.bias_axes, input_shape, self.partial_output_shape)[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "output_shape": self.partial_output_shape, "equation": self.equation,
                "activation": activations.name_of(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "quantization_config": None}
