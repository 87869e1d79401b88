"""torch.backends.cuda: whether this build has CUDA, and the TF32 / reduced-precision matmul switches.

``matmul.allow_tf32`` (False, as in torch) is read by the CUDA backend's matmul / linear at each call: True
lets an sm_80+ GPU run float32 products on TF32 tensor cores (the emulated device and the CPU always
compute float32 in float32). The reduced-precision-reduction flags change nothing: fastnn has no float16
or bfloat16 matmul behind them."""
from __future__ import annotations

from .. import cuda as _cuda


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: settable flags with torch's defaults (allow_tf32 is honoured by the
    CUDA GEMM, see the module's doc). As in torch, ``allow_tf32`` is the other face of
    ``set_float32_matmul_precision``: 'high' / 'medium' read as True, and setting it sets 'high' / 'highest'."""

    def __init__(self) -> None:
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self) -> bool:
        from .. import _api

        return _api.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value) -> None:
        from .. import _api

        _api.set_float32_matmul_precision("high" if value else "highest")

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
