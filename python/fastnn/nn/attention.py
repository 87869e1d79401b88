"""nn.MultiheadAttention and its functional form, with torch's parameters, masks, checks and errors.

Two routes compute the same function:
- fused (need_weights=False, no dropout in play): the projections go to ops.multihead, which runs every
  head on the flash-style kernel without ever building the L x S score matrix; TransformerEncoderLayer
  always calls this way, as in torch.
- explicit (need_weights=True, attention dropout in training, add_zero_attn, or a mask that needs a
  gradient): scores, softmax, dropout and the weighted sum as separate ops, as torch's own slow path, so the
  returned weights (post-dropout, as torch's) are differentiable.
Masks follow torch: a bool mask is True where a key is dropped and becomes an additive float mask (-inf);
key_padding_mask (N, S) and attn_mask (L, S) or (N*heads, L, S) are added together. The merged mask stays
broadcast over the dims it does not vary in ((N, 1, L, S) for a padding mask and a 2-D attn_mask), where
torch materialises (N*heads, L, S).
"""
from __future__ import annotations

import math
import warnings

from .. import creation, dtypes
from ..backend import backend_of, get_backend
from ..ops.activation import softmax
from ..ops.conversion import cast
from ..ops.dropout import dropout as _dropout
from ..ops.linalg import linear, matmul
from ..ops.multihead import packed_multi_head_attention
from ..ops.shape import cat, permute, reshape, squeeze, transpose, unsqueeze
from .._tensor import Tensor
from . import init
from .linear import Linear, _factory_dtype
from .module import Module
from .parameter import Parameter


class NonDynamicallyQuantizableLinear(Linear):
    """torch's name for MultiheadAttention.out_proj: a plain Linear (the name only matters to quantization)."""


def _as_mask_tensor(mask, name: str):
    if mask is None or isinstance(mask, Tensor):
        return mask
    if hasattr(mask, "__array__"):  # a NumPy array, a torch tensor: host data
        return Tensor._wrap(get_backend().asarray(mask))
    raise TypeError(f"{name} must be a Tensor or None, got {type(mask).__name__}")


def _canonical_mask(mask, mask_name: str, other_type, other_name: str, target_type, check_other: bool = True):
    """torch.nn.functional._canonical_mask: a bool mask becomes float (-inf where True); other dtypes fail."""
    mask = _as_mask_tensor(mask, mask_name)
    if mask is None:
        return None
    if mask.dtype is not dtypes.bool_ and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype is not other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for both "
                      "instead.", stacklevel=3)
    if mask.dtype is dtypes.bool_:
        m = mask._data
        return Tensor._wrap(backend_of(m).xp.where(m, -math.inf, 0.0).astype(target_type.np, copy=False))
    return mask


def _none_or_dtype(mask):
    return None if mask is None else _as_mask_tensor(mask, "mask").dtype


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads: int) -> bool:
    """torch's checks on the inputs' ranks; True when the input is batched."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but "
                                 f"found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.dim()}-D tensor instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _projections(query, key, value, E, in_proj_weight, in_proj_bias, separate):
    """The in-projections as (sources, slots): one GEMM for self-attention (q, k, v side by side), two when
    key is value, else three; a slot is (source index, first column) of q, k and v."""
    if separate is not None:
        bq, bk, bv = (None,) * 3 if in_proj_bias is None else (in_proj_bias[:E], in_proj_bias[E:2 * E],
                                                               in_proj_bias[2 * E:])
        wq, wk, wv = separate
        return (linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)), ((0, 0), (1, 0), (2, 0))
    w, b = in_proj_weight, in_proj_bias
    if query is key and key is value:
        return (linear(query, w, b),), ((0, 0), (0, E), (0, 2 * E))
    if key is value:
        q = linear(query, w[:E], None if b is None else b[:E])
        kv = linear(key, w[E:], None if b is None else b[E:])
        return (q, kv), ((0, 0), (1, 0), (1, E))
    q = linear(query, w[:E], None if b is None else b[:E])
    k = linear(key, w[E:2 * E], None if b is None else b[E:2 * E])
    v = linear(value, w[2 * E:], None if b is None else b[2 * E:])
    return (q, k, v), ((0, 0), (1, 0), (2, 0))


def _heads(src, offset: int, E: int, num_heads: int, batch_first: bool):
    """Tensor (N, H, L, head_dim) of ``src[..., offset:offset+E]`` through differentiable view ops."""
    cols = src if (offset == 0 and src.shape[-1] == E) else src[..., offset:offset + E]
    a, b = cols.shape[:2]
    split = reshape(cols, a, b, num_heads, E // num_heads)
    return permute(split, 0, 2, 1, 3) if batch_first else permute(split, 1, 2, 0, 3)


def _causal_mask(tgt_len: int, src_len: int, dtype, device) -> Tensor:
    be = get_backend(device)
    return Tensor._wrap(be.xp.triu(be.full((tgt_len, src_len), -math.inf, dtype.np), 1))


def _explicit_attention(sources, slots, E, H, mask, is_causal, dropout_p, add_zero_attn, batch_first):
    """(output (N, H, L, hd) merged to the sources' layout, weights (N, H, L, S)) with separate ops."""
    q4, k4, v4 = (_heads(sources[i], off, E, H, batch_first) for i, off in slots)
    n, _, tgt_len, hd = q4.shape
    if add_zero_attn:
        zeros = creation.zeros(n, H, 1, hd, dtype=q4.dtype, device=q4.device)
        k4, v4 = cat([k4, zeros], dim=2), cat([v4, zeros], dim=2)
        if mask is not None:
            mask = cat([mask, creation.zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], dim=-1)
    if mask is None and is_causal:
        mask = _causal_mask(tgt_len, k4.shape[2], q4.dtype, q4.device)
    scores = matmul(q4 * math.sqrt(1.0 / float(hd)), transpose(k4, -2, -1))
    if mask is not None:
        scores = scores + mask
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p, True)
    out4 = matmul(weights, v4)
    merged = permute(out4, 0, 2, 1, 3) if batch_first else permute(out4, 2, 0, 1, 3)
    return reshape(merged, merged.shape[0], merged.shape[1], E), weights


def multi_head_attention_forward(query, key, value, embed_dim_to_check: int, num_heads: int, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn: bool, dropout_p: float, out_proj_weight,
                                 out_proj_bias, training: bool = True, key_padding_mask=None, need_weights: bool = True,
                                 attn_mask=None, use_separate_proj_weight: bool = False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                                 average_attn_weights: bool = True, is_causal: bool = False, *,
                                 batch_first: bool = False):
    """torch.nn.functional.multi_head_attention_forward (sequence-first (L, N, E) input, or (L, E)); the
    keyword-only ``batch_first`` takes (N, L, E) without transposing, for the module."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"multi_head_attention_forward(): {name} must be a Tensor, got {type(t).__name__}")
    if bias_k is not None or bias_v is not None:
        raise NotImplementedError("multi_head_attention_forward(): bias_k/bias_v (add_bias_kv=True) are not "
                                  "supported")
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward(): static_k/static_v are not supported")
    key_padding_mask = _as_mask_tensor(key_padding_mask, "key_padding_mask")
    attn_mask = _as_mask_tensor(attn_mask, "attn_mask")
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        # One sequence: a batch of one, sequence first; unsqueeze once per distinct tensor so that the
        # self-attention test (query is key is value) still holds.
        q1 = unsqueeze(query, 1)
        k1 = q1 if key is query else unsqueeze(key, 1)
        value = q1 if value is query else k1 if value is key else unsqueeze(value, 1)
        query, key, batch_first = q1, k1, False
        if key_padding_mask is not None:
            key_padding_mask = unsqueeze(key_padding_mask, 0)
    if batch_first:
        bsz, tgt_len, embed_dim = query.shape
        src_len = key.shape[1]
    else:
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone drives the kernel's causal mode, as torch does
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's "
                                 f"{tuple(value.shape[:2])}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                                 "v_proj_weight is None")
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        separate = None
    sources, slots = _projections(query, key, value, embed_dim, in_proj_weight, in_proj_bias, separate)
    mask = _merged_mask(attn_mask, key_padding_mask, bsz, num_heads, tgt_len, src_len)
    if mask is not None and mask.dtype is not query.dtype:
        if mask.dtype is dtypes.float32:  # torch's SDPA takes a float32 mask with a float64 query
            mask = cast(mask, query.dtype)
        else:
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                               f"attn_mask.dtype: {mask.dtype.name} and query.dtype: {query.dtype.name} instead.")
    if not training:
        dropout_p = 0.0
    fused = (not need_weights and dropout_p == 0.0 and not add_zero_attn and
             (mask is None or not mask._requires_grad))
    if fused:
        attn = packed_multi_head_attention(sources, slots, num_heads, embed_dim,
                                           None if mask is None else mask._data, is_causal, batch_first)
        weights = None
    else:
        attn, weights = _explicit_attention(sources, slots, embed_dim, num_heads, mask, is_causal, dropout_p,
                                            add_zero_attn, batch_first)
    out = linear(attn, out_proj_weight, out_proj_bias)
    if need_weights:
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = squeeze(weights, 0)
    else:
        weights = None
    if not batched:
        out = squeeze(out, 1)
    return out, weights


def _merged_mask(attn_mask, key_padding_mask, bsz, num_heads, tgt_len, src_len):
    """attn_mask + key_padding_mask as one float mask broadcastable to (N, heads, L, S), after torch's checks."""
    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = reshape(attn_mask, 1, 1, tgt_len, src_len)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
            attn_mask = reshape(attn_mask, bsz, num_heads, tgt_len, src_len)
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")
    if key_padding_mask is None:
        return attn_mask
    if key_padding_mask.shape[0] != bsz:
        raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got {key_padding_mask.shape[0]}")
    if key_padding_mask.shape[1] != src_len:
        raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                             f"{key_padding_mask.shape[1]}")
    kpm = reshape(key_padding_mask, bsz, 1, 1, src_len)
    return kpm if attn_mask is None else attn_mask + kpm


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention: parameters in_proj_weight (3E, E) (or q/k/v_proj_weight when kdim or
    vdim differ from E), in_proj_bias (3E), out_proj (a Linear); xavier-uniform projections, zero biases."""

    __constants__ = ["batch_first"]

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if add_bias_kv:
            raise NotImplementedError("MultiheadAttention: add_bias_kv=True is not supported")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != self.embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        dt = _factory_dtype(dtype)

        def empty(*shape):
            return Parameter(creation.empty(*shape, dtype=dt, device=device))

        if not self._qkv_same_embed_dim:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = empty(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def reset_parameters(self) -> None:
        self._reset_parameters()

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        """(attn_output, attn_weights or None); (N, L, E) tensors with batch_first, else (L, N, E)."""
        if not isinstance(query, Tensor):
            raise TypeError(f"MultiheadAttention: query must be a Tensor, got {type(query).__name__}")
        key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask),
                                           "attn_mask", query.dtype)
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        separate = not self._qkv_same_embed_dim
        return multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
            self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
            batch_first=self.batch_first and query.dim() == 3)
