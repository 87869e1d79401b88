// The CUDA batch-norm family (C-contiguous (N, C, L) float32 arrays, float64 channel statistics):
// declarations shared by batchnorm.cu and its binding.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

// The per-channel reductions run in `splits` blocks per channel (a function of N * L only, so the order of
// summation, and so the result, is the same on every GPU and every run), then one fixed-order pass per
// channel over the splits' partial sums.
inline std::int64_t batch_norm_splits(std::int64_t count) {
  const std::int64_t s = (count + 4095) / 4096;
  return s < 1 ? 1 : (s > 64 ? 64 : s);
}
// float64 scratch both directions need: 2 partial sums per (channel, split) and 4 coefficients per channel.
inline std::int64_t batch_norm_workspace(std::int64_t n, std::int64_t c, std::int64_t l) {
  return c * (2 * batch_norm_splits(n * l) + 4);
}

struct BatchNormForwardArgs {
  const float* x;             // (n, c, l)
  const float* weight;        // (c,) or nullptr (1)
  const float* bias;          // (c,) or nullptr (0)
  const float* running_mean;  // (c,); read in eval only
  const float* running_var;   // (c,); read in eval only
  float* y;                   // (n, c, l)
  double* mean;               // (c,) batch mean (training) or running_mean (eval)
  double* invstd;             // (c,) 1 / sqrt(var + eps)
  double* var;                // (c,) biased batch variance; training only
  double* work;               // batch_norm_workspace(n, c, l) doubles
  std::int64_t n, c, l;
  bool training;
  double eps;
};

struct BatchNormBackwardArgs {
  const float* grad_out;  // (n, c, l)
  const float* x;         // (n, c, l)
  const double* mean;     // (c,) the forward's
  const double* invstd;   // (c,) the forward's
  const float* weight;    // (c,) or nullptr (1)
  float* grad_in;         // (n, c, l) or nullptr: not wanted
  float* grad_weight;     // (c,) or nullptr
  float* grad_bias;       // (c,) or nullptr
  double* work;           // batch_norm_workspace(n, c, l) doubles
  std::int64_t n, c, l;
  bool training;
};

// backend/composite/batchnorm.py's batch_norm_forward: training takes the batch statistics (two passes:
// the mean, then the squared deviations from it), eval the running buffers; y = (x - m) * scale + shift with
// per-channel float32 scale and shift. The running buffers are not written.
void batch_norm_forward_f32(const BatchNormForwardArgs& a, int device, cudaStream_t stream);
// backend/composite/batchnorm.py's batch_norm_backward: one pass for sum(g) and sum(g * (x - m)) per channel,
// then dx = ((x - m) * c1 + g) * k + c0k (training) or g * k (eval), dweight, dbias.
void batch_norm_backward_f32(const BatchNormBackwardArgs& a, int device, cudaStream_t stream);

}  // namespace fastnn::FASTNN_CUDA_NS
