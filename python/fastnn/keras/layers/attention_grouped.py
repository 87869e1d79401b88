"""GroupedQueryAttention (exported as GroupQueryAttention, as Keras): attention with ``num_query_heads``
query heads sharing ``num_key_value_heads`` key/value heads, projections as EinsumDense sublayers with
Keras' weights and order (query, key, [gate], value, attention_output), masks from query_mask /
value_mask / key_mask / attention_mask, the causal mask and an optional sliding window."""
from __future__ import annotations

import math

from ... import creation, ops
from ..._tensor import Tensor
from ..device_scope import get_device
from .base import KerasTensor
from .core_more import EinsumDense
from .regularization import _RandomLayer

_SLOTS = ("key", "query_mask", "value_mask", "key_mask", "attention_mask")


def _bool(t):
    t = t if isinstance(t, Tensor) else creation.as_tensor(t, device=get_device())
    return t if t.dtype.name == "bool" else ops.ne(t, 0)


class GroupedQueryAttention(_RandomLayer):
    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs) -> None:
        # as Keras: the activity regularizer is the layer's and each projection's
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if num_query_heads % num_key_value_heads != 0:
            raise ValueError("`num_query_heads` must be divisible by `num_key_value_heads`.")
        if sliding_window is not None and (not isinstance(sliding_window, int) or sliding_window <= 0):
            raise ValueError(f"`sliding_window` must be `None` or a positive integer. Received: "
                             f"sliding_window={sliding_window}")
        if flash_attention and dropout > 0.0:
            raise ValueError("Dropout is not supported when flash attention is enabled. Please set dropout to 0.0 to "
                             "use flash attention.")
        self.head_dim, self.num_query_heads, self.num_key_value_heads = head_dim, num_query_heads, num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads
        self.dropout, self.use_bias, self.use_gate = dropout, use_bias, use_gate
        self.sliding_window = sliding_window
        self._flash_attention = bool(flash_attention)  # the same numbers either way: no separate kernel here
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self._sub = dict(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint)
        self._make_stream(seed)

    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None, key_mask=None,
                 attention_mask=None, **kwargs):
        """Packs query, value and the optional tensors into one list input (so a functional model records
        them all as this call's inputs); ``_slots`` names the optional ones that are present."""
        if value is None and isinstance(query, (list, tuple)) and "_slots" in kwargs:
            return super().__call__(list(query), **kwargs)  # already packed (a functional model's replay)
        if value is None:
            raise TypeError("GroupedQueryAttention.__call__() missing required argument: 'value'")
        extra = dict(key=key, query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
                     attention_mask=attention_mask)
        slots = tuple(s for s in _SLOTS if extra[s] is not None)
        if isinstance(query, KerasTensor) and any(not isinstance(extra[s], KerasTensor) for s in slots):
            raise TypeError("GroupedQueryAttention: in a functional model the key and masks must be symbolic "
                            "tensors (keras.Input) as well")
        return super().__call__([query, value] + [extra[s] for s in slots], _slots=slots, **kwargs)

    def build(self, input_shape) -> None:
        query_shape, value_shape = input_shape[0], input_shape[1]
        key_shape = value_shape
        for shape in input_shape[2:]:
            if len(shape) == 3 and shape[-1] is not None and shape[-1] == value_shape[-1]:
                key_shape = shape  # the key, when given (masks are rank 2 or hold booleans)
                break
        self.feature_dim = query_shape[-1]
        common = dict(kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer, **self._sub)

        def dense(name, equation, heads, bias_axes, shape, **kw):
            layer = EinsumDense(equation, output_shape=(None, heads, self.head_dim),
                                bias_axes=bias_axes if self.use_bias else None, name=name, **common, **kw)
            layer.build(shape)
            layer.built = True
            return layer

        self._query_dense = dense("query", "bqm,muh->bquh", self.num_query_heads, "uh", query_shape)
        self._key_dense = dense("key", "bkm,mvh->bkvh", self.num_key_value_heads, "vh", key_shape)
        if self.use_gate:
            self._gate_dense = dense("gate", "bqm,muh->bquh", self.num_query_heads, "uh", query_shape,
                                     activation="sigmoid")
        self._value_dense = dense("value", "bkm,mvh->bkvh", self.num_key_value_heads, "vh", value_shape)
        self._output_dense = EinsumDense("bquh,uhm->bqm", output_shape=(None, self.feature_dim),
                                         bias_axes="m" if self.use_bias else None, name="attention_output", **common)
        self._output_dense.build((None, None, self.num_query_heads, self.head_dim))
        self._output_dense.built = True

    def _attention_mask(self, query, value, given):
        t, s = query.shape[1], value.shape[1]
        auto = None

        def both(a, b):
            return b if a is None else a & b

        if given.get("query_mask") is not None:
            auto = _bool(given["query_mask"]).unsqueeze(-1)
        for name in ("value_mask", "key_mask"):
            if given.get(name) is not None:
                auto = both(auto, _bool(given[name]).unsqueeze(-2))
        rows = creation.arange(t, device=query.device).reshape(1, t, 1)
        cols = creation.arange(s, device=query.device).reshape(1, 1, s)
        if given.get("use_causal_mask"):
            auto = both(auto, ops.ge(rows, cols))
        if self.sliding_window is not None:
            auto = both(auto, ops.lt((rows - cols).abs(), self.sliding_window))
        mask = given.get("attention_mask")
        if auto is not None:
            mask = auto if mask is None else _bool(mask) & auto
        elif mask is not None:
            mask = _bool(mask)
        return mask

    def call(self, inputs, training=None, return_attention_scores=False, use_causal_mask=False, _slots=()):
        query, value = inputs[0], inputs[1]
        given = dict(zip(_slots, inputs[2:]))
        key = given.get("key", value)
        mask = self._attention_mask(query, value, {**given, "use_causal_mask": use_causal_mask})
        gate = self._gate_dense(query) if self.use_gate else None
        q = self._query_dense(query)
        k = ops.repeat_interleave(self._key_dense(key), self.num_repeats, dim=2)
        v = ops.repeat_interleave(self._value_dense(value), self.num_repeats, dim=2)
        scores = ops.einsum("bquh,bkuh->buqk", q * (1.0 / math.sqrt(float(self.head_dim))), k)
        if mask is not None:
            while mask.ndim < scores.ndim:
                mask = mask.unsqueeze(-3)  # one mask for every head
            scores = ops.where(mask, scores, -1e9)
        weights = ops.softmax(scores, -1)
        if mask is not None:
            weights = ops.where(mask, weights, 0.0)
        probs = weights
        if training and self.dropout > 0:
            keep = self._draw("uniform", tuple(weights.shape), weights) >= self.dropout
            probs = weights * (keep.to(weights.dtype) * (1.0 / (1.0 - self.dropout)))
        out = ops.einsum("buqk,bkuh->bquh", probs, v)
        out = self._output_dense(out * gate if gate is not None else out)
        return (out, weights) if return_attention_scores else out

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return query_shape

    def get_config(self) -> dict:
        from .. import constraints, regularizers

        return {**super().get_config(), "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
                "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
                "use_gate": self.use_gate, "sliding_window": self.sliding_window, "dropout": self.dropout,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "kernel_regularizer": regularizers.serialize(regularizers.get(self._sub["kernel_regularizer"])),
                "bias_regularizer": regularizers.serialize(regularizers.get(self._sub["bias_regularizer"])),
                "kernel_constraint": constraints.serialize(constraints.get(self._sub["kernel_constraint"])),
                "bias_constraint": constraints.serialize(constraints.get(self._sub["bias_constraint"])),
                "seed": self.seed}


GroupQueryAttention = GroupedQueryAttention
