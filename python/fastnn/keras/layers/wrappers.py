"""Wrapper (a layer holding another layer) and TimeDistributed (the wrapped layer applied to every time
step, time folded into the batch so one call does all steps)."""
from __future__ import annotations

from .base import Layer, _call_arguments


def _layer_from(value):
    """A wrapped layer given as a layer, as model.save's layer record, or as a serialized layer config."""
    if not isinstance(value, dict):
        return value
    from .. import saving

    if "args" in value and "kwargs" in value:
        return saving._make_layer(value, saving._layer_classes(None))
    from .serialization import deserialize

    return deserialize(value)


def _record_layer_as_data(wrapper, layer) -> None:
    """model.save stores constructor arguments as data: the wrapped layer goes in as its record."""
    from .. import saving

    cls, args, kw = wrapper.__dict__["_init_args"]
    record = saving.layer_config(layer)
    if args and isinstance(args[0], (Layer, dict)):
        args = (record,) + tuple(args[1:])
    elif "layer" in kw:
        kw = {**kw, "layer": record}
    wrapper.__dict__["_init_args"] = (cls, args, kw)


class Wrapper(Layer):
    """Base of layers that wrap one layer (``self.layer``): builds it with the wrapper, and stores it in the
    config as a serialized layer."""

    def __init__(self, layer, **kwargs) -> None:
        layer = _layer_from(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer} supplied to Wrapper isn't a supported layer type. Please ensure wrapped "
                             "layer is a valid Keras layer.")
        _record_layer_as_data(self, layer)
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True

    def get_config(self) -> dict:
        from .serialization import serialize

        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .. import config_lib
        from .serialization import deserialize

        config = dict(config)
        layer = deserialize(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config_lib.deserialize_value(config, custom_objects))


class TimeDistributed(Wrapper):
    """Applies ``layer`` to each slice ``inputs[:, t]``: (batch, time, *rest) is reshaped to
    (batch * time, *rest), the layer called once, and its output reshaped back to (batch, time, *out)."""

    def __init__(self, layer, **kwargs) -> None:
        layer = _layer_from(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `TimeDistributed` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer}")
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    @staticmethod
    def _child_shape(input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(f"`TimeDistributed` Layer should be passed an `input_shape` with at least 3 dimensions, "
                             f"received: {input_shape}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape) -> None:
        super().build(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        if child is None:
            return None
        return (child[0], input_shape[1]) + tuple(child[1:])

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        if mask is not None:
            if mask.ndim < 2:
                raise ValueError(f"The `mask` passed to the `TimeDistributed` layer must be at least 2D (e.g., "
                                 f"`(batch_size, timesteps)`), but it has {mask.ndim} dimension(s) with shape "
                                 f"{tuple(mask.shape)}.")
            if tuple(mask.shape[:2]) != shape[:2]:
                raise ValueError(f"The `mask` passed to the `TimeDistributed` layer has a shape {tuple(mask.shape)} "
                                 f"that is incompatible with the input shape {shape}. The first two dimensions of "
                                 "the mask (batch size and timesteps) must match the input's first two dimensions. "
                                 f"Expected mask shape prefix: ({shape[0]}, {shape[1]}).")
        batch, steps = shape[:2]
        folded = inputs.reshape((batch * steps,) + shape[2:])
        takes_training, takes_mask, _ = _call_arguments(type(self.layer))
        kwargs = {}
        if takes_training:
            kwargs["training"] = training
        if takes_mask and mask is not None:
            kwargs["mask"] = mask.reshape((batch * steps,) + tuple(mask.shape[2:]))
        y = self.layer(folded, **kwargs)
        return y.reshape((batch, steps) + tuple(y.shape[1:]))

    def compute_mask(self, inputs, mask=None):
        return mask
