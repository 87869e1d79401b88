"""Keras 3's object registry and config serialization: ``register_keras_serializable``, custom object scopes,
and ``serialize_keras_object`` / ``deserialize_keras_object`` in Keras 3's dict format
``{"module", "class_name", "config", "registered_name"}``.

fastnn.keras' own classes serialize under Keras' public module names (``"keras.layers"``, ``"keras.losses"``,
...), so a config written here reads like Keras' and a Keras config (built-in classes, registered custom ones)
deserializes here. Deserialization only ever looks up fastnn.keras' public classes and functions, registered
objects and ``custom_objects``: it imports no module a config names, and a lambda loads only outside safe
mode, as in Keras."""
from __future__ import annotations

import codecs
import importlib
import inspect
import marshal
import threading
import types
import warnings

GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}

_state = threading.local()  # the innermost custom_object_scope's objects and the safe-mode flag, per thread

# fastnn.keras namespaces searched for a config's class or function, in Keras' order for "builtins" functions
_NAMESPACES = ("layers", "losses", "metrics", "optimizers", "initializers", "regularizers", "constraints",
               "activations", "callbacks", "models")
_FUNCTION_NAMESPACES = ("activations", "constraints", "initializers", "losses", "metrics", "optimizers",
                        "regularizers")
# utilities a model config must never name (Keras' NON_MODELING_APIS)
_NON_MODELING = frozenset({
    "keras.models.load_model", "keras.models.model_from_json", "keras.models.save_model", "keras.saving.load_model",
    "keras.saving.save_model", "keras.saving.load_weights", "keras.saving.save_weights",
    "keras.saving.deserialize_keras_object", "keras.saving.serialize_keras_object",
    "keras.saving.register_keras_serializable", "keras.utils.get_file", "keras.utils.load_img",
    "keras.utils.save_img", "keras.utils.clear_session", "keras.utils.deserialize_keras_object",
    "keras.utils.serialize_keras_object", "keras.utils.register_keras_serializable",
    "keras.utils.image_dataset_from_directory", "keras.utils.text_dataset_from_directory",
    "keras.utils.audio_dataset_from_directory",
})


def _scope_objects() -> dict:
    return getattr(_state, "custom_objects", {})


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes the objects visible to deserialization
    (and get_registered_object) inside the block; scopes nest, the innermost one wins."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})
        self.backup = None

    def __enter__(self):
        self.backup = dict(_scope_objects())
        _state.custom_objects = dict(self.custom_objects)
        return self

    def __exit__(self, *args, **kwargs):
        _state.custom_objects = dict(self.backup)


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict:
    """The global registry itself (``{"package>Name": obj}``): adding to it registers an object."""
    return GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name=None):
    """A decorator registering a class (which must have get_config) or function as ``package>name``."""

    def decorator(arg):
        registered_name = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj) -> str:
    """``package>name`` for a registered object, else its ``__name__``."""
    try:
        if obj in GLOBAL_CUSTOM_NAMES:
            return GLOBAL_CUSTOM_NAMES[obj]
    except TypeError:  # an unhashable object is never registered
        pass
    return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or in scope, or in ``custom_objects`` / ``module_objects``) as ``name``; None
    when there is none. Lookup order as Keras': scope, global registry, custom_objects, module_objects."""
    scope = _scope_objects()
    if name in scope:
        return scope[name]
    if name in GLOBAL_CUSTOM_OBJECTS:
        return GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


# ---- fastnn.keras' public names ---------------------------------------------------------------------------
_public_cache: dict = {}
# the classes Keras names at its top level (keras.Layer, keras.Loss, ...) though its namespaces have them too
_TOP_LEVEL = frozenset({"Model", "Sequential", "Layer", "Loss", "Metric", "Optimizer", "Initializer", "Regularizer",
                        "InputSpec", "KerasTensor"})


def _namespace(ns: str):
    try:
        return importlib.import_module(f"{__package__}.{ns}") if ns else importlib.import_module(__package__)
    except ModuleNotFoundError:
        return None


def _public_name(obj):
    """``"keras.layers.Dense"`` for a class or function fastnn.keras exports (under its own name where it has
    several), else None. The models and base classes live at the top (``keras.Sequential``, ``keras.Layer``),
    as in Keras."""
    if not _public_cache:
        for ns in ("",) + _NAMESPACES:
            module = _namespace(ns)
            if module is None:
                continue
            prefix = "keras" + (f".{ns}" if ns else "")
            items = list(vars(module).items())
            if not ns:  # keras.Layer, keras.Loss, ...: found in the namespaces, named at the top
                items = [(n, v) for sub in _NAMESPACES if _namespace(sub) is not None
                         for n, v in vars(_namespace(sub)).items() if n in _TOP_LEVEL]
            for attr, value in items:
                if attr.startswith("_") or isinstance(value, types.ModuleType):
                    continue
                if not (isinstance(value, type) or isinstance(value, types.FunctionType)):
                    continue
                if not getattr(value, "__module__", "").startswith("fastnn.keras"):
                    continue
                key = id(value)
                current = _public_cache.get(key)
                canonical = attr == getattr(value, "__name__", None)
                if current is None or (canonical and not current[1]):
                    if not ns and value.__name__ not in _TOP_LEVEL:
                        continue  # only these are exported at keras' top level
                    _public_cache[key] = (f"{prefix}.{attr}", canonical, value)
    entry = _public_cache.get(id(obj))
    return entry[0] if entry is not None and entry[2] is obj else None


# ---- serialize ---------------------------------------------------------------------------------------------
def _func_dump(fn):
    code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
    closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
    return code, fn.__defaults__, closure


def _func_load(value):
    code, defaults, closure = value
    if isinstance(defaults, list):
        defaults = tuple(defaults)
    code = marshal.loads(codecs.decode(code.encode("ascii"), "base64"))

    def cell(v):
        return (lambda: v).__closure__[0]

    cells = tuple(cell(v) for v in closure) if closure is not None else None
    return types.FunctionType(code, globals(), code.co_name, defaults, cells)


def _serialize_dict(obj: dict) -> dict:
    return {key: serialize_keras_object(value) for key, value in obj.items()}


def _dtype_name(dtype) -> str:
    from ..dtypes import to_dtype

    return to_dtype(dtype).name if not isinstance(dtype, str) else dtype


def serialize_keras_object(obj):
    """A Keras object (layer, loss, metric, optimizer, initializer, regularizer, function, ...) as Keras 3's
    config dict; plain values, lists, tuples and dicts are serialized item by item."""
    from .._tensor import Tensor

    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(x) for x in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return _serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {"start": serialize_keras_object(obj.start),
                                                      "stop": serialize_keras_object(obj.stop),
                                                      "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, Tensor):
        return {"class_name": "__tensor__", "config": {"value": obj.detach().tolist(), "dtype": obj.dtype.name}}
    if type(obj).__module__ == "numpy":
        if getattr(obj, "ndim", 0) > 0:
            return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": _dtype_name(obj.dtype)}}
        return obj.item()
    if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
        warnings.warn("The object being serialized includes a `lambda`. This is unsafe. In order to reload the "
                      "object, you will have to pass `safe_mode=False` to the loading function. Please avoid using "
                      "`lambda` in the future, and use named Python functions instead.", stacklevel=2)
        return {"class_name": "__lambda__", "config": {"value": _func_dump(obj)}}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        # Keras stores every function as the builtin class "function" with its registered name as config
        return {"module": "builtins", "class_name": "function", "config": get_registered_name(obj),
                "registered_name": "function"}
    if isinstance(obj, type):
        inner = get_registered_name(obj)
    elif hasattr(obj, "get_config"):
        inner = obj.get_config()
        if not isinstance(inner, dict):
            raise TypeError(f"The `get_config()` method of {obj} should return a dict. It returned: {inner}")
        inner = _serialize_dict(inner)
    else:
        raise TypeError(f"Cannot serialize object {obj} of type {type(obj)}. To be serializable, a class must "
                        "implement the `get_config()` method.")
    cls = type(obj)
    public = _public_name(cls)
    if public is not None:
        module, _, class_name = public.rpartition(".")
        config = {"module": module, "class_name": class_name, "config": inner, "registered_name": None}
    else:
        module = cls.__module__
        config = {"module": None if module == "__main__" else module, "class_name": cls.__name__,
                  "config": inner, "registered_name": get_registered_name(cls)}
    for getter, key in (("get_build_config", "build_config"), ("get_compile_config", "compile_config")):
        extra = getattr(obj, getter, None)
        value = extra() if callable(extra) else None
        if value is not None:
            config[key] = _serialize_dict(value)
    return config


# ---- deserialize -------------------------------------------------------------------------------------------
def _in_namespace(ns: str, name: str):
    module = _namespace(ns)
    value = getattr(module, name, None) if module is not None else None
    return None if isinstance(value, types.ModuleType) else value


def _activation_by_name(name: str):
    """An activation fastnn.keras knows by name but does not export as an attribute (``relu``)."""
    from . import activations

    try:
        return activations.get(name)
    except (ValueError, TypeError, KeyError):
        return None


def _retrieve(name, registered_name, module, obj_type, full_config, custom_objects):
    found = get_registered_object(name if obj_type == "function" else registered_name, custom_objects)
    if found is not None:
        return found
    if module:
        if module.startswith("fastnn.keras"):
            module = "keras" + module[len("fastnn.keras"):]
        if module == "keras" or module.startswith("keras."):
            api_name = f"{module}.{name}"
            if api_name in _NON_MODELING:
                raise ValueError(f"Cannot deserialize `{api_name}` because it is not a modeling function. "
                                 "Non-modeling APIs are disallowed during deserialization for security. Model "
                                 "configuration should only contains operations, layers, metrics, losses, or "
                                 "registered custom objects and functions.")
            ns = module[len("keras."):] if module != "keras" else ""
            if ns in ("",) + _NAMESPACES:
                value = _in_namespace(ns, name)
                if value is not None:
                    return value
            if module == "keras" or module.startswith("keras.src."):
                # keras.Layer, keras.Loss ... live in a namespace here; a keras.src module is Keras' private name
                # of a class (its torch optimizers)
                for ns in _NAMESPACES:
                    value = _in_namespace(ns, name)
                    if isinstance(value, type):
                        return value
        if obj_type == "function" and module == "builtins":
            for ns in _FUNCTION_NAMESPACES:
                value = _in_namespace(ns, name)
                if value is not None:
                    return value
            value = _activation_by_name(name)
            if value is not None:
                return value
            if ">" not in name:
                for custom_name, custom in custom_objects.items():
                    if custom_name.endswith(f">{name}"):
                        return custom
    raise TypeError(f"Could not locate {obj_type} '{name}'. Make sure custom classes and functions are decorated "
                    "with `@keras.saving.register_keras_serializable()`. If they are already decorated, make sure "
                    "they are all imported so that the decorator is run before trying to load them. Full object "
                    f"config: {full_config}")


def _from_module_objects(config, module_objects, custom_objects, safe_mode):
    """Keras' namespace-level deserialize(): a name or config resolved in one namespace's objects."""
    inner, fn_module = None, None
    if isinstance(config, dict):
        if "class_name" not in config:
            raise ValueError(f"Unknown `config` as a `dict`, config={config}")
        inner = config.get("config")
        custom = config["class_name"] in custom_objects or config.get("registered_name") in custom_objects or (
            isinstance(inner, str) and inner in custom_objects)
        if custom:
            return deserialize_keras_object(config, custom_objects, safe_mode)
        if config["class_name"] == "function":
            fn_module = config.get("module")
            config = config["config"] if fn_module == "builtins" else config["registered_name"]
        else:
            if config.get("module", "_") is None:
                raise TypeError(f"Cannot deserialize object of type `{config['class_name']}`. If "
                                f"`{config['class_name']}` is a custom class, please register it using the "
                                "`@keras.saving.register_keras_serializable()` decorator.")
            config = config["class_name"]
    if not isinstance(config, str) or config not in module_objects:
        return config
    found = module_objects[config]
    if isinstance(found, types.FunctionType) or not isinstance(found, type):
        return found
    if inner is None:
        inner = {}
    return found.from_config(inner) if hasattr(found, "from_config") else found(**inner)


def deserialize_keras_object(config, custom_objects=None, safe_mode: bool = True, **kwargs):
    """The object a config dict (from serialize_keras_object, or Keras' own) describes. Classes are found
    among registered objects, ``custom_objects`` and fastnn.keras' public classes by module and class name;
    instances are made with the class' ``from_config``."""
    scoped_safe = getattr(_state, "safe_mode", None)
    safe_mode = scoped_safe if scoped_safe is not None else safe_mode
    module_objects = kwargs.pop("module_objects", None)
    kwargs.pop("printable_module_name", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object() got unexpected keyword arguments {sorted(kwargs)}")
    custom_objects = {**(custom_objects or {}), **_scope_objects(), **GLOBAL_CUSTOM_OBJECTS}
    if config is None:
        return None
    if isinstance(config, str) and custom_objects.get(config) is not None:
        return custom_objects[config]
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(x, custom_objects, safe_mode) for x in config]
    if module_objects is not None:
        return _from_module_objects(config, module_objects, custom_objects, safe_mode)
    if isinstance(config, (str, int, float, bool)):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"Could not parse config: {config}")
    if "class_name" not in config or "config" not in config:
        return {key: deserialize_keras_object(value, custom_objects, safe_mode) for key, value in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    if class_name in ("__tensor__", "__numpy__"):
        from ..creation import tensor

        value = tensor(inner["value"], dtype=inner["dtype"])
        return value if class_name == "__tensor__" else value.numpy()
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        parts = ("start", "stop", "step")
        return slice(*(deserialize_keras_object(inner[k], custom_objects, safe_mode) for k in parts))
    if class_name == "__lambda__":
        if safe_mode:
            raise ValueError("Requested the deserialization of a Python lambda. This carries a potential risk of "
                             "arbitrary code execution and thus it is disallowed by default. If you trust the source "
                             "of the artifact, you can override this error by passing `safe_mode=False` to the "
                             "loading function.")
        return _func_load(inner["value"])
    if class_name == "__keras_tensor__":
        raise NotImplementedError("deserialize_keras_object: symbolic tensors (__keras_tensor__) are restored by "
                                  "model loading, not one by one")
    module = config.get("module")
    registered_name = config.get("registered_name", class_name)
    if class_name == "function":
        if not isinstance(inner, str):
            raise TypeError(f"Expected 'config' to be a non-null str for a function classname,\ninstead got "
                            f"{type(inner)}\nFull config: {config}")
        return _retrieve(inner, registered_name, module, "function", config, custom_objects)
    if not isinstance(inner, dict):
        raise TypeError(f"Expected 'config' to be a dict for {class_name},\ninstead got {type(inner)}\n"
                        f"Full config: {config}")
    cls = _retrieve(class_name, registered_name, module, "class", config, custom_objects)
    if isinstance(cls, types.FunctionType):
        return cls
    previous = getattr(_state, "safe_mode", None)
    with CustomObjectScope(custom_objects):
        _state.safe_mode = safe_mode
        try:
            instance = cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)
        except TypeError as e:
            raise TypeError(f"{cls} could not be deserialized properly. Please ensure that components that are "
                            "Python object instances (layers, models, etc.) returned by `get_config()` are "
                            f"explicitly deserialized in the model's `from_config()` method.\n\nconfig={config}.\n\n"
                            f"Exception encountered: {e}") from e
        finally:
            _state.safe_mode = previous
    build_config = config.get("build_config")
    if build_config and not getattr(instance, "built", True) and hasattr(instance, "build_from_config"):
        instance.build_from_config(build_config)
        instance.built = True
    compile_config = config.get("compile_config")
    if compile_config and hasattr(instance, "compile_from_config"):
        instance.compile_from_config(compile_config)
    return instance


__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
           "get_registered_name", "get_registered_object", "register_keras_serializable", "serialize_keras_object"]
