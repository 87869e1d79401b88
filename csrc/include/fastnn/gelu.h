// Exact (erf) GELU, forward and backward in one pass each: y = x * cdf with cdf = (1 + erf(x / sqrt 2)) / 2
// (float64: libm's erf, exact to an ulp; float32: a vectorised erfc fit whose relative error is < 1.2e-7,
// also in the far negative tail, where an absolute-error erf such as torch's loses every digit), and
// dx = g * (cdf + x * exp(-x^2 / 2) / sqrt(2 pi)) from the saved cdf, vectorised (the level's exp).
// Element-wise: every output element depends on its inputs only, so the bits never depend on the thread
// count. The NumPy form took ~9 array passes per direction (the GPT example's MLP spent ~11 ms a step in
// GELU's backward alone).
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

#define FASTNN_DECLARE_GELU(ns, T, sfx)                                                 \
  namespace ns {                                                                        \
  void gelu_forward_##sfx(const T* x, T* y, T* cdf, int64_t n);                        \
  void gelu_backward_##sfx(const T* g, const T* x, const T* cdf, T* dx, int64_t n);    \
  }
#define FASTNN_DECLARE_GELU_LEVEL(ns) \
  FASTNN_DECLARE_GELU(ns, float, f32) \
  FASTNN_DECLARE_GELU(ns, double, f64)
FASTNN_DECLARE_GELU_LEVEL(generic)
FASTNN_DECLARE_GELU_LEVEL(avx2)
FASTNN_DECLARE_GELU_LEVEL(avx512)
#undef FASTNN_DECLARE_GELU_LEVEL
#undef FASTNN_DECLARE_GELU

void gelu_forward(Isa isa, const float* x, float* y, float* cdf, int64_t n);
void gelu_forward(Isa isa, const double* x, double* y, double* cdf, int64_t n);
void gelu_backward(Isa isa, const float* g, const float* x, const float* cdf, float* dx, int64_t n);
void gelu_backward(Isa isa, const double* g, const double* x, const double* cdf, double* dx, int64_t n);

}  // namespace fastnn
