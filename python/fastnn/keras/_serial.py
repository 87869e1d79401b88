"""Keras 3's serialized form of a namespace's object (a regularizer, a constraint, a loss, a metric):
``{"module", "class_name", "config", "registered_name"}``, its inverse over one namespace's classes, and the
namespaces' ``get(identifier)``. Layers and models use the object registry; this covers the namespaces
whose objects are plain configs."""
from __future__ import annotations

import inspect


def class_config(obj, module: str | None, builtin: bool, registered_name: str | None = None) -> dict:
    """An object as Keras' dict: a built-in one under its public ``module``, any other under its own module
    and its ``registered_name`` (its class name by default)."""
    cls = type(obj)
    return {"module": module if builtin else cls.__module__, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": None if builtin else (registered_name or cls.__name__)}


def function_config(name: str) -> dict:
    """Keras' dict for a function given by name."""
    return {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}


def lookup(name: str, objects: dict, custom_objects=None, what: str = "class or function"):
    """``name`` in ``custom_objects``, else in the namespace's ``objects``; ValueError naming it otherwise."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if name in objects:
        return objects[name]
    raise ValueError(f"Could not locate {what} '{name}'. Make sure custom classes and functions are passed in "
                     "`custom_objects`.")


def serialize(obj, module: str):
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        if callable(obj) and hasattr(obj, "__name__"):  # a plain function, as Keras stores it
            return obj.__name__
        raise TypeError(f"Cannot serialize {obj!r}: it has no get_config()")
    if type(obj).__module__.startswith("fastnn.keras"):
        return class_config(obj, module, True)
    from .object_registry import serialize_keras_object  # a custom class: its module and registered name

    return serialize_keras_object(obj)


def deserialize(config, objects: dict, kind: str, custom_objects=None):
    """``config`` is a class/function name or a serialized dict; ``objects`` maps names to this namespace's
    classes and functions."""
    table = {**objects, **(custom_objects or {})}
    if isinstance(config, str):
        if config not in table:
            raise ValueError(f"Could not interpret {kind} identifier: {config}")
        found = table[config]
        return found() if inspect.isclass(found) else found
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret {kind} identifier: {config}")
    from .object_registry import deserialize_keras_object  # Keras' module_objects lookup, registry included

    found = deserialize_keras_object(config, custom_objects, module_objects=objects)
    if isinstance(found, (str, dict)):  # neither this namespace's nor a registered / custom object
        raise ValueError(f"Unknown {kind}: '{config['class_name']}'. Please ensure you are using a "
                         "`keras.utils.custom_object_scope` and that this object is included in the scope.")
    return found


def get(identifier, deserialize, kind: str):
    """``get`` of a namespace of config objects (regularizers, constraints): None, a name or serialized dict
    (through ``deserialize``), a class (instantiated) or any callable."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier: {identifier}")


def get_named(identifier, deserialize, objects: dict, kind: str, instantiate: bool = True):
    """``get`` of a namespace of functions and classes (activations, losses, metrics): a serialized dict
    (through ``deserialize``), a name in ``objects`` or the object itself; a class is instantiated when
    ``instantiate``."""
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = objects.get(identifier, None)
    else:
        obj = identifier
    if callable(obj):
        return obj() if instantiate and inspect.isclass(obj) else obj
    raise ValueError(f"Could not interpret {kind} identifier: {identifier}")
