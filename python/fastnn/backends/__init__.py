"""torch.backends: the switches programs set and the availability they probe, answered for fastnn's build.

fastnn has no cuDNN or MPS paths: those ``is_available()`` answers are False, and the settable flags
(``cudnn.benchmark``, ``cudnn.deterministic`` ...) are kept as plain attributes with torch's defaults.
Setting them changes nothing fastnn computes, which is what they promise where they do not apply: fastnn's
kernels are deterministic, never autotuned, and compute float32 in float32 -- except that
``cuda.matmul.allow_tf32 = True`` lets the CUDA GEMM use TF32 tensor cores, as in torch."""
from __future__ import annotations

from . import cpu, cuda, cudnn, mkldnn, mps, openmp

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps", "openmp"]
