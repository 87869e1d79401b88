"""ReversibleEmbedding: an Embedding that can also map hidden states back to logits over the vocabulary
(``reverse=True``), with the transposed embeddings (``tie_weights``) or its own reverse_embeddings."""
from __future__ import annotations

from ... import ops
from .embedding import Embedding


class ReversibleEmbedding(Embedding):
    """``call(ids)``: embeddings[ids]; ``call(hidden, reverse=True)``: hidden · embeddingsᵀ (or
    · reverse_embeddings (output_dim, input_dim) when ``tie_weights=False``), computed in ``reverse_dtype``
    when given, then ``logit_soft_cap * tanh(logits / logit_soft_cap)`` when a cap is given."""

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs) -> None:
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        self.tie_weights = tie_weights
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape=None) -> None:
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(shape=(self.output_dim, self.input_dim),
                                                      initializer=self.embeddings_initializer,
                                                      name="reverse_embeddings")

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        kernel = self.embeddings.t() if self.tie_weights else self.reverse_embeddings
        x = inputs if inputs.dtype.is_floating_point else inputs.float()
        if self.reverse_dtype is not None:
            x, kernel = x.to(self.reverse_dtype), kernel.to(self.reverse_dtype)
        logits = ops.matmul(x, kernel)
        if self.logit_soft_cap is not None:
            cap = float(self.logit_soft_cap)
            logits = ops.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape, reverse=False):
        shape = list(input_shape)
        if reverse:
            shape[-1] = self.input_dim
        else:
            shape.append(self.output_dim)
        return shape

    def get_config(self) -> dict:
        return {**super().get_config(), "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}
