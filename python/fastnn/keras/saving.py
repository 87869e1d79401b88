"""model.save / keras.models.load_model / save_weights / load_weights in fastnn's safetensors format.

The architecture is stored as data, never as code: every layer records the arguments it was built with
(captured by ``Layer.__init_subclass__``), and loading re-creates layers only from classes that
fastnn.keras defines (or that the caller passes in ``custom_objects``). Weights are the Keras-layout
arrays of ``get_weights()``; a compiled model's optimizer variables too (as Keras 3 stores them). The
file is written atomically by fastnn.save, with its integrity record."""
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

    from .. import dtypes as fdtypes
    from . import _load_budget

    if isinstance(dtypes, (list, tuple)):
        return [_zeros_like(s, d) for s, d in zip(shapes, dtypes)]
    shape = tuple(1 if d is None else d for d in shapes)
    _load_budget.check_example(shape, fdtypes.to_dtype(dtypes).itemsize)
    return zeros(shape, dtype=dtypes, device=get_device())


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


def _optimizer_variables(model):
    """The optimizer's variables (iterations first, then the learning rate and every slot), as Keras 3 stores
    them in a ``.keras`` file, so that training resumes where it stopped; None before its first step."""
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None or not getattr(opt, "built", False):
        return None
    from ..backend import backend_of

    # ``variables``, not get_weights(): a wrapper (LossScaleOptimizer, a multi-optimizer) lists its inner ones too
    return {str(i): backend_of(v._data).to_host(v._data).copy() for i, v in enumerate(opt.variables)}


def save_model(model, filepath) -> None:
    if not model.built:
        raise ValueError("model.save: the model has not been built yet; call it on data or give it an input shape")
    weights = {str(i): w for i, w in enumerate(model.get_weights())}
    compile_config = _compile_config(model)
    blob = {"format": FORMAT, "config": model_config(model), "compile": compile_config, "weights": weights}
    if compile_config is not None:
        blob["optimizer_variables"] = _optimizer_variables(model)
    io.save(blob, filepath)  # atomic: a temp file beside it, fsynced, renamed over it


# errors a damaged or hostile config raises from deep inside the layers it builds: each becomes a ValueError
# naming the file (a ValueError of load_model's own already names it)
_CONFIG_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError, RecursionError,
                  NotImplementedError, ZeroDivisionError)


def _invalid(filepath, what: str, e: BaseException) -> BaseException:
    if isinstance(e, ValueError) and str(e).startswith(("load_model", "load_weights")):
        return e
    if isinstance(e, TypeError) and "custom_objects" in str(e):  # Keras' own TypeError for an unknown class
        return e
    return ValueError(f"load_model: {filepath!s} has an invalid {what} ({type(e).__name__}: {e})")


def _weight_list(weights, filepath, what: str = "weights") -> list[np.ndarray]:
    """``{"0": array, "1": ...}`` as a list, or a ValueError naming the file."""
    if not isinstance(weights, dict) or set(weights) != {str(i) for i in range(len(weights))}:
        raise ValueError(f"load_model: {filepath!s} holds no valid {what} (a map of '0'..'n-1' to arrays)")
    out = [weights[str(i)] for i in range(len(weights))]
    for w in out:
        if not (hasattr(w, "shape") and hasattr(w, "dtype")):  # an array or a tensor (fastnn.load makes no other)
            raise ValueError(f"load_model: {filepath!s}: one of its {what} is a {type(w).__name__}, not an array")
    return [_array(w) for w in out]


def load_model(filepath, custom_objects=None, compile: bool = True):  # noqa: A002
    """The model ``save_model`` wrote: architecture, weights, compile settings and the optimizer's state
    (its iterations and slots), so ``fit`` continues exactly where the saved model stopped. A file whose
    config asks for more weights than it holds is refused before they are allocated (``_load_budget``)."""
    from . import _load_budget, optimizers

    blob = _load_file(filepath, "load_model")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"load_model: {filepath} is not a model saved by fastnn.keras (format {FORMAT})")
    if not isinstance(blob.get("config"), dict):
        raise ValueError(f"load_model: {filepath!s} has no valid model config")
    weights = _weight_list(blob.get("weights"), filepath)
    opt_vars = blob.get("optimizer_variables")
    opt_vars = None if opt_vars is None else _weight_list(opt_vars, filepath, "optimizer variables")
    try:
        with _load_budget.loading(sum(w.nbytes for w in weights), str(filepath)):
            model = model_from_config(blob["config"], custom_objects)
    except _CONFIG_ERRORS as e:
        raise _invalid(filepath, "model config", e) from None
    try:
        _set(model, weights)
    except _CONFIG_ERRORS as e:
        raise _invalid(filepath, "set of weights for its config", e) from None
    cc = blob.get("compile")
    if compile and cc is not None:
        try:
            oc = cc["optimizer"]
            opt_cls = optimizers._BY_NAME[oc["class_name"].lower()]
            conf = _restore(oc["config"])
            conf.pop("name", None)
            args = {k: _restore(v) for k, v in cc.items() if k != "optimizer"}  # serialized losses become objects
            model.compile(optimizer=opt_cls.from_config(conf), **args)
        except _CONFIG_ERRORS as e:
            raise _invalid(filepath, "compile config", e) from None
        if opt_vars is not None:
            _restore_optimizer(model, opt_vars, filepath)
    return model


def _restore_optimizer(model, arrays, filepath) -> None:
    """Builds the optimizer for the model's weights (as fit would) and sets its saved variables."""
    opt = model.optimizer
    opt.build(model.parameters())
    opt._model_id = id(model)  # (fit builds it afresh otherwise, and the state would be lost)
    from ..backend import backend_of

    variables = opt.variables
    if len(arrays) != len(variables):
        raise ValueError(f"load_model: {filepath!s} holds {len(arrays)} optimizer variables but the optimizer "
                         f"{type(opt).__name__} of this model has {len(variables)}")
    for i, (v, a) in enumerate(zip(variables, arrays)):
        if tuple(v.shape) != tuple(a.shape) or str(v.dtype).replace("fastnn.", "") != a.dtype.name:
            raise ValueError(f"load_model: {filepath!s}: optimizer variable {i} is {a.dtype.name}{list(a.shape)} "
                             f"in the file but {str(v.dtype).replace('fastnn.', '')}{list(v.shape)} in the optimizer")
        v._write(..., backend_of(v._data).from_host(a))
    _sync_counters(opt)


def _sync_counters(opt) -> None:
    """The Python mirrors of the counters and learning rate, from the variables just written (as
    Optimizer.set_weights does), for the optimizer and any it wraps."""
    inner = [getattr(opt, "inner_optimizer", None)] + list(getattr(opt, "_inner_optimizers", []) or [])
    for o in [opt] + [i for i in inner if i is not None]:
        if getattr(o, "_iterations", None) is not None:
            o._count = int(o._iterations.item())
        if getattr(o, "_lr_var", None) is not None:
            o._learning_rate = float(o._lr_var.item())


def _array(value) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _set(model, arrays) -> None:
    if not model.built:
        raise ValueError("load: the model has no input shape, so its weights cannot be created; build it first")
    model.set_weights(arrays)


def save_weights(model, filepath) -> None:
    io.save({"format": FORMAT + "/weights", "weights": {str(i): w for i, w in enumerate(model.get_weights())}},
            filepath)


def _load_file(filepath, who: str):
    """fastnn.load, with a clear word for a Keras 3 archive (a zip holding config.json), which is not ours."""
    try:
        return io.load(filepath)
    except ValueError:
        import zipfile

        if isinstance(filepath, (str, bytes)) or hasattr(filepath, "__fspath__"):
            try:
                with zipfile.ZipFile(filepath) as z:
                    names = set(z.namelist())
            except (OSError, zipfile.BadZipFile):
                names = set()
            if "config.json" in names or "model.weights.h5" in names:
                raise ValueError(f"{who}: {filepath!s} is a Keras 3 .keras archive (a zip with config.json and HDF5 "
                                 "weights), which fastnn.keras does not read: fastnn's model.save writes its own "
                                 "safetensors-based file. Rebuild the model in fastnn.keras and copy the weights "
                                 "(model.set_weights(keras_model.get_weights()))") from None
        raise


def load_weights(model, filepath) -> None:
    blob = _load_file(filepath, "load_weights")
    if not isinstance(blob, dict) or blob.get("format") not in (FORMAT + "/weights", FORMAT):
        raise ValueError(f"load_weights: {filepath} holds no fastnn.keras weights")
    try:
        weights = _weight_list(blob.get("weights"), filepath)
    except ValueError as e:
        raise ValueError(str(e).replace("load_model", "load_weights", 1)) from None
    _set(model, weights)


from .object_registry import (CustomObjectScope, custom_object_scope, deserialize_keras_object,  # noqa: E402, F401
                              get_custom_objects, get_registered_name, get_registered_object,
                              register_keras_serializable, serialize_keras_object)
