"""What the native library reports about its build and this machine: ISA level, OpenMP threads, caches,
compiler flags and its CUDA build. ``fastnn._runtime`` and ``fastnn.cuda`` read these here because only
the backend package imports ``fastnn._C``; importing this module loads it (and runs its ISA check)."""
from __future__ import annotations

from .._C import (bf16_isa_active, bf16_isa_levels, build_info, cache_info, cuda_built,  # noqa: F401
                  cuda_device_count, cuda_status, get_num_threads, isa_active, isa_levels, isa_supported,
                  max_num_threads, set_num_threads)
