"""Embedding: integer indices -> rows of ``embeddings`` (input_dim, output_dim), as Keras.

``mask_zero=True`` attaches a mask (index != 0) to the output that downstream layers receive as ``mask=``
(index 0's row stays an ordinary trainable row, as in Keras)."""
from __future__ import annotations

from ... import ops
from .base import Layer


class Embedding(Layer):
    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero: bool = False, weights=None,
                 lora_rank=None, **kwargs) -> None:
        kwargs.pop("input_length", None)  # Keras 2's argument; Keras 3 ignores it too (shapes come from data)
        super().__init__(**kwargs)
        if lora_rank is not None:
            raise NotImplementedError("Embedding: LoRA (lora_rank=) is not supported by fastnn.keras yet")
        self._preset_weights(embeddings=(embeddings_regularizer, embeddings_constraint))
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Invalid value for argument `{name}`: it must be a positive integer, received "
                                 f"{value}")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = embeddings_initializer
        self.mask_zero = bool(mask_zero)
        self._initial_weights = weights

    def build(self, input_shape=None) -> None:
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, training=None):
        idx = inputs if inputs.dtype.name in ("int64", "int32") else inputs.long()  # Keras casts to int too
        return ops.embedding(idx, self.embeddings)

    def compute_mask(self, inputs, previous_mask=None):
        return (inputs != 0) if self.mask_zero else None

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero}
