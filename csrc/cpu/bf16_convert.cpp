// float32 <-> bfloat16 conversions (see fastnn/bf16_convert.h). Memory-bound: one pass, 16 lanes at a time on
// AVX-512 (integer rounding, as torch's own vectorised cast: AVX512-BF16's vcvtneps2bf16 would flush
// denormals to zero and differ from torch there), scalar elsewhere; both give the same bits. Compiled once,
// the AVX-512 loop by function target, chosen by the active ISA level.
#include "fastnn/bf16_convert.h"

#include <cstring>

#include <immintrin.h>

#include "fastnn/threading.h"

namespace fastnn {
namespace {

inline uint16_t narrow_one(float f, uint16_t nan_bits) {
  if (f != f) return nan_bits;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  // u + 0x7FFF + lsb: ties go to the even half; a carry steps the exponent (the largest floats round to inf)
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline float widen_one(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void narrow_generic(const float* x, uint16_t* y, int64_t n, uint16_t nan_bits) {
  for (int64_t i = 0; i < n; ++i) y[i] = narrow_one(x[i], nan_bits);
}

void widen_generic(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = widen_one(x[i]);
}

__attribute__((target("avx512f"))) void narrow_avx512(const float* x, uint16_t* y, int64_t n, uint16_t nan_bits) {
  const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7FFF), nan = _mm512_set1_epi32(nan_bits);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 f = _mm512_loadu_ps(x + i);
    const __m512i u = _mm512_castps_si512(f);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, bias)), 16);
    r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q), nan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtepi32_epi16(r));
  }
  narrow_generic(x + i, y + i, n - i, nan_bits);
}

__attribute__((target("avx512f"))) void widen_avx512(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    _mm512_storeu_si512(y + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
  }
  widen_generic(x + i, y + i, n - i);
}

constexpr int64_t kBlock = 1 << 16;  // elements per thread task: each thread streams whole blocks

}  // namespace

void bf16_from_f32(const float* x, uint16_t* y, int64_t n, uint16_t nan_bits, Isa isa) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_range(blocks, 1, threads_for(2.0 * n), [&](int64_t b_begin, int64_t b_end) {
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t lo = b * kBlock, len = (n - lo < kBlock) ? n - lo : kBlock;
      if (isa == Isa::avx512)
        narrow_avx512(x + lo, y + lo, len, nan_bits);
      else
        narrow_generic(x + lo, y + lo, len, nan_bits);
    }
  });
}

void f32_from_bf16(const uint16_t* x, float* y, int64_t n, Isa isa) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_range(blocks, 1, threads_for(1.0 * n), [&](int64_t b_begin, int64_t b_end) {
    for (int64_t b = b_begin; b < b_end; ++b) {
      const int64_t lo = b * kBlock, len = (n - lo < kBlock) ? n - lo : kBlock;
      if (isa == Isa::avx512)
        widen_avx512(x + lo, y + lo, len);
      else
        widen_generic(x + lo, y + lo, len);
    }
  });
}

}  // namespace fastnn
