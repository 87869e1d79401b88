"""Multi-head attention over packed projections, on the fused attention kernel: forward and backward.

``nn.MultiheadAttention`` projects its inputs with one GEMM per distinct source (one for self-attention:
query, key and value side by side in a (..., 3E) tensor). This op reads each head's q, k and v as strided
views of those projections, so splitting heads costs no copy (the kernel takes any batch, head and
row strides as long as the last dim is contiguous), and writes the heads' outputs back side by side, ready
for the output projection. Its backward writes dq, dk and dv straight into one gradient per source: a
chain of getitem / reshape / permute ops would instead allocate a zero-filled gradient the size of the
whole packed projection for each of q, k and v, and then add the three.

Layout: every source is (L, N, C) (sequence first, PyTorch's default) or (N, L, C) with ``batch_first``;
a slot (source, column offset) picks E = num_heads * head_dim columns of one source, head h at columns
offset + h*head_dim ... The mask is an array of the sources' backend broadcastable to (N, heads, L, S),
additive (float, -inf drops a key) or boolean (True keeps a key), as the kernel takes it; it gets no
gradient (the module takes its explicit path when a mask needs one).
"""
from __future__ import annotations

from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor


def _heads(arr, offset: int, width: int, num_heads: int, batch_first: bool):
    """The (N, H, L, head_dim) view of ``arr[..., offset:offset + width]``; no copy (a strided view)."""
    cols = arr[..., offset:offset + width]
    a, b = cols.shape[:2]
    split = cols.reshape(a, b, num_heads, width // num_heads)
    return split.transpose(0, 2, 1, 3) if batch_first else split.transpose(1, 2, 0, 3)


def _merge_heads(out4, batch_first: bool):
    """(N, H, L, d) -> (N, L, H*d) or (L, N, H*d): the one copy the output projection needs anyway."""
    n, h, length, d = out4.shape
    if batch_first:
        return out4.transpose(0, 2, 1, 3).reshape(n, length, h * d)
    return out4.transpose(2, 0, 1, 3).reshape(length, n, h * d)


def packed_multi_head_attention(sources, slots, num_heads: int, embed_dim: int, mask=None, is_causal: bool = False,
                                batch_first: bool = False) -> Tensor:
    """softmax(q k^T / sqrt(head_dim) + mask) v per head, the heads concatenated on the last dim.

    sources: 1 to 3 Tensors (L_i, N, C_i), or (N, L_i, C_i) with batch_first; slots: ((source, offset)
    for q, k and v), each E = embed_dim columns wide. Returns (L, N, E) or (N, L, E)."""
    if embed_dim % num_heads:
        raise ValueError(f"packed_multi_head_attention(): embed_dim {embed_dim} not divisible by num_heads "
                         f"{num_heads}")
    arrays = [s._data for s in sources]
    q4, k4, v4 = (_heads(arrays[i], off, embed_dim, num_heads, batch_first) for i, off in slots)
    be = backend_of(*arrays, mask)
    xp = be.xp
    out4, lse = be.attention_forward(q4, k4, v4, mask, bool(is_causal), None)
    out = _merge_heads(out4, batch_first)

    def backward(g):
        g4 = _heads(g, 0, embed_dim, num_heads, batch_first)
        grads4 = be.attention_backward(g4, q4, k4, v4, out4, lse, mask, bool(is_causal), None)
        grads = []
        for i, src in enumerate(sources):
            if not src._requires_grad:
                grads.append(None)
                continue
            mine = [(off, g4_) for (j, off), g4_ in zip(slots, grads4) if j == i]
            offsets = sorted(off for off, _ in mine)
            covered = sum(embed_dim for _ in mine) == src.shape[-1] and len(set(offsets)) == len(offsets)
            buf = xp.empty(src.shape, g.dtype) if covered else xp.zeros(src.shape, g.dtype)
            for off, part in mine:
                # A slot read twice (q and k from one tensor) gets both gradients.
                view = _heads(buf, off, embed_dim, num_heads, batch_first)
                if covered:
                    view[...] = part
                else:
                    view += part
            grads.append(buf)
        return tuple(grads)

    return record(Tensor._wrap(out), "MultiHeadAttentionBackward0", tuple(sources), backward)
