// Float arithmetic rounded exactly as written, for kernels that must match a CPU kernel bit for bit
// (csrc/cpu/optim_update.cpp is compiled with -ffp-contract=off and fuses only where torch does).
// nvcc contracts a * b + c into one FMA by default (-fmad=true) and may do so across statements; the
// __f*_rn intrinsics are never contracted or approximated, whatever the flags (--use_fast_math included).
// Under the emulator (g++ -O2 for x86-64 without -mfma, -ffp-contract=off for ISO C++) plain operators
// round as written, and fma_rn is libm's correctly rounded fma.
#pragma once

#include <cmath>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS::rn {

#if defined(FASTNN_CUDA_EMULATOR)
__device__ __forceinline__ float add(float a, float b) { return a + b; }
__device__ __forceinline__ float sub(float a, float b) { return a - b; }
__device__ __forceinline__ float mul(float a, float b) { return a * b; }
__device__ __forceinline__ float div(float a, float b) { return a / b; }
__device__ __forceinline__ float sqrt(float a) { return std::sqrt(a); }
__device__ __forceinline__ float fma(float a, float b, float c) { return std::fma(a, b, c); }
#else
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float sqrt(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
#endif

}  // namespace fastnn::FASTNN_CUDA_NS::rn
