"""Output-shape arithmetic shared by the ops (which validate and size their results) and the kernels'
references (which check what the bindings check): one formula, so the two can never disagree."""
from __future__ import annotations


def pool_out_size(size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length; with ceil_mode the last window must start inside the input or its
    left padding."""
    num = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out
