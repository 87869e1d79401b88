"""TransformerEncoderLayer and TransformerEncoder, as torch.nn (post-norm or pre-norm, relu/gelu/callable
activation), on MultiheadAttention's fused path (torch calls it with need_weights=False here too).

torch's inference "fast paths" (the fused encoder-layer op and nested tensors for padded batches) are
not copied: they change no result except that torch's nested-tensor path returns 0 at padded positions
in eval mode without grad, where this module (like torch's training path) returns the computed values.
"""
from __future__ import annotations

import copy

from ..backend import backend_of
from ..ops.activation import gelu, relu
from ..ops.linalg import linear
from .._tensor import Tensor
from .activation import GELU, ReLU
from .attention import MultiheadAttention, _canonical_mask, _causal_mask, _none_or_dtype
from .containers import ModuleList
from .dropout import Dropout
from .linear import Linear, _factory_dtype
from .module import Module
from .normalization import LayerNorm


def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The float causal mask (sz, sz): -inf above the diagonal, 0 elsewhere (torch's
    ``nn.Transformer.generate_square_subsequent_mask``)."""
    return _causal_mask(sz, sz, _factory_dtype(dtype), device)


def _get_activation_fn(activation: str):
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_seq_len(src: Tensor, batch_first: bool):
    return src.shape[0] if src.dim() == 2 else src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None) -> bool:
    """is_causal when given; else whether ``mask`` equals the causal float mask of the sequence's size."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        causal = generate_square_subsequent_mask(sz, device=mask.device, dtype=mask.dtype)
        make_causal = tuple(mask.shape) == tuple(causal.shape) and \
            bool(backend_of(mask._data).xp.array_equal(mask._data, causal._data))
    return make_causal


def _no_hooks(module) -> bool:
    return not module._forward_hooks and not module._forward_pre_hooks


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and a LayerNorm (after the
    residual, or before the block with norm_first). Submodule names as torch's: self_attn, linear1,
    dropout, linear2, norm1, norm2, dropout1, dropout2."""

    __constants__ = ["norm_first"]

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation=relu, layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        if activation is relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        if not isinstance(src, Tensor):
            raise TypeError(f"TransformerEncoderLayer: src must be a Tensor, got {type(src).__name__}")
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               _none_or_dtype(src_mask), "src_mask", src.dtype)
        src_mask = _canonical_mask(src_mask, "src_mask", None, "", src.dtype, check_other=False)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal: bool = False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self._linear1_activation(x))))

    def _linear1_activation(self, x):
        """activation(linear1(x)); relu (and gelu without grad) run inside the GEMM's last pass over the
        output when no hook would see the intermediate result."""
        act, l1 = self.activation, self.linear1
        fusable = {1: "relu", 2: "gelu"}.get(self.activation_relu_or_gelu)
        if fusable == "gelu" and isinstance(act, GELU) and act.approximate != "none":
            fusable = None
        if fusable and _no_hooks(l1) and (not isinstance(act, Module) or _no_hooks(act)):
            return linear(x, l1.weight, l1.bias, activation=fusable)
        return act(l1(x))


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer (submodules layers.0, layers.1 ...), then an optional norm.
    enable_nested_tensor and mask_check are kept as attributes only (no nested tensors here)."""

    __constants__ = ["norm"]

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool | None = None):
        if not isinstance(src, Tensor):
            raise TypeError(f"TransformerEncoder: src must be a Tensor, got {type(src).__name__}")
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", _none_or_dtype(mask),
                                               "mask", src.dtype)
        mask = _canonical_mask(mask, "mask", None, "", src.dtype, check_other=False)
        first = self.layers[0]
        batch_first = first.self_attn.batch_first
        is_causal = _detect_is_causal_mask(mask, is_causal, _get_seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output
