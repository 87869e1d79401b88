"""keras.layers.serialize / deserialize in Keras 3's format: ``{"module", "class_name", "config",
"registered_name"}`` (config_lib's object serialization, restricted to layers). ``deserialize`` finds any
fastnn.keras.layers class by its class_name (and classes in ``custom_objects`` or registered with
``register_keras_serializable``); it builds nothing from code, only calls classes' ``from_config``, then
``build`` with the config's ``build_config`` input shape when one is given."""
from __future__ import annotations

from .base import Layer


def custom_object(name):
    """The object registered as ``name`` with keras.saving's registry (``register_keras_serializable``,
    ``custom_object_scope``) where this fastnn.keras has one, else None."""
    from .. import config_lib

    registry = config_lib._registry()
    return registry.get_registered_object(name) if registry is not None else None


def _initializer_by_name(value):
    """A Keras initializer object of default config ({"module": "keras.initializers", "class_name":
    "GlorotUniform", ...}) as its snake_case name where this fastnn.keras has no class of that name."""
    from .. import initializers
    from .base import snake_case

    if (isinstance(value, dict) and value.get("module") == "keras.initializers"
            and not isinstance(getattr(initializers, str(value.get("class_name")), None), type)
            and not any(v is not None for v in (value.get("config") or {}).values())):
        return snake_case(value["class_name"])
    return value


def serialize(layer) -> dict:
    """The layer's class and ``get_config()``; fastnn's own layers under Keras' module ``keras.layers`` (so
    Keras reads the same dict), a user's subclass under its own module and registered name."""
    from .. import config_lib

    if not isinstance(layer, Layer):
        raise TypeError(f"keras.layers.serialize expects a Layer, got {type(layer).__name__}")
    return config_lib.serialize_object(layer)


def deserialize(config, custom_objects=None):
    """A layer from ``serialize``'s dict (or a Keras 2 style ``{"class_name", "config"}``)."""
    from .. import config_lib

    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"`keras.layers.deserialize` was passed a `config` object that is not a "
                         f"`keras.layers.Layer` config. Received: {config}")
    inner = {k: _initializer_by_name(v) for k, v in dict(config.get("config") or {}).items()}
    obj = config_lib.deserialize_object({**config, "config": inner}, custom_objects)
    if not isinstance(obj, Layer):
        raise ValueError(f"`keras.layers.deserialize` was passed a `config` object that is not a "
                         f"`keras.layers.Layer`. Received: {config}")
    build = config.get("build_config")
    if build and "input_shape" in build and not obj.built:
        obj.build(tuple(build["input_shape"]))
        obj.built = True
    return obj
