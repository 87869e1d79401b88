// Exact GELU forward and backward, compiled once per ISA level (see fastnn/gelu.h). The forward's erf is
// libm's, one element at a time (it is what costs; the rest rides along in the same pass); the backward
// runs in vectors with the level's exp. Both split the array into fixed blocks across threads.
#include <omp.h>

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

template <typename T>
void forward_impl(const T* x, T* y, T* cdf, int64_t n) {
  const int nt = threads_for(20.0 * static_cast<double>(n));  // erf: ~20 flops an element
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t i = 0; i < n; ++i) {
    const T c = T(0.5) * (T(1) + std::erf(x[i] * T(kSqrt1_2)));
    cdf[i] = c;
    y[i] = x[i] * c;
  }
}

template <typename T>
void backward_impl(const T* g, const T* x, const T* cdf, T* dx, int64_t n) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int nt = threads_for(12.0 * static_cast<double>(n));
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (int64_t b = 0; b < blocks; ++b) {
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
