#include "fastnn/elementwise.h"

#include <cmath>

#include "fastnn/threading.h"

namespace fastnn {

template <typename T>
static void erf_impl(const T* x, T* y, int64_t n) {
  // libm's erf is exact to an ulp; erf costs ~20 flops, so that is the work estimate per element.
#pragma omp parallel for schedule(static) num_threads(threads_for(20.0 * n))
  for (int64_t i = 0; i < n; ++i) y[i] = std::erf(x[i]);
}

void erf_f32(const float* x, float* y, int64_t n) { erf_impl(x, y, n); }
void erf_f64(const double* x, double* y, int64_t n) { erf_impl(x, y, n); }

}  // namespace fastnn
