"""model.save / keras.models.load_model / save_weights / load_weights in fastnn's safetensors format.

The architecture is stored as data, never as code: every layer records the arguments it was built with
(captured by ``Layer.__init_subclass__``), and loading re-creates layers only from classes that
fastnn.keras defines (or that the caller passes in ``custom_objects``). Weights are the Keras-layout
arrays of ``get_weights()``. The file is written atomically by fastnn.save."""
from __future__ import annotations

import numbers

import numpy as np

from .. import io

FORMAT = "fastnn.keras/1"


def _jsonable(value, where: str):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v, where) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if callable(value):
        from . import activations

        name = activations.name_of(value)
        if name != "custom" and activations.get(name) is value:
            return name  # a Keras activation function given by object: store its name
    raise TypeError(f"model.save: {where} has an argument of type {type(value).__name__} that cannot be saved "
                    "(only numbers, strings, lists, dicts and activation names are)")


def _restore(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_restore(v) for v in value["__tuple__"])
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value


def layer_config(layer) -> dict:
    cls, args, kwargs = layer.__dict__.get("_init_args", (type(layer), (), {}))
    kwargs = {**kwargs, "name": layer.name}
    return {"class_name": cls.__name__, "args": _jsonable(list(args), layer.name),
            "kwargs": _jsonable(kwargs, layer.name)}


def _layer_classes(custom_objects) -> dict:
    from . import layers

    classes = {name: obj for name, obj in vars(layers).items() if isinstance(obj, type)}
    classes.update(custom_objects or {})
    return classes


def _make_layer(config: dict, classes: dict):
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"load_model: unknown layer class {name!r}; pass it in custom_objects={{'{name}': cls}}")
    return classes[name](*_restore(config["args"]), **_restore(config["kwargs"]))


def model_config(model) -> dict:
    from .models import Sequential

    if isinstance(model, Sequential):
        spec = model._input_spec
        return {"class_name": "Sequential", "name": model.name,
                "input": None if spec is None else {"shape": list(spec.shape[1:]), "dtype": spec.dtype},
                "layers": [layer_config(layer) for layer in model.layers]}
    if not getattr(model, "_functional", False):
        raise NotImplementedError("model.save: subclassed models cannot be saved as architecture + weights; "
                                  "use model.save_weights() and rebuild the model in code")
    ids = {}
    for k, t in enumerate(model.inputs):
        ids[id(t)] = ["input", k]
    layers, layer_index, nodes = [], {}, []
    for layer, ins, kwargs in model._nodes:
        if id(layer) not in layer_index:
            layer_index[id(layer)] = len(layers)
            layers.append(layer_config(layer))
        ins_list = ins if isinstance(ins, (list, tuple)) else [ins]
        for t in model._outputs_of(layer, ins):
            ids[id(t)] = ["node", len(nodes), t.index]
        nodes.append({"layer": layer_index[id(layer)], "inputs": [ids[id(t)] for t in ins_list],
                      "list_input": isinstance(ins, (list, tuple)), "kwargs": _jsonable(kwargs, layer.name)})
    return {"class_name": "Functional", "name": model.name,
            "inputs": [{"shape": list(t.shape[1:]), "dtype": t.dtype, "name": t.name} for t in model.inputs],
            "multi_input": model._multi_in, "multi_output": model._multi_out,
            "layers": layers, "nodes": nodes, "outputs": [ids[id(t)] for t in model.outputs]}


def model_from_config(config: dict, custom_objects=None):
    from .layers.base import Input
    from .models import Model, Sequential

    classes = _layer_classes(custom_objects)
    if config.get("class_name") == "Sequential":
        model = Sequential(name=config.get("name"))
        if config.get("input") is not None:
            model.add(Input(shape=tuple(config["input"]["shape"]), dtype=config["input"]["dtype"]))
        for lc in config["layers"]:
            model.add(_make_layer(lc, classes))
        return model
    if config.get("class_name") != "Functional":
        raise ValueError(f"load_model: unknown model class {config.get('class_name')!r}")
    inputs = [Input(shape=tuple(i["shape"]), dtype=i["dtype"]) for i in config["inputs"]]
    layers = [_make_layer(lc, classes) for lc in config["layers"]]
    produced = []

    def ref(r):
        return inputs[r[1]] if r[0] == "input" else produced[r[1]][r[2]]

    for node in config["nodes"]:
        ins = [ref(r) for r in node["inputs"]]
        out = layers[node["layer"]](ins if node["list_input"] else ins[0], **_restore(node["kwargs"]))
        produced.append(list(out) if isinstance(out, (list, tuple)) else [out])
    outputs = [ref(r) for r in config["outputs"]]
    return Model(inputs=inputs if config["multi_input"] else inputs[0],
                 outputs=outputs if config["multi_output"] else outputs[0], name=config.get("name"))


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    opt = model.optimizer
    args = model._compile_args
    try:
        return {"optimizer": {"class_name": type(opt).__name__, "config": _jsonable(opt.get_config(), "optimizer")},
                **{k: _jsonable(v, k) for k, v in args.items()}}
    except TypeError:
        return None  # custom losses or metrics objects: the model loads uncompiled, as Keras does


def save_model(model, filepath) -> None:
    if not model.built:
        raise ValueError("model.save: the model has not been built yet; call it on data or give it an input shape")
    weights = {str(i): w for i, w in enumerate(model.get_weights())}
    io.save({"format": FORMAT, "config": model_config(model), "compile": _compile_config(model),
             "weights": weights}, filepath)


def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002
    from . import optimizers

    blob = io.load(filepath)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"load_model: {filepath} is not a model saved by fastnn.keras (format {FORMAT})")
    model = model_from_config(blob["config"], custom_objects)
    weights = blob["weights"]
    _set(model, [_array(weights[str(i)]) for i in range(len(weights))])
    cc = blob.get("compile")
    if compile and cc is not None:
        oc = cc["optimizer"]
        opt_cls = optimizers._BY_NAME[oc["class_name"].lower()]
        conf = _restore(oc["config"])
        conf.pop("name", None)
        model.compile(optimizer=opt_cls(**conf), **{k: _restore(v) for k, v in cc.items() if k != "optimizer"})
    return model


def _array(value) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _set(model, arrays) -> None:
    if not model.built:
        raise ValueError("load: the model has no input shape, so its weights cannot be created; build it first")
    model.set_weights(arrays)


def save_weights(model, filepath) -> None:
    io.save({"format": FORMAT + "/weights", "weights": {str(i): w for i, w in enumerate(model.get_weights())}},
            filepath)


def load_weights(model, filepath) -> None:
    blob = io.load(filepath)
    if not isinstance(blob, dict) or blob.get("format") not in (FORMAT + "/weights", FORMAT):
        raise ValueError(f"load_weights: {filepath} holds no fastnn.keras weights")
    weights = blob["weights"]
    _set(model, [_array(weights[str(i)]) for i in range(len(weights))])


from .object_registry import (CustomObjectScope, custom_object_scope, deserialize_keras_object,  # noqa: E402, F401
                              get_custom_objects, get_registered_name, get_registered_object,
                              register_keras_serializable, serialize_keras_object)
