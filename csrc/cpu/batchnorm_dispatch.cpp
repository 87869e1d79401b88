// BatchNorm family: picks the per-ISA kernel.
#include "fastnn/batchnorm.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                                  \
  void batch_norm_forward(Isa isa, const BatchNormArgs<T>& a, const BatchNormForward<T>& f) {  \
    FASTNN_DISPATCH(batch_norm_forward_##sfx, a, f)                                            \
  }                                                                                            \
  void batch_norm_backward(Isa isa, const BatchNormArgs<T>& a, const BatchNormGrads<T>& g) {   \
    FASTNN_DISPATCH(batch_norm_backward_##sfx, a, g)                                           \
  }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
