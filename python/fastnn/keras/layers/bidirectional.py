"""Bidirectional: runs a copy of an RNN layer forwards and a second copy (``go_backwards=True``, or the
given ``backward_layer``) over the same sequence, and merges their outputs as Keras does. The weights are
the forward layer's followed by the backward layer's (Keras' ``get_weights`` order)."""
from __future__ import annotations

from ... import ops
from .base import Layer, _is_symbolic

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _copy_layer(layer: Layer, **overrides) -> Layer:
    """A fresh, unbuilt layer made with ``layer``'s constructor arguments (Keras serialises and
    deserialises its config); ``overrides`` replace some of them."""
    cls, args, kw = layer.__dict__.get("_init_args", (type(layer), (), {}))
    return cls(*args, **{**kw, **overrides})


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def _states_per_direction(layer) -> int:
    if getattr(layer, "_mode", None) == "LSTM":
        return 2
    size = getattr(getattr(layer, "cell", None), "state_size", None)
    return len(size) if isinstance(size, (list, tuple)) else 1


class Bidirectional(Layer):
    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs) -> None:
        from .. import saving
        from .wrappers import _layer_from

        # model.save stores constructor arguments as data: the wrapped layers go in as their configs (a
        # dict here is such a config, read back by load_model, or a keras.layers.serialize config)
        layer, backward_layer = (_layer_from(v) for v in (layer, backward_layer))
        if isinstance(layer, Layer) and (backward_layer is None or isinstance(backward_layer, Layer)):
            cls, args, kw = self.__dict__["_init_args"]
            kw = {**kw, "layer": saving.layer_config(layer), "merge_mode": merge_mode, "weights": weights,
                  "backward_layer": None if backward_layer is None else saving.layer_config(backward_layer)}
            self.__dict__["_init_args"] = (cls, (), kw)
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `Bidirectional` layer with a `keras.layers.Layer` instance. "
                             f"Received: {layer}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"`backward_layer` need to be a `keras.layers.Layer` instance. Received: "
                             f"{backward_layer}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should be one of "
                             '{"sum", "mul", "ave", "concat", None}')
        super().__init__(**kwargs)
        self.forward_layer = _copy_layer(layer, name=f"forward_{_strip(layer.name, 'forward_')}")
        if backward_layer is None:
            backward_layer = _copy_layer(layer, go_backwards=True, name=f"backward_{_strip(layer.name, 'backward_')}")
        self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if getattr(fwd, "go_backwards", False) == getattr(bwd, "go_backwards", False):
            raise ValueError(f"Forward layer and backward layer should have different `go_backwards` value. "
                             f"Received: forward_layer.go_backwards {fwd.go_backwards}, "
                             f"backward_layer.go_backwards={bwd.go_backwards}")
        for a in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, a) != getattr(bwd, a):
                raise ValueError(f"Forward layer and backward layer are expected to have the same value for "
                                 f"attribute \"{a}\", got \"{getattr(fwd, a)}\" for forward layer and "
                                 f"\"{getattr(bwd, a)}\" for backward layer")
        if weights:
            raise NotImplementedError("Bidirectional: `weights=` is not supported by fastnn.keras; call "
                                      "set_weights() after the layer is built")
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = fwd.return_sequences, fwd.return_state
        self.stateful = fwd.stateful

    def __call__(self, inputs, *args, initial_state=None, **kwargs):
        if initial_state is not None and (_is_symbolic(inputs) or _is_symbolic(list(initial_state))):
            raise NotImplementedError("Bidirectional: initial_state in a functional model is not supported by "
                                      "fastnn.keras (pass it when calling the layer on arrays)")
        if initial_state is not None:
            kwargs["initial_state"] = initial_state
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=None, initial_state=None, mask=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        # both directions see the same mask; the backward layer reverses it with its inputs (go_backwards)
        y = self.forward_layer(inputs, initial_state=fwd_state, training=training, mask=mask)
        y_rev = self.backward_layer(inputs, initial_state=bwd_state, training=training, mask=mask)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.flip(y_rev, (1,))  # back into the input's time order
        if self.merge_mode == "concat":
            out = ops.cat([y, y_rev], -1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            out = (y, y_rev)
        if self.return_state:
            return (out + states) if self.merge_mode is None else (out,) + states
        return out

    def compute_mask(self, inputs, previous_mask=None):
        """Keras: the sequence output keeps the input's mask (one per direction without merging); states and
        a last-step output have none."""
        if not self.return_sequences or previous_mask is None:
            return None
        out = [previous_mask, previous_mask] if self.merge_mode is None else previous_mask
        if self.return_state:
            n_states = 2 * _states_per_direction(self.forward_layer)
            return ([*out] if isinstance(out, list) else [out]) + [None] * n_states
        return out

    def get_config(self) -> dict:
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"class_name": type(self.forward_layer).__name__,
                          "config": self.forward_layer.get_config()}}
