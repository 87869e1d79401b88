"""Pipeline: preprocessing layers applied in order (Keras' ``keras.layers.Pipeline``)."""
from __future__ import annotations

from ..base import Layer
from ._common import PreprocessingLayer


def _serialize(layer) -> dict:
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def _deserialize(config):
    from ... import layers

    if isinstance(config, Layer):
        return config
    cls = getattr(layers, config.get("class_name", ""), None)
    if not isinstance(cls, type) or not issubclass(cls, Layer):
        raise ValueError(f"Pipeline: unknown layer class {config.get('class_name')!r}")
    from_config = getattr(cls, "from_config", None)
    return from_config(config["config"]) if from_config else cls(**config["config"])


class Pipeline(PreprocessingLayer):
    """Calls ``layers`` one after another, passing ``training`` to those that take it (``training=None``
    means training, the default of Keras' ``Pipeline.call``)."""

    def __init__(self, layers, name=None) -> None:
        super().__init__(name=name)
        self._pipeline_layers = list(layers)
        for i, layer in enumerate(self._pipeline_layers):
            self.add_module(str(i), layer)

    @property
    def layers(self) -> list:
        return list(self._pipeline_layers)

    def __call__(self, inputs, *args, **kwargs):
        from ..base import _is_symbolic

        if _is_symbolic(inputs):  # each layer reports its own symbolic output
            for layer in self._pipeline_layers:
                inputs = layer(inputs)
            return inputs
        return self.forward(inputs, *args, **kwargs)

    def forward(self, inputs, training=None, **kwargs):
        return self.call(inputs, training=True if training is None else bool(training))

    def call(self, inputs, training=True):
        for layer in self._pipeline_layers:
            inputs = layer(inputs, training=training)
        return inputs

    def get_config(self) -> dict:
        return {"layers": [_serialize(layer) for layer in self._pipeline_layers], "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ValueError("`Pipeline` config must contain a `layers` key mapping to a list of serialized layers. "
                             f"Received config with layers={layers}.")
        return cls(layers=[_deserialize(c) for c in layers], name=config.get("name"))
