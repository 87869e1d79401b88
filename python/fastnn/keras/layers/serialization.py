"""keras.layers.serialize / deserialize in Keras 3's format: ``{"module", "class_name", "config",
"registered_name"}``. ``deserialize`` finds any fastnn.keras.layers class by its class_name (and the
``custom_objects`` given, which nested deserializations, e.g. a wrapper's inner layer, see too); it
builds nothing from code, only calls classes' ``from_config``."""
from __future__ import annotations

import contextlib

from .base import Layer

_custom_scopes: list[dict] = []  # custom_objects of the deserializations in progress (innermost last)


def custom_object(name):
    """The object given as ``name`` to an enclosing ``deserialize(..., custom_objects=...)``, else one that
    keras.saving's registry knows (``register_keras_serializable``, ``custom_object_scope``) where this
    fastnn.keras has it, else None."""
    for scope in reversed(_custom_scopes):
        if name in scope:
            return scope[name]
    try:
        from .. import object_registry
    except ImportError:
        return None
    return object_registry.get_registered_object(name)


def _registered_name(cls) -> str:
    try:
        from .. import object_registry
    except ImportError:
        return cls.__name__
    return object_registry.get_registered_name(cls)


@contextlib.contextmanager
def _scope(custom_objects):
    _custom_scopes.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _custom_scopes.pop()


def _is_builtin_layer(cls) -> bool:
    return cls.__module__.startswith("fastnn.keras.")


def serialize(layer) -> dict:
    """The layer's class and ``get_config()``; fastnn's own layers under Keras' module ``keras.layers`` (so
    Keras reads the same dict), a user's subclass under its own module and class name."""
    if not isinstance(layer, Layer):
        raise TypeError(f"keras.layers.serialize expects a Layer, got {type(layer).__name__}")
    cls = type(layer)
    builtin = _is_builtin_layer(cls)
    return {"module": "keras.layers" if builtin else cls.__module__, "class_name": cls.__name__,
            "config": layer.get_config(), "registered_name": None if builtin else _registered_name(cls)}


def _layer_classes() -> dict:
    from .. import layers

    return {name: obj for name, obj in vars(layers).items() if isinstance(obj, type) and issubclass(obj, Layer)}


def _plain(value):
    """Keras' nested serialized helpers made plain for our constructors: a DTypePolicy dict becomes its dtype
    name, a default-configured keras.initializers object its snake_case name."""
    from .base import snake_case

    if isinstance(value, dict) and value.get("class_name") == "DTypePolicy":
        return (value.get("config") or {}).get("name")
    if (isinstance(value, dict) and value.get("module") == "keras.initializers"
            and not any(v is not None for v in (value.get("config") or {}).values())):
        return snake_case(value["class_name"])
    return value


def deserialize(config, custom_objects=None):
    """A layer from ``serialize``'s dict (or a Keras 2 style ``{"class_name", "config"}``)."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"`keras.layers.deserialize` was passed a `config` object that is not a "
                         f"`keras.layers.Layer` config. Received: {config}")
    name = config["class_name"]
    with _scope(custom_objects):
        cls = custom_object(name)
        if cls is None and config.get("registered_name"):
            cls = custom_object(config["registered_name"])
        if cls is None:
            cls = _layer_classes().get(name)
        if cls is None:
            raise TypeError(f"Could not locate class '{name}'. Make sure custom classes are passed in "
                            f"`custom_objects`. Full object config: {config}")
        inner = {k: _plain(v) for k, v in dict(config.get("config") or {}).items()}
        obj = cls.from_config(inner) if hasattr(cls, "from_config") else cls(**inner)
        build = config.get("build_config")
        if isinstance(obj, Layer) and build and "input_shape" in build and not obj.built:
            obj.build(tuple(build["input_shape"]))
            obj.built = True
    if not isinstance(obj, Layer):
        raise ValueError(f"`keras.layers.deserialize` was passed a `config` object that is not a "
                         f"`keras.layers.Layer`. Received: {config}")
    return obj
