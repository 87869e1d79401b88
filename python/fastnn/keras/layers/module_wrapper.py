"""``keras.layers.TorchModuleWrapper`` on fastnn: Keras' wrapper turns a ``torch.nn.Module`` into a layer;
here it wraps a ``fastnn.nn.Module`` (fastnn's torch-compatible modules), whose parameters become the
layer's weights (trainable as their ``requires_grad`` says), in ``module.parameters()`` order, as Keras'."""
from __future__ import annotations

import base64
import io

from ...nn.module import Module
from .base import Layer


class TorchModuleWrapper(Layer):
    def __init__(self, module, name=None, output_shape=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if not isinstance(module, Module):
            raise TypeError(f"TorchModuleWrapper wraps a fastnn.nn.Module (fastnn's torch-compatible modules); "
                            f"received module={module!r} of type {type(module).__name__}")
        self.module = module
        self._output_shape_arg = None if output_shape is None else tuple(output_shape)
        self.built = True

    @property
    def weights(self):
        return list(self.module.parameters())

    def call(self, inputs, training=None):
        self.module.train(bool(training))
        return self.module(inputs)

    def compute_output_shape(self, input_shape):
        return self._output_shape_arg

    def get_config(self) -> dict:
        from ... import io as fastnn_io

        buffer = io.BytesIO()
        fastnn_io.save(self.module, buffer)
        return {**super().get_config(), "module": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "output_shape": self._output_shape_arg}

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        from ... import io as fastnn_io
        from .. import object_registry

        config = dict(config)
        if isinstance(config.get("module"), str):
            scoped = getattr(object_registry._state, "safe_mode", None)
            if (safe_mode if safe_mode is not None else scoped) is not False:
                raise ValueError("Requested the deserialization of a module object (a pickle). This carries a "
                                 "potential risk of arbitrary code execution and thus it is disallowed by default. If "
                                 "you trust the source of the artifact, you can override this error by passing "
                                 "`safe_mode=False` to the loading function.")
            raw = io.BytesIO(base64.b64decode(config["module"].encode("ascii")))
            config["module"] = fastnn_io.load(raw, weights_only=False)
        return cls(**config)
