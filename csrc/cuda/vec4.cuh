// 16-byte vectors of four floats for vectorised global loads and stores (one 128-bit transaction per
// lane): CUDA's float4 (the emulator defines it with the same layout).
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

using Vec4 = float4;

// True when p may be read or written as Vec4 (16-byte aligned).
__device__ __forceinline__ bool vec4_aligned(const void* p) {
  return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0;
}

}  // namespace fastnn::FASTNN_CUDA_NS
