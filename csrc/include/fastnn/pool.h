// 2-D max and average pooling over NCHW planes (PyTorch's semantics: -inf padding for max, the first
// maximum in window order wins and NaN propagates; average divisor from count_include_pad or
// divisor_override). Inputs and outputs are C-contiguous; `planes` = N * C.
//
// Max pooling saves nothing: its backward recomputes each window's argmax from x, which costs a read
// of x instead of a write and a read of an index array. Backward writes every element of dx (zeros
// included). Threads take whole planes, each summed in a fixed order: bitwise the same for any
// thread count.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

struct Pool2dArgs {
  int64_t planes;
  int64_t in_h, in_w, out_h, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  bool count_include_pad;    // average only
  int64_t divisor_override;  // average only; 0 for none
};

#define FASTNN_DECLARE_POOL(ns, T, sfx)                                                          \
  namespace ns {                                                                                 \
  void max_pool2d_forward_##sfx(const Pool2dArgs& a, const T* x, T* y);                          \
  void max_pool2d_backward_##sfx(const Pool2dArgs& a, const T* x, const T* gy, T* gx);           \
  void avg_pool2d_forward_##sfx(const Pool2dArgs& a, const T* x, T* y);                          \
  void avg_pool2d_backward_##sfx(const Pool2dArgs& a, const T* gy, T* gx);                       \
  }
#define FASTNN_DECLARE_POOL_LEVEL(ns) \
  FASTNN_DECLARE_POOL(ns, float, f32) \
  FASTNN_DECLARE_POOL(ns, double, f64)
FASTNN_DECLARE_POOL_LEVEL(generic)
FASTNN_DECLARE_POOL_LEVEL(avx2)
FASTNN_DECLARE_POOL_LEVEL(avx512)
#undef FASTNN_DECLARE_POOL_LEVEL
#undef FASTNN_DECLARE_POOL

void max_pool2d_forward(Isa isa, const Pool2dArgs& a, const float* x, float* y);
void max_pool2d_forward(Isa isa, const Pool2dArgs& a, const double* x, double* y);
void max_pool2d_backward(Isa isa, const Pool2dArgs& a, const float* x, const float* gy, float* gx);
void max_pool2d_backward(Isa isa, const Pool2dArgs& a, const double* x, const double* gy, double* gx);
void avg_pool2d_forward(Isa isa, const Pool2dArgs& a, const float* x, float* y);
void avg_pool2d_forward(Isa isa, const Pool2dArgs& a, const double* x, double* y);
void avg_pool2d_backward(Isa isa, const Pool2dArgs& a, const float* gy, float* gx);
void avg_pool2d_backward(Isa isa, const Pool2dArgs& a, const double* gy, double* gx);

}  // namespace fastnn
