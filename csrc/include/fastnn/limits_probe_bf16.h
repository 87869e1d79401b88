// The bf16 peak the bench reports the bf16 GEMM against (limits_probe_bf16.cpp).
#pragma once
#include "fastnn/gemm_bf16.h"

namespace fastnn {

// Peak bf16 dot-product GFLOP/s at `isa` (avx512_bf16 or amx; std::invalid_argument for generic) on
// `nthreads` threads: best of `repeats` timed runs. The caller has checked the level with bf16_isa_require.
double peak_gflops_bf16(Bf16Isa isa, int nthreads, int repeats);

}  // namespace fastnn
