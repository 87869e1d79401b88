// The avx512_bf16 micro-kernel: vdpbf16ps adds two bf16 products per fp32 lane, 64 flops per instruction.
// Compiled for AVX512-BF16 through the target pragma (never -march): the driver calls it only when CPUID
// reports the instructions.
#include <immintrin.h>

#include "fastnn/gemm_bf16.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

namespace fastnn::bf16_kernels {

namespace {

// 12 x 2 zmm accumulators (24 of 32 registers), 2 B vectors per pair step and A pairs as broadcasts: 24
// vdpbf16ps per 2 loads + 12 broadcasts, enough independent chains to hide the latency.
__attribute__((always_inline)) inline void tile(int64_t kp, const uint32_t* __restrict a, const uint32_t* __restrict b,
                                                __m512 (&c)[kBf16MR][2]) {
  constexpr int MR = kBf16MR, NR = kBf16NR;
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) c[i][0] = c[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * NR);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * NR + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + (p + 8) * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + (p + 8) * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[p * MR + i]));
      c[i][0] = _mm512_dpbf16_ps(c[i][0], ai, b0);
      c[i][1] = _mm512_dpbf16_ps(c[i][1], ai, b1);
    }
  }
}

}  // namespace

void micro_avx512_bf16(int64_t kp, const uint32_t* a, const uint32_t* b, float* acc) {
  __m512 c[kBf16MR][2];
  tile(kp, a, b, c);
#pragma GCC unroll 12
  for (int i = 0; i < kBf16MR; ++i) {
    _mm512_store_ps(acc + i * kBf16NR, c[i][0]);
    _mm512_store_ps(acc + i * kBf16NR + 16, c[i][1]);
  }
}

// The store through memory and back (store_tile, compiled for the baseline ISA) cost ~5% of a tile.
void micro_store_avx512_bf16(int64_t kp, const uint32_t* a, const uint32_t* b, float* c, int64_t rs_c, float alpha,
                             float beta, bool overwrite, const float* bias) {
  __m512 acc[kBf16MR][2];
  tile(kp, a, b, acc);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < kBf16MR; ++i) {
    float* row = c + i * rs_c;
    for (int v = 0; v < 2; ++v) {
      __m512 r = _mm512_mul_ps(va, acc[i][v]);
      if (!overwrite) r = _mm512_add_ps(_mm512_loadu_ps(row + 16 * v), r);
      else if (beta != 0.0f) r = _mm512_add_ps(r, _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16 * v)));
      if (bias) r = _mm512_add_ps(r, v ? bias1 : bias0);
      _mm512_storeu_ps(row + 16 * v, r);
    }
  }
}

}  // namespace fastnn::bf16_kernels

#pragma GCC pop_options
