"""Keras models: ``Sequential`` (a stack of layers) and the functional ``Model`` (a graph of layers from
``Input`` tensors to outputs), both trainable with compile / fit / evaluate / predict."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from .device_scope import device_of_layer
from .layers.base import InputLayer, KerasTensor, Layer, unique_name
from .summary import print_summary
from .training import TrainingMixin
from .training_data import host_or_tensor, to_array


def _as_tensor(x, device=None):
    """Host data as fit's batches get it, on ``device``: float64 as float32, strings kept on the host."""
    return x if isinstance(x, Tensor) else host_or_tensor(to_array(x), device)


class Model(TrainingMixin, Layer):
    """``Model(inputs=..., outputs=...)`` builds a functional model; subclasses may instead define layers in
    ``__init__`` and override ``call``."""

    def __init__(self, inputs=None, outputs=None, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name or unique_name("functional" if inputs is not None else "model"), **kwargs)
        self.stop_training = False
        self.compiled = False
        self._functional = inputs is not None
        if not self._functional:
            if outputs is not None:
                raise ValueError("Model(outputs=...) needs inputs=... as well")
            return
        self._multi_in = isinstance(inputs, (list, tuple))
        self._multi_out = isinstance(outputs, (list, tuple))
        self.inputs = list(inputs) if self._multi_in else [inputs]
        self.outputs = list(outputs) if self._multi_out else [outputs]
        for t in self.inputs + self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"Model inputs and outputs must be symbolic tensors from keras.Input and layers, "
                                f"got {type(t).__name__}")
        self._nodes, self._produced = self._trace()
        for layer in dict.fromkeys(n[0] for n in self._nodes):
            self.add_module(layer.name, layer)
        self.built = True

    def _trace(self):
        """The layer calls from inputs to outputs, in an order where every call's inputs come first, and
        for each call (keyed by layer and inputs) the tensors it produced that something uses."""
        order, seen = [], set()

        def visit(t):
            if id(t) in seen or t.source is None:
                return
            seen.add(id(t))
            layer, ins, kwargs = t.source
            for s in (ins if isinstance(ins, (list, tuple)) else [ins]):
                visit(s)
            order.append((layer, ins, kwargs, t))

        for out in self.outputs:
            visit(out)
        for inp in self.inputs:
            if inp.source is not None:
                raise ValueError("Model inputs must come from keras.Input(), not from a layer")
        # several outputs of one layer call (tuple results) share the call: keep one node per call
        unique, produced = [], {}
        for layer, ins, kwargs, t in order:
            key = (id(layer), id(ins))
            if key not in produced:
                produced[key] = []
                unique.append((layer, ins, kwargs))
            produced[key].append(t)
        return unique, produced

    def output_names(self, n: int) -> list[str]:
        if self._functional:
            return [o.name for o in self.outputs]
        return super().output_names(n)

    def call(self, inputs, training=None):
        if not self._functional:
            raise NotImplementedError("subclassed models must implement call()")
        if isinstance(inputs, dict):  # inputs by name, as Keras takes them (keras.Input(name=...))
            missing = [t.name for t in self.inputs if t.name not in inputs]
            if missing:
                raise ValueError(f"Model {self.name}: the input dict has no entry for the inputs {missing} (it has "
                                 f"{sorted(inputs)})")
            inputs = [inputs[t.name] for t in self.inputs]
        xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(xs) != len(self.inputs):
            raise ValueError(f"Model {self.name} expects {len(self.inputs)} input(s), but it received {len(xs)}")
        dev = device_of_layer(self) if any(not isinstance(v, Tensor) for v in xs) else None
        values = {id(k): _as_tensor(v, dev) for k, v in zip(self.inputs, xs)}

        def lookup(ins):
            return [values[id(s)] for s in ins] if isinstance(ins, (list, tuple)) else values[id(ins)]

        for layer, ins, kwargs in self._nodes:
            call_kwargs = dict(kwargs)
            if call_kwargs.get("training") is None:  # a node's own training= (transfer learning's
                call_kwargs["training"] = training  # ``base(x, training=False)``) wins over the call's
            out = layer(lookup(ins), **call_kwargs)
            produced = self._outputs_of(layer, ins)
            if isinstance(out, (list, tuple)):
                for t in produced:  # only the outputs something uses are reachable: match them by index
                    values[id(t)] = out[t.index]
            else:
                for t in produced:  # one call may stand for several equal symbolic calls (a rebuilt Sequential)
                    values[id(t)] = out
        outs = [values[id(o)] for o in self.outputs]
        return outs if self._multi_out else outs[0]

    def _outputs_of(self, layer, ins):
        return self._produced.get((id(layer), id(ins)), [])

    def _build_from_data(self, x) -> None:
        if self._functional:
            return
        self(x if isinstance(x, (list, tuple, Tensor)) else _as_tensor(x, device_of_layer(self)), training=False)
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        """Keras' list: a functional model's InputLayers first, then its layers (not its op nodes)."""
        from .layers.op_layer import OpLayer

        found = [m for m in self._modules.values() if isinstance(m, Layer) and not isinstance(m, OpLayer)]
        if self._functional:
            found = [t.input_layer for t in self.inputs if t.input_layer is not None] + found
        return found

    @property
    def input(self):
        """The model's symbolic input (a list when it has several), for building models from this one."""
        inputs = self._symbolic_io()[0]
        return inputs if len(inputs) > 1 else inputs[0]

    @property
    def output(self):
        outputs = self._symbolic_io()[1]
        return outputs if len(outputs) > 1 else outputs[0]

    def _symbolic_io(self):
        if self._functional:
            return self.inputs, self.outputs
        if self.__dict__.get("_inbound_nodes"):  # a subclassed model called on a keras.Input
            ins, out = self.__dict__["_inbound_nodes"][0]
            return (list(ins) if isinstance(ins, (list, tuple)) else [ins],
                    list(out) if isinstance(out, (list, tuple)) else [out])
        raise AttributeError(f"The model {self.name} has never been called and thus has no defined input/output.")

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[lyr.name for lyr in self.layers]}.")

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"You called `set_weights(weights)` on model {self.name} with a weight list of length "
                             f"{len(weights)}, but the model was expecting {expected} weights.")
        for layer in self.layers:
            k = len(layer.weights)
            layer.set_weights(weights[:k])
            weights = weights[k:]

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    def save(self, filepath, overwrite: bool = True) -> None:
        """Architecture, weights and compile settings in one file (fastnn's safetensors format)."""
        import os

        from .saving import save_model

        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"{filepath} exists and overwrite=False")
        save_model(self, filepath)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        from .saving import save_weights

        save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        from .saving import load_weights

        load_weights(self, filepath)

    # ---- configs ------------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        """A functional model's graph (layers with their constructor arguments, and how they connect) as
        data; a subclassed model's constructor arguments (Keras 3's auto-config), or its own override."""
        if self._functional:
            from .saving import model_config

            return {"fastnn_graph": model_config(self), "name": self.name, "trainable": self.trainable}
        return super().get_config()

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        if "fastnn_graph" in config:
            from .saving import model_from_config

            model = model_from_config(config["fastnn_graph"], custom_objects)
            model.trainable = config.get("trainable", True)
            return model
        return super().from_config(config, custom_objects)

    def to_json(self, **kwargs) -> str:
        import json

        from .config_lib import serialize_object

        return json.dumps(serialize_object(self), **kwargs)

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs) -> None:
        print_summary(self, print_fn or print)

    def _get_name(self) -> str:
        return type(self).__name__


class Sequential(Model):
    """Layers called one after another. The input shape comes from ``input_shape=`` on the first layer,
    a leading ``keras.Input``, or the first batch of data."""

    def __init__(self, layers=None, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name or unique_name("sequential"), **kwargs)
        self._input_spec = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        if isinstance(layer, KerasTensor):  # keras.Input(shape) as the first element
            if self._modules:
                raise ValueError("An Input can only be the first element of a Sequential model")
            self._input_spec = layer
            return
        if isinstance(layer, InputLayer):
            self._input_spec = layer.output
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be an instance of class Layer. Received: layer={layer} of type "
                            f"{type(layer)}.")
        if layer.name in self._modules:
            raise ValueError(f"All layers added to a Sequential model should have unique names. Name '{layer.name}' "
                             "is already the name of a layer in this model.")
        self.add_module(layer.name, layer)
        if self._input_spec is None and len(self._modules) == 1 and layer._input_shape_arg is not None:
            from .layers.base import Input

            self._input_spec = Input(shape=layer._input_shape_arg)
        self.built = False
        if self._input_spec is not None:
            self._build_symbolic()

    def pop(self) -> Layer:
        if not self._modules:
            raise TypeError("There are no layers in the model.")
        name = list(self._modules)[-1]
        layer = self._modules.pop(name)
        self.built = False
        if self._input_spec is not None and self._modules:
            self._build_symbolic()
        return layer

    def _build_symbolic(self) -> None:
        t = self._input_spec
        for layer in self.layers:
            t = layer(t)
        self._symbolic_output = t
        self.built = True

    @property
    def inputs(self):
        return [self._input_spec] if self._input_spec is not None else None

    @property
    def outputs(self):
        out = self.__dict__.get("_symbolic_output")
        return [out] if out is not None and self._input_spec is not None else None

    def _symbolic_io(self):
        if self._input_spec is None or not self.built:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input/output: give it an "
                                 "Input or an input_shape, or call it on data")
        return self.inputs, self.outputs

    def _build_from_data(self, x) -> None:
        if not self.layers:
            raise ValueError("Sequential model has no layers")
        sample = x[0] if isinstance(x, (list, tuple)) else x
        shape = (None,) + tuple(sample.shape[1:])
        from .layers.base import Input

        self._input_spec = Input(shape=shape[1:], dtype="int64" if _is_int(sample) else "float32")
        self._build_symbolic()

    def call(self, inputs, training=None):
        x = inputs if isinstance(inputs, Tensor) else _as_tensor(inputs, device_of_layer(self))
        for layer in self._modules.values():
            x = layer(x, training=training)
        return x

    def output_names(self, n: int) -> list[str]:
        return ["output"]

    def get_config(self) -> dict:
        from .saving import model_config

        return {"fastnn_graph": model_config(self), "name": self.name, "trainable": self.trainable}

    @property
    def input_shape(self):
        return self._input_spec.shape if self._input_spec is not None else None


def _is_int(x) -> bool:
    dt = x.dtype if isinstance(x, Tensor) else np.asarray(x).dtype
    return str(dt).startswith("int")


def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002
    """Re-creates a model saved with ``model.save`` (architecture, weights, compile settings)."""
    from .saving import load_model as _load

    return _load(filepath, custom_objects, compile)


def model_from_json(json_string: str, custom_objects=None):
    """The model ``model.to_json()`` described (fresh weights)."""
    import json

    from .config_lib import deserialize_object

    return deserialize_object(json.loads(json_string), custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new model of the same architecture with freshly initialised weights, as Keras' clone_model."""
    for name, value in (("input_tensors", input_tensors), ("clone_function", clone_function),
                        ("call_function", call_function)):
        if value is not None:
            raise NotImplementedError(f"clone_model: `{name}` is not supported by fastnn.keras yet")
    if kwargs:
        raise TypeError(f"clone_model() got unexpected keyword arguments {sorted(kwargs)}")
    config = model.get_config()
    if isinstance(config.get("fastnn_graph"), dict):
        config = {**config, "name": None}
        config["fastnn_graph"] = {**config["fastnn_graph"], "name": None}
    clone = type(model).from_config(config) if "fastnn_graph" not in config else Model.from_config(config)
    if "_build_input" in model.__dict__ and not clone.built:
        from .saving import _zeros_like

        shapes, dtypes = model.__dict__["_build_input"]
        clone(_zeros_like(shapes, dtypes), training=False)
    return clone


def save_model(model, filepath, overwrite: bool = True, **kwargs) -> None:
    model.save(filepath, overwrite=overwrite, **kwargs)
