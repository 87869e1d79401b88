// Warp-wide reductions by a butterfly of shuffles: every lane ends with the result, combined in a fixed
// order (so the bits do not depend on the schedule). All 32 lanes must take part.
#pragma once

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

__device__ __forceinline__ float warp_reduce_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// fmaxf: a NaN operand is dropped (the callers let NaN show through their sums instead).
__device__ __forceinline__ float warp_reduce_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace fastnn::FASTNN_CUDA_NS
