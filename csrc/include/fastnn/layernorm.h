// LayerNorm over the last `cols` elements of each row: y = (x - mean) * rstd * weight + bias, with
// rstd = 1 / sqrt(var + eps) (biased variance), weight and bias optional.
//
// Row i of x starts at x + i * ld (elements contiguous); y, grad_output and dx are dense. Forward
// saves mean and rstd per row. dweight/dbias sum over rows: the rows are cut into at most 64 blocks
// whose size depends only on `rows`, each block sums its rows in order, and the block partials are
// added in block order, so the bits never depend on the thread count.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

template <typename T>
struct LayerNormArgs {
  const T* x;
  int64_t rows, cols, ld;
  const T* weight;  // (cols,) or null
  const T* bias;    // (cols,) or null
  double eps;
};

// grad_output is dense (rows, cols). Any of dx, dweight, dbias may be null (not wanted).
template <typename T>
struct LayerNormGrads {
  const T* grad_output;
  const T* mean;
  const T* rstd;
  T* dx;
  T* dweight;
  T* dbias;
};

#define FASTNN_DECLARE_LAYERNORM(ns, T, sfx)                                                  \
  namespace ns {                                                                              \
  void layer_norm_forward_##sfx(const LayerNormArgs<T>& a, T* y, T* mean, T* rstd);           \
  void layer_norm_backward_##sfx(const LayerNormArgs<T>& a, const LayerNormGrads<T>& g);      \
  }
#define FASTNN_DECLARE_LAYERNORM_LEVEL(ns) \
  FASTNN_DECLARE_LAYERNORM(ns, float, f32) \
  FASTNN_DECLARE_LAYERNORM(ns, double, f64)
FASTNN_DECLARE_LAYERNORM_LEVEL(generic)
FASTNN_DECLARE_LAYERNORM_LEVEL(avx2)
FASTNN_DECLARE_LAYERNORM_LEVEL(avx512)
#undef FASTNN_DECLARE_LAYERNORM_LEVEL
#undef FASTNN_DECLARE_LAYERNORM

void layer_norm_forward(Isa isa, const LayerNormArgs<float>& a, float* y, float* mean, float* rstd);
void layer_norm_forward(Isa isa, const LayerNormArgs<double>& a, double* y, double* mean, double* rstd);
void layer_norm_backward(Isa isa, const LayerNormArgs<float>& a, const LayerNormGrads<float>& g);
void layer_norm_backward(Isa isa, const LayerNormArgs<double>& a, const LayerNormGrads<double>& g);

}  // namespace fastnn
