// Element-wise special functions NumPy lacks (erf, for exact GELU).
#pragma once
#include <cstdint>

namespace fastnn {

void erf_f32(const float* x, float* y, int64_t n);
void erf_f64(const double* x, double* y, int64_t n);

}  // namespace fastnn
