"""Scaled dot-product attention on the fused flash-style kernel (csrc/cpu/attention_forward.cpp,
attention_backward.cpp). Arrays arrive 4-D (batch, heads, length, dim), rows contiguous, batch and head
strides free (0 for broadcast operands); the binding copies only operands whose rows are strided."""
from __future__ import annotations

from ... import _C


class CpuAttentionKernels:
    def attention_forward(self, q, k, v, mask, is_causal: bool, scale):
        return _C.attention_forward(q, k, v, mask, is_causal, scale)

    def attention_backward(self, grad_out, q, k, v, out, lse, mask, is_causal: bool, scale):
        return _C.attention_backward(grad_out, q, k, v, out, lse, mask, is_causal, scale)
