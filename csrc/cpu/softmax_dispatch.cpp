// Softmax family: picks the per-ISA kernel.
#include "fastnn/softmax.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                                                        \
  void vector_exp(Isa isa, const T* x, T* y, int64_t n) { FASTNN_DISPATCH(exp_##sfx, x, y, n) }                      \
  void softmax_forward(Isa isa, const SoftmaxArgs<T>& a, T* y) { FASTNN_DISPATCH(softmax_forward_##sfx, a, y) }      \
  void softmax_backward(Isa isa, const T* y, const T* gy, T* gx, int64_t rows, int64_t cols, bool log) {             \
    FASTNN_DISPATCH(softmax_backward_##sfx, y, gy, gx, rows, cols, log)                                              \
  }                                                                                                                  \
  void cross_entropy_forward(Isa isa, const CrossEntropyArgs<T>& a, T* loss, T* lse) {                               \
    FASTNN_DISPATCH(cross_entropy_forward_##sfx, a, loss, lse)                                                       \
  }                                                                                                                  \
  void cross_entropy_backward(Isa isa, const CrossEntropyArgs<T>& a, const T* lse, const T* grad_rows, double scale, \
                              T* grad_logits) {                                                                      \
    FASTNN_DISPATCH(cross_entropy_backward_##sfx, a, lse, grad_rows, scale, grad_logits)                             \
  }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
