// Pooling family: picks the per-ISA kernel.
#include "fastnn/pool.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                                  \
  void max_pool2d_forward(Isa isa, const Pool2dArgs& a, const T* x, T* y) {                    \
    FASTNN_DISPATCH(max_pool2d_forward_##sfx, a, x, y)                                         \
  }                                                                                            \
  void max_pool2d_backward(Isa isa, const Pool2dArgs& a, const T* x, const T* gy, T* gx) {     \
    FASTNN_DISPATCH(max_pool2d_backward_##sfx, a, x, gy, gx)                                   \
  }                                                                                            \
  void avg_pool2d_forward(Isa isa, const Pool2dArgs& a, const T* x, T* y) {                    \
    FASTNN_DISPATCH(avg_pool2d_forward_##sfx, a, x, y)                                         \
  }                                                                                            \
  void avg_pool2d_backward(Isa isa, const Pool2dArgs& a, const T* gy, T* gx) {                 \
    FASTNN_DISPATCH(avg_pool2d_backward_##sfx, a, gy, gx)                                      \
  }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
