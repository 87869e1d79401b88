// conv2d family: picks the per-ISA kernel.
#include "fastnn/conv2d.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                                          \
  template <>                                                                                          \
  void conv2d_forward<T>(Isa isa, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) { \
    FASTNN_DISPATCH(conv2d_forward_##sfx, s, x, w, bias, y)                                            \
  }                                                                                                    \
  template <>                                                                                          \
  void conv2d_backward_data<T>(Isa isa, const Conv2dShape& s, const T* dy, const T* w, T* dx) {        \
    FASTNN_DISPATCH(conv2d_backward_data_##sfx, s, dy, w, dx)                                          \
  }                                                                                                    \
  template <>                                                                                          \
  void conv2d_backward_weight<T>(Isa isa, const Conv2dShape& s, const T* dy, const T* x, T* dw) {      \
    FASTNN_DISPATCH(conv2d_backward_weight_##sfx, s, dy, x, dw)                                        \
  }                                                                                                    \
  template <>                                                                                          \
  void conv2d_backward_bias<T>(Isa isa, int64_t n, int64_t o, int64_t pixels, const T* dy, T* db) {    \
    FASTNN_DISPATCH(conv2d_backward_bias_##sfx, n, o, pixels, dy, db)                                  \
  }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
