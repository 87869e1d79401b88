"""AdditiveAttention (Bahdanau-style): scores = sum(scale * tanh(query + key)) over the features, with a
trainable per-feature ``scale`` (use_scale), then Attention's softmax, masks, causal mask and dropout."""
from __future__ import annotations

from ... import ops
from .attention import Attention


class AdditiveAttention(Attention):
    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, score_mode="concat", **kwargs)

    def build(self, input_shape) -> None:
        if not isinstance(input_shape, (list, tuple)) or not isinstance(input_shape[0], (list, tuple)) \
                or not 2 <= len(input_shape) <= 3:
            raise ValueError(f"AdditiveAttention layer must be called on a list of inputs, namely [query, value] "
                             f"or [query, value, key]. Received: {input_shape}.")
        dim = input_shape[0][-1]
        self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform") \
            if self.use_scale else None
        self.concat_score_weight = None

    def _concat_scores(self, q, k):
        summed = q.unsqueeze(-2) + k.unsqueeze(-3)  # (batch, Tq, Tv, dim)
        t = ops.tanh(summed)
        return (t * self.scale if self.scale is not None else t).sum(-1)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["score_mode"]
        return config
