// Device helpers the GEMM kernels share (SIMT in gemm.cu, tensor cores in gemm_tensor_core.cuh): element
// types, vector loads, and the epilogue (alpha, beta, bias, activation, store).
#pragma once

#include <cmath>
#include <cstdint>

#include "fastnn/cuda/device.h"
#include "gemm.h"

namespace fastnn::FASTNN_CUDA_NS::gemm_detail {

using bf16_bits = std::uint16_t;

// Vectors of our own (the emulator has no float4): aligned structs, which nvcc loads and stores with one
// 128-bit / 64-bit instruction as it does CUDA's float4 / ushort4. Typed as the data they move.
struct alignas(16) Float4 {
  float x[4];
};
struct alignas(8) Bf16x4 {
  bf16_bits h[4];
};

__device__ __forceinline__ float bf16_to_float(bf16_bits h) { return __uint_as_float(std::uint32_t(h) << 16); }

// Round to nearest even; a NaN stays a (quiet) NaN.
__device__ __forceinline__ bf16_bits float_to_bf16(float f) {
  std::uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_bits>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<bf16_bits>(u >> 16);
}

template <class T>
__device__ __forceinline__ float to_float(T v);
template <>
__device__ __forceinline__ float to_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ float to_float<bf16_bits>(bf16_bits v) {
  return bf16_to_float(v);
}

// Four consecutive elements at p (4-element aligned) as floats, in one vector load.
__device__ __forceinline__ void load4(const float* p, float (&r)[4]) {
  const Float4 v = *reinterpret_cast<const Float4*>(p);
  for (int i = 0; i < 4; ++i) r[i] = v.x[i];
}
__device__ __forceinline__ void load4(const bf16_bits* p, float (&r)[4]) {
  const Bf16x4 v = *reinterpret_cast<const Bf16x4*>(p);
  for (int i = 0; i < 4; ++i) r[i] = bf16_to_float(v.h[i]);
}

__device__ __forceinline__ float activate(float v, GemmActivation act) {
  if (act == GemmActivation::relu) return v < 0.f ? 0.f : v;  // NaN < 0 is false: NaN stays NaN
  if (act == GemmActivation::gelu) return v * (0.5f * (1.f + erff(v * 0.70710678118654752f)));
  return v;
}

// What the epilogue needs of GemmArgs, per launch (the batch entry's C pointer is added per block).
struct Epilogue {
  float alpha, beta;
  const float* bias;
  GemmActivation act;
  std::int64_t m, n, ldc;
};

template <class TOut>
__device__ __forceinline__ float load_out(const TOut* p) {
  return to_float(*p);
}

__device__ __forceinline__ void store_out(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_out(bf16_bits* p, float v) { *p = float_to_bf16(v); }

__device__ __forceinline__ float finish(const Epilogue& e, float acc, float old, std::int64_t col) {
  float v = e.alpha * acc;
  if (e.beta != 0.f) v += e.beta * old;
  if (e.bias) v += e.bias[col];
  return activate(v, e.act);
}

// C[row, col] of one batch entry (bounds checked).
template <class TOut>
__device__ __forceinline__ void write_one(const Epilogue& e, TOut* c, std::int64_t row, std::int64_t col, float acc) {
  if (row >= e.m || col >= e.n) return;
  TOut* p = c + row * e.ldc + col;
  store_out(p, finish(e, acc, e.beta != 0.f ? load_out(p) : 0.f, col));
}

// Four consecutive columns col..col+3 of C's row `row`; one vector access where `vec` (C aligned for it)
// and all four are inside.
__device__ __forceinline__ void write_four(const Epilogue& e, float* c, bool vec, std::int64_t row, std::int64_t col,
                                           const float (&acc)[4]) {
  if (row >= e.m) return;
  if (vec && col + 3 < e.n) {
    Float4* p = reinterpret_cast<Float4*>(c + row * e.ldc + col);
    Float4 old{};
    if (e.beta != 0.f) old = *p;
    Float4 out;
    FASTNN_UNROLL
    for (int j = 0; j < 4; ++j) out.x[j] = finish(e, acc[j], old.x[j], col + j);
    *p = out;
    return;
  }
  FASTNN_UNROLL
  for (int j = 0; j < 4; ++j) write_one(e, c, row, col + j, acc[j]);
}

__device__ __forceinline__ void write_four(const Epilogue& e, bf16_bits* c, bool, std::int64_t row, std::int64_t col,
                                           const float (&acc)[4]) {
  FASTNN_UNROLL
  for (int j = 0; j < 4; ++j) write_one(e, c, row, col + j, acc[j]);
}

}  // namespace fastnn::FASTNN_CUDA_NS::gemm_detail
