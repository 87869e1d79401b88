// Exact GELU forward and backward, compiled once per ISA level (see fastnn/gelu.h). The float32 forward
// runs in vectors (erfc from a fit with float32's relative accuracy, below); float64's takes libm's erf
// one element at a time; the backward runs in vectors with the level's exp. Threads grab fixed blocks.
#include <algorithm>
#include <cmath>

#include "fastnn/gelu.h"
#include "fastnn/threading.h"
#include "fastnn/vec_math.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace vec;

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr int64_t kBlock = 4096;  // elements per scheduling unit: a multiple of every level's lanes

// float64: libm's erf, one element at a time (exact to an ulp).
void forward_range(const double* x, double* y, double* cdf, int64_t i_begin, int64_t i_end) {
  for (int64_t i = i_begin; i < i_end; ++i) {
    const double c = 0.5 * (1.0 + std::erf(x[i] * kSqrt1_2));
    cdf[i] = c;
    y[i] = x[i] * c;
  }
}

void forward_impl(const double* x, double* y, double* cdf, int64_t n) {
  const int nt = threads_for(20.0 * static_cast<double>(n));  // erf: ~20 flops an element
  parallel_range(n, kBlock, nt, [&](int64_t i0, int64_t i1) { forward_range(x, y, cdf, i0, i1); });
}

// float32, in vectors (libm's erff one element at a time took ~7 ns an element here, 20x torch's GELU):
// the tail e = Phi(-|x|) = erfc(a) / 2 with a = |x| / sqrt 2, from the Chebyshev fit of Numerical Recipes'
// erfcc, erfc(a) = t exp(-a^2 + P(t)), t = 1 / (1 + a / 2), whose relative error is < 1.2e-7 for every
// a >= 0 (so the tail keeps float32's relative accuracy, which the far negative side needs); cdf = e for
// x < 0, 1 - e otherwise. a^2 is split exactly into hi + lo (hi from a's top 12 bits, so hi is exact) and
// exp(-hi) * exp(P(t) - lo) taken as two exps: one exp of the rounded -a^2 + P(t) loses ~a^2 ulps. For
// a >= 10 the tail is below float32's smallest subnormal and is set to 0 (so gelu(-inf) is -inf * 0, NaN,
// as erf's formula gives, and +inf stays +inf).
inline vf32 gelu_tail(const vf32& ax) {
  const vf32 a = ax * splat<vf32>(float(kSqrt1_2));
  const vf32 ac = clamp(a, 0.0f, 10.0f);
  const vf32 t = splat<vf32>(1.0f) / (splat<vf32>(1.0f) + splat<vf32>(0.5f) * ac);
  static constexpr float c[] = {0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                                -0.18628806f, 0.09678418f,  0.37409196f, 1.00002368f};
  vf32 p = splat<vf32>(c[0]);
  for (int i = 1; i < 9; ++i) p = p * t + splat<vf32>(c[i]);
  p = p * t + splat<vf32>(-1.26551223f);
  const vf32 ah = (vf32)((vu32)ac & 0xFFFFF000u);  // GCC vector casts reinterpret the bits
  const vf32 al = ac - ah;
  const vf32 hi = ah * ah, lo = (ah + ah + al) * al;
  const vf32 e = splat<vf32>(0.5f) * t * vec::exp(-hi) * vec::exp(p - lo);
  return a < splat<vf32>(10.0f) ? e : vf32{};
}

void forward_blocks(const float* x, float* y, float* cdf, int64_t n, int64_t b_begin, int64_t b_end) {
  constexpr int L = lanes<float>;
  for (int64_t b = b_begin; b < b_end; ++b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    auto one = [](const vf32& xv) {
      const vf32 ax = xv < vf32{} ? -xv : xv;
      const vf32 e = gelu_tail(ax);
      return xv < vf32{} ? e : splat<vf32>(1.0f) - e;
    };
    int64_t i = b * kBlock;
    for (; i + L <= end; i += L) {
      const vf32 xv = loadu<vf32>(x + i);
      const vf32 c = one(xv);
      storeu(cdf + i, c);
      storeu(y + i, xv * c);
    }
    if (i < end) {
      const int64_t r = end - i;
      const vf32 xv = load_partial(x + i, r, 0.0f);
      const vf32 c = one(xv);
      store_partial(cdf + i, c, r);
      store_partial(y + i, xv * c, r);
    }
  }
}

void forward_impl(const float* x, float* y, float* cdf, int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int nt = threads_for(30.0 * static_cast<double>(n));
  parallel_range(blocks, 1, nt, [&](int64_t b0, int64_t b1) { forward_blocks(x, y, cdf, n, b0, b1); });
}

template <typename T>
void backward_blocks(const T* g, const T* x, const T* cdf, T* dx, int64_t n, int64_t b_begin, int64_t b_end) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  for (int64_t b = b_begin; b < b_end; ++b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    const V half = splat<V>(T(-0.5)), c = splat<V>(T(kInvSqrt2Pi));
    int64_t i = b * kBlock;
    for (; i + L <= end; i += L) {
      const V xv = loadu<V>(x + i);
      const V d = loadu<V>(cdf + i) + xv * vec::exp(half * xv * xv) * c;
      storeu(dx + i, loadu<V>(g + i) * d);
    }
    if (i < end) {
      const int64_t r = end - i;
      const V xv = load_partial(x + i, r, T(0));
      const V d = load_partial(cdf + i, r, T(0)) + xv * vec::exp(half * xv * xv) * c;
      store_partial(dx + i, load_partial(g + i, r, T(0)) * d, r);
    }
  }
}

template <typename T>
void backward_impl(const T* g, const T* x, const T* cdf, T* dx, int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int nt = threads_for(12.0 * static_cast<double>(n));
  parallel_range(blocks, 1, nt, [&](int64_t b0, int64_t b1) { backward_blocks(g, x, cdf, dx, n, b0, b1); });
}

}  // namespace

void gelu_forward_f32(const float* x, float* y, float* cdf, int64_t n) { forward_impl(x, y, cdf, n); }
void gelu_forward_f64(const double* x, double* y, double* cdf, int64_t n) { forward_impl(x, y, cdf, n); }
void gelu_backward_f32(const float* g, const float* x, const float* cdf, float* dx, int64_t n) {
  backward_impl(g, x, cdf, dx, n);
}
void gelu_backward_f64(const double* g, const double* x, const double* cdf, double* dx, int64_t n) {
  backward_impl(g, x, cdf, dx, n);
}

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
