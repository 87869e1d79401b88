// The tensor-core instructions the mma.sync kernels use, real and emulated: cvt.rna.tf32.f32 (to_tf32),
// mma.sync m16n8k8 tf32 and m16n8k16 bf16 with fp32 accumulation (mma<kBf16>), and whether a device has
// them (tensor_cores_available). Shared by the GEMM (gemm_tensor_core.cuh) and flash attention
// (attention_tensor_core.cuh).
//
// Fragment layouts (PTX ISA, row.col): with group = lane / 4 and t = lane % 4, a lane holds the A words
// (group, t), (group + 8, t), (group, t + 4), (group + 8, t + 4) [row, k]; the B words (k t, n group),
// (k t + 4, n group); and the accumulators (group, 2t), (group, 2t + 1), (group + 8, 2t),
// (group + 8, 2t + 1) [row, n]. A word is one tf32 value, or two bf16 along k (the lower k in the low half).
//
// The emulator cannot execute mma.sync / cvt.rna.tf32: under FASTNN_CUDA_EMULATOR they are replaced by a
// warp-level emulation with exactly these layouts (lanes exchange fragments through block-shared memory
// between two __syncwarp), so a kernel's tiling, shared-memory layout and fragment indexing run in CI.
// Every lane of the warp must call mma together (as mma.sync.aligned requires), in a block of at most
// 1024 threads.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

// Where the instructions exist: a device pass for sm_80+, or the emulator (its emulation).
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(FASTNN_CUDA_EMULATOR)
#define FASTNN_MMA_BODY 1
#else
#define FASTNN_MMA_BODY 0
#endif

namespace fastnn::FASTNN_CUDA_NS::mma_detail {

// Whether `device` has mma.sync for tf32/bf16 (compute capability 8.0 or newer); the emulator's answer is
// its emulation of them.
inline bool tensor_cores_available(int device) {
#if defined(FASTNN_CUDA_EMULATOR)
  (void)device;
  return true;
#else
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    cudaGetLastError();  // no usable device: the SIMT launch reports the error
    return false;
  }
  return major >= 8;
#endif
}

#if FASTNN_MMA_BODY

#if defined(FASTNN_CUDA_EMULATOR)
// cvt.rna.tf32.f32: round the mantissa to 10 bits, to nearest with ties away from zero (NaN / Inf kept).
__device__ __forceinline__ std::uint32_t to_tf32(float f) {
  const std::uint32_t u = __float_as_uint(f);
  if ((u & 0x7f800000u) == 0x7f800000u) return u;
  return (u + 0x1000u) & 0xffffe000u;
}

// mma.sync m16n8k8 tf32 / m16n8k16 bf16 (row.col, fp32 accumulate), lane by lane with the layouts above.
template <bool kBf16>
__device__ void mma(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
  constexpr int kMaxWarps = 32;
  FASTNN_SHARED(std::uint32_t, frag, [kMaxWarps][32][6]);
  const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int lane = static_cast<int>(tid % 32), warp = static_cast<int>(tid / 32);
  std::uint32_t* mine = frag[warp][lane];
  for (int i = 0; i < 4; ++i) mine[i] = a[i];
  mine[4] = b[0];
  mine[5] = b[1];
  __syncwarp();
  const int group = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int hi_row = i / 2, col = 2 * t + i % 2;
    float sum = d[i];
    for (int w = 0; w < 8; ++w) {
      const std::uint32_t aw = frag[warp][group * 4 + w % 4][(w < 4 ? 0 : 2) + hi_row];
      const std::uint32_t bw = frag[warp][col * 4 + w % 4][4 + (w < 4 ? 0 : 1)];
      if constexpr (kBf16) {
        sum = fmaf(__uint_as_float(aw << 16), __uint_as_float(bw << 16), sum);
        sum = fmaf(__uint_as_float(aw & 0xffff0000u), __uint_as_float(bw & 0xffff0000u), sum);
      } else {
        sum = fmaf(__uint_as_float(aw), __uint_as_float(bw), sum);
      }
    }
    d[i] = sum;
  }
  __syncwarp();  // every lane has read the fragments before the next mma stores its own
}
#else
__device__ __forceinline__ std::uint32_t to_tf32(float f) {
  std::uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f));
  return r;
}

template <bool kBf16>
__device__ __forceinline__ void mma(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) {
  if constexpr (kBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}
#endif  // FASTNN_CUDA_EMULATOR

#endif  // FASTNN_MMA_BODY

}  // namespace fastnn::FASTNN_CUDA_NS::mma_detail
