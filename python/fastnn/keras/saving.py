"""model.save / keras.models.load_model / save_weights / load_weights in fastnn's safetensors format.

The architecture is stored as data, never as code: every layer records the arguments it was built with
(captured by ``Layer.__init_subclass__``), and loading re-creates layers only from classes that
fastnn.keras defines (or that the caller passes in ``custom_objects``). Weights are the Keras-layout
arrays of ``get_weights()``. The file is written atomically by fastnn.save."""
from __future__ import annotations

import numpy as np

from .. import io
from . import config_lib

FORMAT = "fastnn.keras/1"


def _tuple_form(items: list) -> dict:
    return {"__tuple__": items}


def _jsonable(value, where: str):
    plain = config_lib.plain_value(value, lambda v: _jsonable(v, where), _tuple_form)
    if plain is not config_lib.NOT_PLAIN:
        return plain
    from . import activations, losses

    cls = type(value)
    if isinstance(value, losses.Loss) and losses.ALL_OBJECTS_DICT.get(cls.__name__) is cls and \
            cls not in (losses.Loss, losses.LossFunctionWrapper):
        return _jsonable(losses.serialize(value), where)  # a built-in loss object: its class and config
    if hasattr(value, "get_config") and not isinstance(value, type):  # an initializer, regularizer, layer ...
        return config_lib.serialize_object(value)
    if callable(value):
        name = getattr(value, "__name__", None)
        if name is not None and (activations.ALL_OBJECTS_DICT.get(name) is value or
                                 losses.ALL_OBJECTS_DICT.get(name) is value):
            return name  # a Keras activation or loss function given by object: store its name
    raise TypeError(f"model.save: {where} has an argument of type {type(value).__name__} that cannot be saved "
                    "(only numbers, strings, lists, dicts and activation names are)")


def _restore(value):
    if config_lib.is_serialized_object(value):  # its config's tuples are still in their saved form
        return config_lib.deserialize_object({**value, "config": _restore(value["config"])})
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
    registered = None if cls.__module__.startswith("fastnn.keras") else config_lib._registry()
    return {"class_name": cls.__name__, "args": _jsonable(list(args), layer.name),
            "kwargs": _jsonable(kwargs, layer.name),
            "registered_name": registered.get_registered_name(cls) if registered is not None else None}


def _layer_classes(custom_objects) -> dict:
    from . import layers

    from .layers.op_layer import OpLayer

    classes = {name: obj for name, obj in vars(layers).items() if isinstance(obj, type)}
    classes["OpLayer"] = OpLayer  # the keras.ops nodes of a functional graph
    classes.update(custom_objects or {})
    return classes


def _make_layer(config: dict, classes: dict):
    name = config.get("class_name")
    if name not in classes:
        registry = config_lib._registry()
        found = None
        for key in (config.get("registered_name"), name):
            if found is None and key and registry is not None:
                found = registry.get_registered_object(key)
        if found is None:
            raise ValueError(f"load_model: unknown layer class {name!r}; pass it in custom_objects={{'{name}': cls}} "
                             "or register it with @keras.saving.register_keras_serializable()")
        classes = {**classes, name: found}
    return classes[name](*_restore(config["args"]), **_restore(config["kwargs"]))


def model_config(model) -> dict:
    from .models import Sequential

    if isinstance(model, Sequential):
        spec = model._input_spec
        return {"class_name": "Sequential", "name": model.name,
                "input": None if spec is None else {"shape": list(spec.shape[1:]), "dtype": spec.dtype},
                "layers": [layer_config(layer) for layer in model.layers]}
    if not getattr(model, "_functional", False):
        return subclassed_config(model)
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


def subclassed_config(model) -> dict:
    """A subclassed model as its class (found again through custom_objects or register_keras_serializable),
    its get_config() and the input it was built on (Keras' build_config), to re-create its weights."""
    if "_build_input" not in model.__dict__:
        raise ValueError(f"model.save: the subclassed model {model.name} has not been built yet; call it on data "
                         "(or fit it) before saving")
    try:
        config = model.get_config()
    except NotImplementedError as e:
        raise NotImplementedError(f"model.save: {e}") from None
    reference = config_lib.serialize_object(model)
    shapes, dtypes = model.__dict__["_build_input"]
    return {"class_name": "Subclassed", "object": {**reference, "config": _jsonable(config, model.name)},
            "build_input": {"shapes": _jsonable(shapes, "build_input"), "dtypes": _jsonable(dtypes, "build_input")}}


def _subclassed_from_config(config: dict, custom_objects):
    ref = config["object"]
    cls = config_lib.find_class(ref.get("module"), ref["class_name"], ref.get("registered_name"), custom_objects)
    model = cls.from_config(_restore(ref["config"]))
    spec = config["build_input"]
    model(_zeros_like(_restore(spec["shapes"]), _restore(spec["dtypes"])), training=False)  # creates the weights
    return model


def _zeros_like(shapes, dtypes):
    """A batch of one zero sample per recorded input (shape with None for the batch, dtype name)."""
    from ..creation import zeros
    from .device_scope import get_device

    if isinstance(dtypes, (list, tuple)):
        return [_zeros_like(s, d) for s, d in zip(shapes, dtypes)]
    return zeros(tuple(1 if d is None else d for d in shapes), dtype=dtypes, device=get_device())


def model_from_config(config: dict, custom_objects=None):
    from .layers.base import Input
    from .models import Model, Sequential

    if config.get("class_name") == "Subclassed":
        return _subclassed_from_config(config, custom_objects)
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
        args = {k: _restore(v) for k, v in cc.items() if k != "optimizer"}  # serialized losses become objects
        model.compile(optimizer=opt_cls.from_config(conf), **args)
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
