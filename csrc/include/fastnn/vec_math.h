// Vector types and a vectorised exp for the per-ISA kernels (softmax, cross-entropy, layernorm,
// pooling). Include it only from a source listed in FASTNN_ISA_SOURCES: everything lands in the
// FASTNN_ISA_NS namespace, so the same text becomes 16-float zmm code under -mavx512f, 8-float ymm
// under -mavx2 and 4-float xmm on the x86-64 baseline.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "fastnn/simd.h"

#ifndef FASTNN_ISA_NS
#error "fastnn/vec_math.h is for per-ISA sources (FASTNN_ISA_NS names the level)"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace vec {

using simd::kVecBytes;
using simd::lanes;
using simd::loadu;
using simd::splat;
using simd::storeu;
using simd::Vec;
using simd::vf32;
using simd::vf64;
typedef int32_t vi32 __attribute__((vector_size(kVecBytes)));
typedef int64_t vi64 __attribute__((vector_size(kVecBytes)));
typedef uint64_t vu64 __attribute__((vector_size(kVecBytes)));
typedef uint32_t vu32 __attribute__((vector_size(kVecBytes)));

// The first n (0 <= n < lanes) values of p, the other lanes `fill`: the row tails of the kernels.
// AVX-512 and AVX2 use masked loads/stores (one instruction, nothing read or written past p + n);
// the baseline goes through a stack buffer. (A buffer under AVX-512 cost ~50 ns per call here:
// the wide reload after narrow stores misses store forwarding.)
#if defined(__AVX512F__)
inline vf32 load_partial(const float* p, int64_t n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << n) - 1), p);
}
inline vf64 load_partial(const double* p, int64_t n, double fill) {
  return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), static_cast<__mmask8>((1u << n) - 1), p);
}
inline void store_partial(float* p, const vf32& v, int64_t n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
}
inline void store_partial(double* p, const vf64& v, int64_t n) {
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), v);
}
#elif defined(__AVX2__)
inline vi32 tail_mask32(int64_t n) {
  const vi32 idx = {0, 1, 2, 3, 4, 5, 6, 7};
  return idx < static_cast<int32_t>(n);
}
inline vi64 tail_mask64(int64_t n) {
  const vi64 idx = {0, 1, 2, 3};
  return idx < n;
}
inline vf32 load_partial(const float* p, int64_t n, float fill) {
  const vi32 m = tail_mask32(n);
  const vf32 v = _mm256_maskload_ps(p, reinterpret_cast<const __m256i&>(m));
  return m ? v : splat<vf32>(fill);
}
inline vf64 load_partial(const double* p, int64_t n, double fill) {
  const vi64 m = tail_mask64(n);
  const vf64 v = _mm256_maskload_pd(p, reinterpret_cast<const __m256i&>(m));
  return m ? v : splat<vf64>(fill);
}
inline void store_partial(float* p, const vf32& v, int64_t n) {
  const vi32 m = tail_mask32(n);
  _mm256_maskstore_ps(p, reinterpret_cast<const __m256i&>(m), v);
}
inline void store_partial(double* p, const vf64& v, int64_t n) {
  const vi64 m = tail_mask64(n);
  _mm256_maskstore_pd(p, reinterpret_cast<const __m256i&>(m), v);
}
#else
template <typename T>
inline Vec<T> load_partial(const T* p, int64_t n, T fill) {
  alignas(kVecBytes) T buf[lanes<T>];
  for (int i = 0; i < lanes<T>; ++i) buf[i] = i < n ? p[i] : fill;
  return loadu<Vec<T>>(buf);
}
template <typename T>
inline void store_partial(T* p, const Vec<T>& v, int64_t n) {
  for (int i = 0; i < n; ++i) p[i] = v[i];
}
#endif

// Prefetches the cache lines of [p, p + bytes) (bytes a compile-time constant: the loop unrolls).
// The multi-pass row kernels call it on the next row while the current one is in L1: the hardware
// streamer stops at 4 KB page edges, so every new 4 KB row would otherwise start with a stall.
template <int kBytes>
inline void prefetch_lines(const void* p) {
  for (int b = 0; b < kBytes; b += 64) __builtin_prefetch(static_cast<const char*>(p) + b);
}

template <typename V>
using elem_t = std::decay_t<decltype(std::declval<V>()[0])>;

template <typename V>
inline elem_t<V> hsum(const V& v) {
  // A fixed pairwise order: the same bits whatever the caller's thread count.
  using T = elem_t<V>;
  constexpr int n = sizeof(V) / sizeof(T);
  alignas(sizeof(V)) T b[n];
  storeu(b, v);
  for (int w = n / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) b[i] += b[i + w];
  return b[0];
}
template <typename V>
inline elem_t<V> hmax(const V& v) {
  using T = elem_t<V>;
  constexpr int n = sizeof(V) / sizeof(T);
  alignas(sizeof(V)) T b[n];
  storeu(b, v);
  T m = b[0];
  for (int i = 1; i < n; ++i) m = b[i] > m ? b[i] : m;
  return m;
}
// min(max(x, lo), hi) with NaN passed through: one max and one min instruction. (The portable
// lo > x ? lo : x, which GCC keeps as compare + blend, costs twice as many.)
inline vf32 clamp(const vf32& x, float lo, float hi) {
#if defined(__AVX512F__)
  return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), x));
#elif defined(__AVX2__)
  return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), x));
#elif defined(__SSE2__)
  return _mm_min_ps(_mm_set1_ps(hi), _mm_max_ps(_mm_set1_ps(lo), x));
#else
  const vf32 l = splat<vf32>(lo), h = splat<vf32>(hi);
  const vf32 y = l > x ? l : x;
  return y > h ? h : y;
#endif
}
inline vf64 clamp(const vf64& x, double lo, double hi) {
#if defined(__AVX512F__)
  return _mm512_min_pd(_mm512_set1_pd(hi), _mm512_max_pd(_mm512_set1_pd(lo), x));
#elif defined(__AVX2__)
  return _mm256_min_pd(_mm256_set1_pd(hi), _mm256_max_pd(_mm256_set1_pd(lo), x));
#elif defined(__SSE2__)
  return _mm_min_pd(_mm_set1_pd(hi), _mm_max_pd(_mm_set1_pd(lo), x));
#else
  const vf64 l = splat<vf64>(lo), h = splat<vf64>(hi);
  const vf64 y = l > x ? l : x;
  return y > h ? h : y;
#endif
}

// True when some lane of x is below lo (NaN lanes are not).
inline bool any_below(const vf32& x, float lo) {
#if defined(__AVX512F__)
  return _mm512_cmp_ps_mask(x, _mm512_set1_ps(lo), _CMP_LT_OQ) != 0;
#elif defined(__AVX2__)
  return _mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_LT_OQ)) != 0;
#elif defined(__SSE2__)
  return _mm_movemask_ps(_mm_cmplt_ps(x, _mm_set1_ps(lo))) != 0;
#else
  for (int i = 0; i < lanes<float>; ++i)
    if (x[i] < lo) return true;
  return false;
#endif
}
inline bool any_below(const vf64& x, double lo) {
#if defined(__AVX512F__)
  return _mm512_cmp_pd_mask(x, _mm512_set1_pd(lo), _CMP_LT_OQ) != 0;
#elif defined(__AVX2__)
  return _mm256_movemask_pd(_mm256_cmp_pd(x, _mm256_set1_pd(lo), _CMP_LT_OQ)) != 0;
#elif defined(__SSE2__)
  return _mm_movemask_pd(_mm_cmplt_pd(x, _mm_set1_pd(lo))) != 0;
#else
  for (int i = 0; i < lanes<double>; ++i)
    if (x[i] < lo) return true;
  return false;
#endif
}

// exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n*ln2 in [-ln2/2, ln2/2]; x already clamped to
// the range below (or NaN, which passes through the arithmetic unchanged).
//
// float32: exp(r) = 1 + r + r^2 * q(r), q of degree 4 (so a degree-6 polynomial), fitted to the
// relative error of exp on [-ln2/2, ln2/2] by Lawson-reweighted least squares on Chebyshev nodes:
// 3.1e-9 relative (0.03 ulp), so results are within ~1 ulp of the exact value (tests hold it to 2).
// ln2 is split Cody-Waite style (9-bit head, so n*head is exact without FMA). 2^n is applied by
// vscalefps under AVX-512, otherwise as 2^(n/2) * 2^(n - n/2): both halves are normal for every n in
// [-150, 128], so a result past the top becomes +inf and a subnormal one is rounded once, like libm.
inline vf32 exp_core(const vf32& x) {
  using V = vf32;
  // Round to nearest by the 1.5 * 2^23 trick: the sum's low mantissa bits hold n as an integer.
  const V magic = splat<V>(12582912.0f);
  const V t = x * splat<V>(1.44269504088896341f) + magic;
  const V n = t - magic;
  V r = x - n * splat<V>(0.693359375f);
  r = r - n * splat<V>(-2.12194440e-4f);
  V q = splat<V>(1.381461275741458e-3f);
  q = q * r + splat<V>(8.368710055947304e-3f);
  q = q * r + splat<V>(4.166838899254799e-2f);
  q = q * r + splat<V>(1.666652113199234e-1f);
  q = q * r + splat<V>(4.999999403953552e-1f);
  const V p = (q * (r * r) + r) + splat<V>(1.0f);
#if defined(__AVX512F__)
  return _mm512_scalef_ps(p, n);
#else
  // The exponent arithmetic is unsigned (two's complement wrap-around, the same bits): in a NaN lane t holds
  // arbitrary bits, and the signed forms would overflow there (undefined behaviour; the lane stays NaN anyway).
  const vu32 nu = reinterpret_cast<const vu32&>(t) - reinterpret_cast<const vu32&>(magic);
  const vi32 ni = reinterpret_cast<const vi32&>(nu);
  const vi32 n1 = ni >> 1;
  const vu32 n2 = nu - reinterpret_cast<const vu32&>(n1);
  const vu32 s1 = (reinterpret_cast<const vu32&>(n1) + 127) << 23, s2 = (n2 + 127) << 23;
  return (p * reinterpret_cast<const V&>(s1)) * reinterpret_cast<const V&>(s2);
#endif
}

// float64: the same scheme with a degree-13 Taylor polynomial (remainder r^14/14! < 4.2e-18 relative
// on [-ln2/2, ln2/2]), for x in [-746, 710].
inline vf64 exp_core(const vf64& x) {
  using V = vf64;
  const V magic = splat<V>(6755399441055744.0);  // 1.5 * 2^52
  const V t = x * splat<V>(1.4426950408889634) + magic;
  const V n = t - magic;
  V r = x - n * splat<V>(0.693145751953125);  // ln2 head of 15 bits: n * head exact for |n| < 2^11
  r = r - n * splat<V>(1.42860682030941723212e-6);
  constexpr double c[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                          1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,
                          1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,        0.5};
  V q = splat<V>(c[0]);
  for (int i = 1; i < 12; ++i) q = q * r + splat<V>(c[i]);
  const V p = (q * (r * r) + r) + splat<V>(1.0);
#if defined(__AVX512F__)
  return _mm512_scalef_pd(p, n);
#else
  // n fits in 12 bits: shift it to non-negative so a logical shift halves it (SSE2/AVX2 have no
  // 64-bit arithmetic right shift).
  // Unsigned arithmetic throughout (the same bits by wrap-around), for the reason given in the float32 version.
  const vu64 nu = reinterpret_cast<const vu64&>(t) - reinterpret_cast<const vu64&>(magic);
  const vu64 n1 = ((nu + 2048) >> 1) - 1024;
  const vu64 n2 = nu - n1;
  const vu64 s1 = (n1 + 1023) << 52, s2 = (n2 + 1023) << 52;
  return (p * reinterpret_cast<const V&>(s1)) * reinterpret_cast<const V&>(s2);
#endif
}

// exp for any input: -inf gives 0, +inf gives +inf, overflow +inf, NaN stays NaN.
//
// Results below the smallest normal number are the slow case: every instruction that produces a
// subnormal (or underflows to 0) takes a microcode assist, measured at 5.5 ns per element against
// 0.16 ns in range (AVX-512, this host). So the common path clamps its input to where exp stays
// normal (>= lo), and only a vector with a lane below lo recomputes: lanes under `zero` (where exp
// rounds to 0: -inf, masked logits) become 0 by a blend with no arithmetic, and only lanes between
// `zero` and lo pay for their subnormal results.
template <typename V, typename T>
inline V exp_impl(const V& x, T lo, T zero, T hi) {
  V y = exp_core(clamp(x, lo, hi));
  if (__builtin_expect(any_below(x, lo), 0)) {
    const V z = splat<V>(zero);
    const auto deep = x < z;
    const V ys = exp_core(deep ? V{} : clamp(x, zero, hi));
    y = x < splat<V>(lo) ? ys : y;
    y = deep ? V{} : y;
  }
  return y;
}
// Below these, exp leaves the normal range (exp_core needs no check above them).
template <typename T>
constexpr T kExpNormalBelow = sizeof(T) == 4 ? T(-87.3f) : T(-708.3);

// exp(-87.3) = 1.2e-38 > FLT_MIN; below -104 exp rounds to 0; above 89 it overflows.
inline vf32 exp(const vf32& x) { return exp_impl(x, -87.3f, -104.0f, 89.0f); }
// exp(-708.3) > DBL_MIN; below -746 exp rounds to 0; above 710 it overflows.
inline vf64 exp(const vf64& x) { return exp_impl(x, -708.3, -746.0, 710.0); }

// The sum of n contiguous values: four accumulators (the adds' latency), the tail loaded partially, and
// the lanes added in hsum's fixed order, so the bits depend on n and x only. Layer norm's and batch norm's
// statistics both start here.
template <typename T>
inline T row_sum(const T* x, int64_t n) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  V s0{}, s1{}, s2{}, s3{};
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    s0 += loadu<V>(x + j), s1 += loadu<V>(x + j + L);
    s2 += loadu<V>(x + j + 2 * L), s3 += loadu<V>(x + j + 3 * L);
  }
  for (; j + L <= n; j += L) s0 += loadu<V>(x + j);
  if (j < n) s1 += load_partial(x + j, n - j, T(0));
  return hsum((s0 + s1) + (s2 + s3));
}

}  // namespace vec
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
