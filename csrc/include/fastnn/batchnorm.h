// BatchNorm over a C-contiguous (n, c, l) array (l = the product of the spatial dims; (N, C) input is
// l = 1): per-channel statistics over (n, l).
//
// Forward, training: mean = the channel mean, var = the biased channel variance (both double),
// invstd = 1 / sqrt(var + eps), and with m = mean rounded to T, resid = mean - m,
//   y = (x - m) * (T)(w * invstd) + (T)(b - resid * w * invstd)
// (the centred x keeps float32 exact at |mean| >> std; resid folds the mean's rounding into the shift).
// Forward, eval: mean = running_mean, invstd = 1 / sqrt(running_var + eps), y = x * (T)(w * invstd) +
// (T)(b - mean * w * invstd); var is not written. The running buffers are the caller's to update.
//
// Backward, from the forward's mean and invstd (m, resid as above): gsum = sum(g), gdot = sum(g * x-hat)
// = (sum(g * (x - m)) - resid * gsum) * invstd per channel (double); dbias = gsum, dweight = gdot, and
// with k = w * invstd: training dx = k * (g - gsum / count - x-hat * gdot / count), eval dx = k * g.
//
// Statistics are summed in T over short stretches (a block of <= 2048 values of one (n, c) row, or, for
// l < 32, one value per (n, c) in double over a row block of n), then in double over the stretches in a
// fixed order; the units and the order depend only on the shape, never on the thread count, so results
// are bitwise the same for any number of threads.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

template <typename T>
struct BatchNormArgs {
  const T* x;  // (n, c, l), C-contiguous
  int64_t n, c, l;
  const T* weight;  // (c,) or null (1)
};

template <typename T>
struct BatchNormForward {
  const T* bias;  // (c,) or null (0)
  const T* running_mean;  // (c,): read in eval mode only
  const T* running_var;
  bool training;  // training needs n * l > 0
  double eps;
  T* y;  // (n, c, l)
  double* mean;  // (c,)
  double* invstd;  // (c,)
  double* var;  // (c,), biased; training only (may be null in eval)
};

template <typename T>
struct BatchNormGrads {
  const T* grad_output;  // (n, c, l), C-contiguous
  const double* mean;  // (c,): the forward's
  const double* invstd;
  bool training;
  T* dx;  // (n, c, l) or null (not wanted)
  T* dweight;  // (c,) or null
  T* dbias;  // (c,) or null
};

#define FASTNN_DECLARE_BATCHNORM(ns, T, sfx)                                                     \
  namespace ns {                                                                                 \
  void batch_norm_forward_##sfx(const BatchNormArgs<T>& a, const BatchNormForward<T>& f);        \
  void batch_norm_backward_##sfx(const BatchNormArgs<T>& a, const BatchNormGrads<T>& g);         \
  }
#define FASTNN_DECLARE_BATCHNORM_LEVEL(ns) \
  FASTNN_DECLARE_BATCHNORM(ns, float, f32) \
  FASTNN_DECLARE_BATCHNORM(ns, double, f64)
FASTNN_DECLARE_BATCHNORM_LEVEL(generic)
FASTNN_DECLARE_BATCHNORM_LEVEL(avx2)
FASTNN_DECLARE_BATCHNORM_LEVEL(avx512)
#undef FASTNN_DECLARE_BATCHNORM_LEVEL
#undef FASTNN_DECLARE_BATCHNORM

void batch_norm_forward(Isa isa, const BatchNormArgs<float>& a, const BatchNormForward<float>& f);
void batch_norm_forward(Isa isa, const BatchNormArgs<double>& a, const BatchNormForward<double>& f);
void batch_norm_backward(Isa isa, const BatchNormArgs<float>& a, const BatchNormGrads<float>& g);
void batch_norm_backward(Isa isa, const BatchNormArgs<double>& a, const BatchNormGrads<double>& g);

}  // namespace fastnn
