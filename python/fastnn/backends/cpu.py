"""torch.backends.cpu: the SIMD level fastnn's kernels run at, in torch's words."""
from __future__ import annotations

from ..backend import native


def get_cpu_capability() -> str:
    """'AVX512', 'AVX2' or 'DEFAULT', as torch reports it (fastnn's active ISA level)."""
    return {"avx512": "AVX512", "avx2": "AVX2"}.get(str(native.isa_active()).lower(), "DEFAULT")
