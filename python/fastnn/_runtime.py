"""Threads and build/runtime configuration."""
from __future__ import annotations

import numpy as np

from . import __version__, cuda  # __version__ is fastnn/__init__'s first statement
from ._threads import get_num_threads, max_num_threads, set_num_threads  # noqa: F401  (data workers call it here)
from .backend import native


def config() -> dict:
    """What this build and machine give fastnn: ISA level chosen, threads, caches, flags, CUDA."""
    build = dict(native.build_info())
    return {
        "version": __version__,
        "isa": native.isa_active(),
        "isa_supported": native.isa_supported(),
        "isa_levels": list(native.isa_levels()),
        # The bf16 GEMM's levels are their own axis (FASTNN_BF16_ISA; csrc/include/fastnn/gemm_bf16.h says why).
        "bf16_isa": native.bf16_isa_active(),
        "bf16_isa_levels": list(native.bf16_isa_levels()),
        "num_threads": get_num_threads(),
        "max_num_threads": max_num_threads(),
        "cache_bytes": dict(native.cache_info()),
        "compiler": build["compiler"],
        "build_flags": build["flags"],
        "build_type": build["build_type"],
        "openmp": build["openmp"],
        "cuda_built": cuda.is_built(),
        "cuda_build": build["cuda"],
        "cuda_available": cuda.is_available(),
        "cuda_status": cuda.status(),
        "numpy": np.__version__,
    }
