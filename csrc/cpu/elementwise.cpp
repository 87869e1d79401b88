#include "fastnn/elementwise.h"

#include <cmath>

#include "fastnn/threading.h"

namespace fastnn {

template <typename T>
static void erf_impl(const T* x, T* y, int64_t n) {
  // libm's erf is exact to an ulp; erf costs ~20 flops, so that is the work estimate per element.
  parallel_range(n, 1024, threads_for(20.0 * n), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = std::erf(x[i]);
  });
}

void erf_f32(const float* x, float* y, int64_t n) { erf_impl(x, y, n); }
void erf_f64(const double* x, double* y, int64_t n) { erf_impl(x, y, n); }

}  // namespace fastnn
