// LayerNorm family: picks the per-ISA kernel.
#include "fastnn/layernorm.h"
#include "fastnn/isa_dispatch.h"

namespace fastnn {

#define FASTNN_DEFINE(T, sfx)                                                             \
  void layer_norm_forward(Isa isa, const LayerNormArgs<T>& a, T* y, T* mean, T* rstd) {   \
    FASTNN_DISPATCH(layer_norm_forward_##sfx, a, y, mean, rstd)                           \
  }                                                                                       \
  void layer_norm_backward(Isa isa, const LayerNormArgs<T>& a, const LayerNormGrads<T>& g) { \
    FASTNN_DISPATCH(layer_norm_backward_##sfx, a, g)                                      \
  }
FASTNN_DEFINE(float, f32)
FASTNN_DEFINE(double, f64)
#undef FASTNN_DEFINE

}  // namespace fastnn
