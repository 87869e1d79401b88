"""torch.backends.cuda: whether this build has CUDA, and the TF32 / reduced-precision matmul switches
(fastnn computes float32 in float32 whatever they say)."""
from __future__ import annotations

from .. import cuda as _cuda


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: settable flags with torch's defaults."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self) -> str:
        return f"<fastnn.backends.cuda.matmul allow_tf32={self.allow_tf32}>"


matmul = _MatmulFlags()


def is_built() -> bool:
    return _cuda.is_built()


def flash_sdp_enabled() -> bool:
    return False


def mem_efficient_sdp_enabled() -> bool:
    return False


def math_sdp_enabled() -> bool:
    return True
