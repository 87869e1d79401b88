"""Attention (Keras' dot-product, Luong-style) and MultiHeadAttention on fastnn's fused attention kernel.

The fused kernel (online softmax over key tiles, never an Lq x Lk matrix) serves every call whose attention
weights are not wanted; returning the scores, or attention dropout in training, takes an explicit
softmax(q kᵀ) v path instead (the kernel has neither).

``Attention`` on a single tensor -- as in ``Sequential([Embedding, LSTM(return_sequences=True),
Attention(), ...])`` -- attends the sequence to itself (query = value = key = the input); Keras itself
requires a list there, fastnn.keras accepts both.
"""
from __future__ import annotations

import math

import numpy as np

from ... import creation, ops
from ...backend import backend_of
from ...ops.attention import scaled_dot_product_attention
from ...ops.multihead import packed_multi_head_attention
from ..._tensor import Tensor
from .. import masking
from ..device_scope import get_device
from .base import KerasTensor, Layer
from .seeded import dropout as _seeded_dropout, make_stream, stream
from .conv import as_float

_MASKED = 1.0e9  # Keras subtracts this from masked scores (rather than -inf)


def _tensor(x):
    """Host data (a list, an array) as a tensor on the current Keras device."""
    return x if isinstance(x, Tensor) else creation.tensor(np.asarray(x), device=get_device())


def _bool_mask(mask, like: Tensor):
    """A mask (a tensor or host data) as a bool array on ``like``'s backend."""
    m = mask._data if isinstance(mask, Tensor) else backend_of(like._data).asarray(mask)
    return m.astype(bool, copy=False)


def _lower_masked(scores, keep, causal: bool):
    """``scores`` less 1e9 where ``keep`` (a bool array broadcastable to them, or None) or the causal
    triangle says no, as Keras masks (rather than -inf)."""
    xp = backend_of(scores._data).xp
    if causal:
        tri = xp.tril(xp.ones(scores.shape[-2:], bool))
        keep = tri if keep is None else keep & tri
    if keep is None:
        return scores
    lowered = (~xp.broadcast_to(keep, scores.shape)).astype(scores.dtype.name) * _MASKED
    return scores - Tensor._wrap(lowered)


def _explicit(q, k, v, mask, causal, dropout_rate, training):
    """softmax(q kᵀ + mask) v with the weights kept: (out, weights). ``q`` is already scaled; ``mask`` is a
    bool array broadcastable to the scores (True keeps), masked scores lowered by 1e9 as Keras does."""
    scores = _lower_masked(ops.matmul(q, k.transpose(-2, -1)), mask, causal)
    weights = ops.softmax(scores, -1)
    probs = _seeded_dropout(weights, dropout_rate) if training and dropout_rate > 0 else weights
    return ops.matmul(probs, v), weights


class Attention(Layer):
    """scores = query · keyᵀ (times the trainable ``scale`` with use_scale), softmax over the keys, then a
    weighted sum of ``value``. Called on [query, value], [query, value, key], or one tensor (self-attention)."""

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0, seed=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Invalid value for argument score_mode. Expected one of {{'dot', 'concat'}}. "
                             f"Received: score_mode={score_mode}")
        make_stream(self, seed)
        self.use_scale, self.score_mode, self.dropout = bool(use_scale), score_mode, float(dropout)

    def build(self, input_shape) -> None:
        self.scale = self.add_weight("scale", (), "ones") if self.use_scale else None
        self.concat_score_weight = (self.add_weight("concat_score_weight", (), "ones")
                                    if self.score_mode == "concat" else None)

    def _split(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if not 2 <= len(inputs) <= 3:
                raise ValueError(f"Attention layer accepts inputs list of length 2 or 3, namely [query, value] or "
                                 f"[query, value, key]. Received length: {len(inputs)}.")
            q, v = (as_float(_tensor(t)) for t in inputs[:2])
            k = as_float(_tensor(inputs[2])) if len(inputs) == 3 else v
            return q, v, k
        x = as_float(_tensor(inputs))
        return x, x, x

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask  # the query's

    def call(self, inputs, training=None, mask=None, return_attention_scores: bool = False,
             use_causal_mask: bool = False):
        with stream(self):  # dropout from the layer's own seeded stream when seed= is given
            return self._attend(inputs, training, mask, return_attention_scores, use_causal_mask)

    def _attend(self, inputs, training, mask, return_attention_scores, use_causal_mask):
        q, v, k = self._split(inputs)
        q_mask = v_mask = None
        if mask is not None:
            masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
            q_mask = _bool_mask(masks[0], q) if masks[0] is not None else None
            v_mask = _bool_mask(masks[1], q) if len(masks) > 1 and masks[1] is not None else None
        v_keep = v_mask[:, None, :] if v_mask is not None else None
        if self.score_mode == "concat":
            out, weights = self._apply(self._concat_scores(q, k), v, v_keep, use_causal_mask, training)
        elif return_attention_scores or (training and self.dropout > 0):
            qs = q * self.scale if self.scale is not None else q
            out, weights = _explicit(qs, k, v, v_keep, use_causal_mask, self.dropout, training)
        else:
            qs = q * self.scale if self.scale is not None else q
            keep = None
            if v_keep is not None:
                keep = backend_of(v_keep).xp.broadcast_to(v_keep, (q.shape[0], q.shape[1], k.shape[1]))
            out = scaled_dot_product_attention(qs, k, v, attn_mask=keep, is_causal=bool(use_causal_mask),
                                               scale=1.0)
            weights = None
        if q_mask is not None:
            out = out * Tensor._wrap(q_mask[..., None].astype(out.dtype.name))
        return (out, weights) if return_attention_scores else out

    def _concat_scores(self, q, k):
        """(batch, Tq, Tv) scores of score_mode 'concat': sum(tanh(scale * (q + k))) * concat_score_weight."""
        scale = self.scale if self.scale is not None else 1.0
        return ops.tanh((q.unsqueeze(-2) + k.unsqueeze(-3)) * scale).sum(-1) * self.concat_score_weight

    def _apply(self, scores, v, keep, causal, training):
        weights = ops.softmax(_lower_masked(scores, keep, causal), -1)
        probs = _seeded_dropout(weights, self.dropout) if training and self.dropout > 0 else weights
        return ops.matmul(probs, v), weights

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout}


def _with_input_masks(query, value, key, attention_mask):
    """Keras' attention mask from the inputs' masks (Embedding(mask_zero=True) upstream): a query step
    attends to a key step when both are kept, and the explicit attention_mask agrees."""
    q_mask, v_mask = masking.get_mask(query), masking.get_mask(value)
    k_mask = masking.get_mask(key) if key is not None else None
    auto = None
    if q_mask is not None:
        auto = q_mask.bool().unsqueeze(-1)
    for m in (v_mask, k_mask):
        if m is not None:
            m = m.bool().unsqueeze(-2)
            auto = m if auto is None else auto & m
    if auto is None:
        return attention_mask
    if attention_mask is None:
        return auto
    explicit = attention_mask if isinstance(attention_mask, Tensor) else _tensor(attention_mask)
    return explicit.bool() & auto


_PROJECTIONS = ("query", "key", "value", "attention_output")


class MultiHeadAttention(Layer):
    """Keras' MultiHeadAttention: per-head projections (kernels (dim, heads, key_dim) etc.), scaled
    dot-product attention per head (scale 1/sqrt(key_dim)), and an output projection (heads, value_dim,
    out) back to the query's last dim (or ``output_shape``). Inputs are rank 3: (batch, time, dim)."""

    def __init__(self, num_heads: int, key_dim: int, value_dim=None, dropout: float = 0.0, use_bias: bool = True,
                 output_shape=None, attention_axes=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, seed=None,
                 **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if attention_axes is not None:
            raise NotImplementedError("MultiHeadAttention: attention_axes is not supported by fastnn.keras (the "
                                      "attention runs over the time axis of (batch, time, dim) inputs)")
        # Keras gives every projection's kernel (and bias) the same regularizer and constraint
        kernel, bias = (kernel_regularizer, kernel_constraint), (bias_regularizer, bias_constraint)
        self._preset_weights(**{f"{p}_kernel": kernel for p in _PROJECTIONS},
                             **{f"{p}_bias": bias for p in _PROJECTIONS})
        make_stream(self, seed)
        for name, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"MultiHeadAttention: `{name}` must be a positive integer, got {value}")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else int(value_dim)
        self.dropout, self.use_bias = float(dropout), bool(use_bias)
        self._output_shape = (None if output_shape is None else
                              (int(output_shape),) if isinstance(output_shape, int) else tuple(output_shape))
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def __call__(self, query, value=None, key=None, attention_mask=None, **kwargs):
        """Packs (query, value[, key][, attention_mask]) into one list input so a functional model records
        all of them as this call's inputs; ``call`` unpacks it."""
        if value is None and isinstance(query, (list, tuple)):  # already packed (a functional model's replay)
            packed = list(query)
            if masking.get_mask(packed) is not None:
                has_key, has_mask = kwargs.pop("_has_key", False), kwargs.pop("_has_mask", False)
                return self.__call__(packed[0], packed[1], packed[2] if has_key else None,
                                     packed[-1] if has_mask else None, **kwargs)
            return super().__call__(packed, **kwargs)
        if value is None:
            raise TypeError("MultiHeadAttention.__call__() missing required argument: 'value'")
        if not isinstance(query, KerasTensor):
            attention_mask = _with_input_masks(query, value, key, attention_mask)
        packed = [query, value]
        if key is not None:
            packed.append(key)
        if attention_mask is not None:
            if isinstance(query, KerasTensor) and not isinstance(attention_mask, KerasTensor):
                raise TypeError("MultiHeadAttention: in a functional model attention_mask must be a symbolic "
                                "tensor (keras.Input) as well")
            packed.append(attention_mask)
        if key is not None:
            kwargs["_has_key"] = True
        if attention_mask is not None:
            kwargs["_has_mask"] = True
        return super().__call__(packed, **kwargs)

    def compute_mask(self, inputs, previous_mask=None):
        """The output keeps the query's steps, so it keeps the query's mask (Keras)."""
        return masking.get_mask(inputs[0]) if isinstance(inputs, (list, tuple)) else None

    def build(self, input_shape) -> None:
        q_shape, v_shape = input_shape[0], input_shape[1]
        k_shape = input_shape[2] if len(input_shape) > 2 and len(input_shape[2]) == 3 else v_shape
        for s in (q_shape, v_shape, k_shape):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"MultiHeadAttention {self.name}: inputs must be (batch, time, dim) with known dim, "
                                 f"got {tuple(s)}")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self._output_shape or (q_shape[-1],)
        ki, bi = self.kernel_initializer, self.bias_initializer
        for name, dim, width in (("query", q_shape[-1], kd), ("key", k_shape[-1], kd), ("value", v_shape[-1], vd)):
            setattr(self, f"{name}_kernel", self.add_weight(f"{name}_kernel", (dim, h, width), ki))
            setattr(self, f"{name}_bias", self.add_weight(f"{name}_bias", (h, width), bi) if self.use_bias else None)
        self.attention_output_kernel = self.add_weight("attention_output_kernel", (h, vd) + tuple(out), ki)
        self.attention_output_bias = (self.add_weight("attention_output_bias", tuple(out), bi) if self.use_bias
                                      else None)

    def _project(self, x, kernel, bias):
        dim = kernel.shape[0]
        width = kernel.shape[1] * kernel.shape[2]
        b = bias.reshape(width) if bias is not None else None
        return ops.linear(x, kernel.reshape(dim, width).t(), b)

    def call(self, inputs, training=None, return_attention_scores: bool = False, use_causal_mask: bool = False,
             _has_key: bool = False, _has_mask: bool = False):
        with stream(self):  # dropout from the layer's own seeded stream when seed= is given
            return self._attend(inputs, training, return_attention_scores, use_causal_mask, _has_key, _has_mask)

    def _attend(self, inputs, training, return_attention_scores, use_causal_mask, _has_key, _has_mask):
        items = [as_float(_tensor(t)) if i < 2 + _has_key else t for i, t in enumerate(inputs)]
        query, value = items[0], items[1]
        key = items[2] if _has_key else value
        mask = _bool_mask(items[-1], query) if _has_mask else None
        for name, t in (("query", query), ("value", value), ("key", key)):
            if t.ndim != 3:
                raise ValueError(f"MultiHeadAttention {self.name}: {name} must be (batch, time, dim), got shape "
                                 f"{tuple(t.shape)}")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        n, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        q = self._project(query, self.query_kernel, self.query_bias)
        k = self._project(key, self.key_kernel, self.key_bias)
        v = self._project(value, self.value_kernel, self.value_bias)
        mask4 = None
        if mask is not None:  # Keras' (B, T, S) boolean mask, True attends; one per head
            mask4 = backend_of(mask).xp.broadcast_to(mask.reshape(mask.shape[:-2] + (1,) + mask.shape[-2:])
                                                     if mask.ndim == 3 else mask, (n, 1, lq, lk))
        weights = None
        if return_attention_scores or (training and self.dropout > 0):
            q4 = q.reshape(n, lq, h, kd).permute(0, 2, 1, 3) * (1.0 / math.sqrt(kd))
            k4 = k.reshape(n, lk, h, kd).permute(0, 2, 1, 3)
            v4 = v.reshape(n, lk, h, vd).permute(0, 2, 1, 3)
            out4, weights = _explicit(q4, k4, v4, mask4, use_causal_mask, self.dropout, training)
            out = out4.permute(0, 2, 1, 3).reshape(n, lq, h * vd)
        elif kd == vd:  # heads read as strided views of the projections, no split/merge copies
            out = packed_multi_head_attention([q, k, v], ((0, 0), (1, 0), (2, 0)), h, h * kd, mask4,
                                              bool(use_causal_mask), batch_first=True)
        else:
            q4 = q.reshape(n, lq, h, kd).permute(0, 2, 1, 3)
            k4 = k.reshape(n, lk, h, kd).permute(0, 2, 1, 3)
            v4 = v.reshape(n, lk, h, vd).permute(0, 2, 1, 3)
            out4 = scaled_dot_product_attention(q4, k4, v4, attn_mask=mask4, is_causal=bool(use_causal_mask),
                                                scale=1.0 / math.sqrt(kd))
            out = out4.permute(0, 2, 1, 3).reshape(n, lq, h * vd)
        wo = self.attention_output_kernel
        out_shape = tuple(wo.shape[2:])
        result = ops.linear(out, wo.reshape(h * vd, math.prod(out_shape)).t(),
                            self.attention_output_bias.reshape(-1) if self.attention_output_bias is not None else None)
        if len(out_shape) > 1:
            result = result.reshape((n, lq) + out_shape)
        return (result, weights) if return_attention_scores else result

    def get_config(self) -> dict:
        config = {k: v for k, v in super().get_config().items()
                  if not any(k.startswith(p + "_") for p in _PROJECTIONS)}  # one key per kind, as Keras
        presets = self.__dict__.get("_weight_presets", {})
        from .. import constraints, regularizers

        for kind in ("kernel", "bias"):
            reg, con = presets.get(f"query_{kind}", (None, None))
            config[f"{kind}_regularizer"] = regularizers.serialize(reg)
            config[f"{kind}_constraint"] = constraints.serialize(con)
        return {**config, "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
                "dropout": self.dropout, "use_bias": self.use_bias, "output_shape": self._output_shape,
                "seed": self.seed}
