"""Keras 3's serialized form of a small object (a regularizer, a constraint): ``{"module", "class_name",
"config", "registered_name"}``, and its inverse over one namespace's classes. Layers and models use the
object registry; this covers the namespaces whose objects are plain configs."""
from __future__ import annotations

import inspect


def serialize(obj, module: str):
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        if callable(obj) and hasattr(obj, "__name__"):  # a plain function, as Keras stores it
            return obj.__name__
        raise TypeError(f"Cannot serialize {obj!r}: it has no get_config()")
    cls = type(obj)
    own = cls.__module__.startswith("fastnn.keras")
    return {"module": module if own else cls.__module__, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": None if own else cls.__name__}


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
    name = config.get("registered_name") or config["class_name"]
    cls = table.get(name) or table.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown {kind}: '{config['class_name']}'. Please ensure you are using a "
                         "`keras.utils.custom_object_scope` and that this object is included in the scope.")
    inner = config.get("config") or {}
    return cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)
