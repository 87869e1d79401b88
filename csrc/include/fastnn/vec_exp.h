// Vectorised exp and exp2 on GCC vector types (float or double lanes, any width), for kernels compiled
// per ISA level: the same source becomes SSE, AVX2 or AVX-512 code.
//
// Range reduction by ln 2: x = n*ln2 + r (n = round(x/ln2), |r| <= ln2/2, ln2 split hi + lo so n*ln2_hi is
// exact), e^r by a polynomial, then the scale 2^n is built directly in the exponent bits. exp2 skips the
// ln2 split (x = n + f, |f| <= 1/2). Relative error: float about 1.5e-7 (2 ulp; the Cephes minimax
// polynomials), double about 2e-16 (Taylor to degree 13, whose truncation error 0.347^14/14! is 4e-18).
//
// Edge values: -inf -> 0 and +inf -> inf, NaN -> NaN. Results below the smallest normal (2^-126 float,
// 2^-1022 double) are flushed to 0, so callers never meet slow denormals; results above the largest finite
// value become inf. Arguments are clamped to [-127, 128] (float) before rounding, so n + 127 stays in the
// 8 exponent bits (n = 128 is built as 2 * 2^127) and n = -127 gives the bit pattern of +0.
#pragma once
#include <cstdint>
#include <type_traits>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace fastnn {

// a > b ? a : b lane by lane (b where either is NaN): exactly x86's max instruction, which GCC does not
// always pick for the ternary (with a constant operand it emits a compare and a blend, 2 uops).
template <typename V>
inline V vec_max(const V& a, const V& b) {
  constexpr bool f32 = sizeof(a[0]) == 4;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64) {
    if constexpr (f32) return _mm512_max_ps(a, b);
    else return _mm512_max_pd(a, b);
  }
#endif
#if defined(__AVX__)
  if constexpr (sizeof(V) == 32) {
    if constexpr (f32) return _mm256_max_ps(a, b);
    else return _mm256_max_pd(a, b);
  }
#endif
#if defined(__SSE2__)
  if constexpr (sizeof(V) == 16) {
    if constexpr (f32) return _mm_max_ps(a, b);
    else return _mm_max_pd(a, b);
  }
#endif
  return a > b ? a : b;
}

namespace vec_exp_detail {

template <typename T>
struct Consts;

template <>
struct Consts<float> {
  using I = int32_t;
  static constexpr int kMantBits = 23;
  static constexpr float kLo = -127.0f, kHi = 128.0f;  // exponent range, see above
  static constexpr float kMagic = 12582912.0f + 127.0f;  // 1.5*2^23 (rounds to integer) plus the bias
};
template <>
struct Consts<double> {
  using I = int64_t;
  static constexpr int kMantBits = 52;
  static constexpr double kLo = -1023.0, kHi = 1024.0;
  static constexpr double kMagic = 6755399441055744.0 + 1023.0;  // 1.5*2^52 plus the bias
};

template <typename V>
using elem_t = std::remove_reference_t<decltype(V{}[0])>;

// 2^f for |f| <= 1/2.
template <typename V>
inline V exp2_reduced(V f) {
  using T = elem_t<V>;
  if constexpr (sizeof(T) == 4) {
    // Cephes exp2f: 2^f = 1 + f*P(f), minimax on [-1/2, 1/2].
    V p = 1.535336188319500e-4f - V{};
    p = p * f + 1.339887440266574e-3f;
    p = p * f + 9.618437357674640e-3f;
    p = p * f + 5.550332471162809e-2f;
    p = p * f + 2.402264791363012e-1f;
    p = p * f + 6.931472028550421e-1f;
    return p * f + 1.0f;
  } else {
    // e^(f ln2) by Taylor: coefficients ln2^k / k!, k = 13 .. 0.
    constexpr double c[14] = {1.0,
                              0.69314718055994530942,
                              0.24022650695910071233,
                              0.055504108664821579953,
                              0.0096181291076284771620,
                              0.0013333558146428443423,
                              0.00015403530393381609955,
                              1.5252733804059840280e-05,
                              1.3215486790144309489e-06,
                              1.0178086009239699728e-07,
                              7.0549116208011232838e-09,
                              4.4455382718708114978e-10,
                              2.5678435993488202887e-11,
                              1.3691488853904124181e-12};
    V p = c[13] - V{};
    for (int k = 12; k >= 0; --k) p = p * f + c[k];
    return p;
  }
}

// e^r for |r| <= ln2/2.
template <typename V>
inline V exp_reduced(V r) {
  using T = elem_t<V>;
  if constexpr (sizeof(T) == 4) {
    // Cephes expf: e^r = 1 + r + r^2 * P(r).
    V p = 1.9875691500e-4f - V{};
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * (r * r) + r + 1.0f;
  } else {
    constexpr double c[14] = {1.0,
                              1.0,
                              0.5,
                              1.0 / 6,
                              1.0 / 24,
                              1.0 / 120,
                              1.0 / 720,
                              1.0 / 5040,
                              1.0 / 40320,
                              1.0 / 362880,
                              1.0 / 3628800,
                              1.0 / 39916800,
                              1.0 / 479001600,
                              1.0 / 6227020800.0};
    V p = c[13] - V{};
    for (int k = 12; k >= 0; --k) p = p * r + c[k];
    return p;
  }
}

// Clamps x (in units of log2) and returns round(x) as `n` plus the scale 2^n built in the exponent bits.
// With kClampHigh, n = kHi (x in [kHi - 1/2, kHi]) is past the exponent field: the scale is then 2^(n-1)
// and `top` is 2, for the caller to apply after the polynomial so values just below the largest finite
// one stay finite. NaN passes the clamps unchanged (both comparisons are false) and stays NaN.
template <typename V, bool kClampHigh>
inline V round_and_scale(V& x, V& n, V& top) {
  using T = elem_t<V>;
  using C = Consts<T>;
  using I = typename C::I;
  typedef I VI __attribute__((vector_size(sizeof(V))));
  x = vec_max(C::kLo - V{}, x);  // NaN x stays NaN
  if constexpr (kClampHigh) {
    const V hi = C::kHi - V{};
    x = hi < x ? hi : x;
  }
  V t = x + C::kMagic;  // round to nearest: the integer lands in the low mantissa bits
  n = t - C::kMagic;
  if constexpr (kClampHigh) {
    top = n > C::kHi - 1 ? T(2) - V{} : T(1) - V{};
    t -= top - T(1);  // t holds an integer below 2^24 (2^53): exact
  }
  // t's low bits hold n + bias; shifting them into the exponent field drops the magic's own bits.
  // (A C-style cast between GCC vectors of one size reinterprets the bits.)
  const VI bits = (VI)t << C::kMantBits;
  return (V)bits;
}

}  // namespace vec_exp_detail

// 2^x, lane by lane. kMayOverflow = false skips the clamp at the top of the range, for callers whose
// arguments are at most 0 or so (a softmax's x - max): one compare and one blend fewer per vector.
template <typename V, bool kMayOverflow = true>
inline V vec_exp2(V x) {
  V n, top;
  const V scale = vec_exp_detail::round_and_scale<V, kMayOverflow>(x, n, top);
  const V r = vec_exp_detail::exp2_reduced(x - n) * scale;
  if constexpr (kMayOverflow) return r * top;
  else return r;
}

// e^x, lane by lane.
template <typename V>
inline V vec_exp(V x) {
  using T = vec_exp_detail::elem_t<V>;
  // ln2 = hi + lo with hi holding few mantissa bits, so n * hi is exact for every n in range.
  constexpr T kLog2e = T(1.4426950408889634074);
  constexpr T kLn2Hi = sizeof(T) == 4 ? T(0.693359375) : T(0.693147180369123816490);
  constexpr T kLn2Lo = sizeof(T) == 4 ? T(-2.12194440e-4) : T(1.90821492927058770002e-10);
  V y = x * kLog2e;
  V n, top;
  const V scale = vec_exp_detail::round_and_scale<V, true>(y, n, top);
  // x itself may be out of range (the clamp acted on y); clamp it alike so r stays small.
  const V lo = n * kLn2Hi;
  V r = x - lo;
  r = r - n * kLn2Lo;
  const V big = T(vec_exp_detail::Consts<T>::kHi) / kLog2e - V{};
  const V small = T(vec_exp_detail::Consts<T>::kLo) / kLog2e - V{};
  r = x > big ? V{} : r;
  r = x < small ? V{} : r;
  return vec_exp_detail::exp_reduced(r) * scale * top;
}

}  // namespace fastnn
