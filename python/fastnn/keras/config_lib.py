"""Layer and model configs as Keras 3 builds them: ``get_config()`` defaults to the arguments the object
was constructed with (Keras 3's auto-config: captured by ``Layer.__init_subclass__``, bound to the
``__init__`` signature), Keras objects among them (initializers, regularizers, layers) in Keras' serialized
form ``{"module", "class_name", "config", "registered_name"}``; ``from_config`` reverses it, finding
classes in fastnn.keras, in the caller's ``custom_objects`` and in the ``register_keras_serializable``
registry. Configs are data (numbers, strings, lists, dicts): nothing here evaluates code."""
from __future__ import annotations

import importlib
import inspect
import numbers

from . import _serial

_NAMESPACES = {"keras.layers": "layers", "keras.initializers": "initializers", "keras.regularizers": "regularizers",
               "keras.constraints": "constraints", "keras.optimizers": "optimizers", "keras.losses": "losses",
               "keras.metrics": "metrics", "keras.activations": "activations", "keras.models": "models",
               "keras": "models", "keras.src.models.functional": "models",
               "keras.optimizers.schedules": "optimizers.schedules", "keras.random": "random"}


class NotSerializable(TypeError):
    pass


NOT_PLAIN = object()


def plain_value(value, item, tuple_form=None):
    """``value`` as JSON data when it is None, a bool, a string, a number, or a list, tuple or dict whose
    items ``item`` converts; a tuple becomes ``tuple_form(items)`` (a list without one). NOT_PLAIN for
    anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [item(v) for v in value]
        return tuple_form(items) if tuple_form is not None and isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k): item(v) for k, v in value.items()}
    return NOT_PLAIN


def serialize_value(value):
    """A constructor argument as config data; raises NotSerializable for anything else."""
    plain = plain_value(value, serialize_value)
    if plain is not NOT_PLAIN:
        return plain
    if hasattr(value, "get_config") and not isinstance(value, type):
        return serialize_object(value)
    if callable(value):
        from . import activations

        name = activations.name_of(value)
        if name != "custom" and activations.get(name) is value:
            return name
    raise NotSerializable(f"{type(value).__name__} value {value!r}")


def serialize_object(obj) -> dict:
    cls = type(obj)
    module = _public_module(cls)
    if module is not None:
        return _serial.class_config(obj, module, True)
    registry = _registry()
    return _serial.class_config(obj, None, False, registry.get_registered_name(cls) if registry is not None else None)


def _public_module(cls):
    """keras.<namespace> for a fastnn.keras class, as Keras names its own modules."""
    mod = cls.__module__
    if not mod.startswith("fastnn.keras"):
        return None
    for public, attr in _NAMESPACES.items():
        ns = importlib.import_module(f"fastnn.keras.{attr}") if attr != "models" else importlib.import_module(
            "fastnn.keras.models")
        if getattr(ns, cls.__name__, None) is cls:
            return public
    return "keras"


def find_class(module: str | None, class_name: str, registered_name: str | None = None, custom_objects=None):
    custom_objects = custom_objects or {}
    for key in (registered_name, class_name):
        if key and key in custom_objects:
            return custom_objects[key]
    registry = _registry()
    for key in (registered_name, class_name):
        found = registry.get_registered_object(key, custom_objects) if key and registry is not None else None
        if found is not None:
            return found
    attr = _NAMESPACES.get(module or "")
    spaces = [attr] if attr else list(dict.fromkeys(_NAMESPACES.values()))
    for space in spaces:
        ns = importlib.import_module(f"fastnn.keras.{space}")
        found = getattr(ns, class_name, None)
        if isinstance(found, type):
            return found
    raise TypeError(f"Could not locate class '{class_name}'. Make sure custom classes are decorated with "
                    "`@keras.saving.register_keras_serializable()` or passed in `custom_objects`. Full object "
                    f"config: {{'module': {module!r}, 'class_name': {class_name!r}}}")


def _registry():
    """The register_keras_serializable registry (keras.saving), if this build has it."""
    try:
        from . import object_registry
    except ImportError:
        return None
    return object_registry


def is_serialized_object(value) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value and \
        set(value) <= {"module", "class_name", "config", "registered_name", "build_config", "compile_config"}


def deserialize_value(value, custom_objects=None):
    if is_serialized_object(value) and value["class_name"] in ("DTypePolicy", "FloatDTypePolicy"):
        return (value.get("config") or {}).get("name")  # Keras' dtype policy: fastnn keeps the dtype name
    if is_serialized_object(value):
        return deserialize_object(value, custom_objects)
    if isinstance(value, list):
        return [deserialize_value(v, custom_objects) for v in value]
    if isinstance(value, dict):
        return {k: deserialize_value(v, custom_objects) for k, v in value.items()}
    return value


def deserialize_object(config: dict, custom_objects=None):
    if config.get("class_name") == "function":  # Keras' config of a named function (a Lambda's, ...)
        from .layers.core_more import deserialize_function

        return deserialize_function(config, custom_objects)
    cls = find_class(config.get("module"), config["class_name"], config.get("registered_name"), custom_objects)
    inner = config.get("config") or {}
    if hasattr(cls, "from_config"):
        try:
            return cls.from_config(inner, custom_objects=custom_objects) if _takes_custom_objects(cls) else \
                cls.from_config(inner)
        except TypeError as e:
            raise TypeError(f"{cls.__name__}.from_config could not rebuild the object from {inner}: {e}") from e
    return cls(**inner)


def _takes_custom_objects(cls) -> bool:
    try:
        return "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        return False


def init_config(layer) -> tuple[dict, list[str]]:
    """The recorded constructor arguments by name, serialized; and the names that could not be."""
    cls, args, kwargs = layer.__dict__.get("_init_args", (type(layer), (), {}))
    signature = inspect.signature(cls.__init__)
    try:
        binding = signature.bind_partial(layer, *args, **kwargs)
        binding.apply_defaults()  # Keras 3's auto-config lists the defaults too
        bound = binding.arguments
    except TypeError:
        bound = dict(kwargs)
    config, failed = {}, []
    params = signature.parameters
    for name, value in bound.items():
        if name == "self" or name not in params:
            continue
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                failed.append(name)
            continue
        items = value.items() if kind is inspect.Parameter.VAR_KEYWORD else [(name, value)]
        for key, v in items:
            try:
                config[key] = serialize_value(v)
            except NotSerializable:
                failed.append(key)
    return config, failed
