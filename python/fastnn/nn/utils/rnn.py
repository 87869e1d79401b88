"""torch.nn.utils.rnn: ``pad_sequence`` (variable-length sequences into one padded batch). PackedSequence
and pack_padded_sequence are not provided: fastnn's RNN modules take padded batches only."""
from __future__ import annotations

from ...creation import full
from ...ops.shape import cat, stack
from ..._tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks tensors of shape (L_i, *) into (max L, B, *) (or (B, max L, *) with ``batch_first``), filling
    with ``padding_value`` on the ``padding_side``; differentiable in every sequence."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        gap = longest - s.shape[0]
        if gap:
            pad = full((gap,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)
