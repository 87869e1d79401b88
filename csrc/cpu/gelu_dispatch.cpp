// GELU family: picks the per-ISA kernel.
#include "fastnn/gelu.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                             \
  void gelu_forward(Isa isa, const T* x, T* y, T* cdf, int64_t n) {                      \
    FASTNN_DISPATCH(gelu_forward_##sfx, x, y, cdf, n)                                     \
  }                                                                                       \
  void gelu_backward(Isa isa, const T* g, const T* x, const T* cdf, T* dx, int64_t n) {   \
    FASTNN_DISPATCH(gelu_backward_##sfx, g, x, cdf, dx, n)                                \
  }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
