"""CPU scaled dot-product attention: the fused flash-style kernel in ``_C`` (attention_forward.cpp,
attention_backward.cpp). Arrays arrive 4-D (batch, heads, length, dim), rows contiguous, batch and head
strides free (0 for broadcast operands); the binding copies only operands whose rows are strided."""
from __future__ import annotations

from .. import _C


def attention_forward(q, k, v, mask, is_causal: bool, scale):
    """(out, lse): softmax(scale q k^T + mask) v and the natural logsumexp of each row (-inf for rows no
    key takes part in, whose output is 0)."""
    return _C.attention_forward(q, k, v, mask, is_causal, scale)


def attention_backward(grad_out, q, k, v, out, lse, mask, is_causal: bool, scale):
    """(dq, dk, dv), recomputing the probabilities tile by tile from the forward's lse."""
    return _C.attention_backward(grad_out, q, k, v, out, lse, mask, is_causal, scale)
