// The CUDA softmax family: softmax / log-softmax over the last dim and their backward, and the fused
// softmax + cross-entropy over class indices (forward keeps the per-row logsumexp, backward recomputes
// the softmax from it). Declarations shared by softmax.cu and its binding; the CPU twin is
// csrc/cpu/softmax_xent.cpp.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

// Rows of a C-contiguous (rows, cols) float32 array; rows * cols may be 0.
struct SoftmaxArgs {
  const float* x;
  float* y;
  std::int64_t rows, cols;
  bool log;
};
// y = exp(x - max) / sum, or (x - max) - log(sum) with log.
void softmax_last_f32(const SoftmaxArgs& a, int device, cudaStream_t stream);

struct SoftmaxBackwardArgs {
  const float* y;  // the forward's output
  const float* g;  // its gradient
  float* dx;
  std::int64_t rows, cols;
  bool log;
};
// dx = y * (g - sum(g * y)), or g - exp(y) * sum(g) with log.
void softmax_last_backward_f32(const SoftmaxBackwardArgs& a, int device, cudaStream_t stream);

// Cross-entropy of (rows, cols) logits against int64 class indices. A target outside [0, cols) that is not
// ignore_index lowers *bad (one int32 the caller sets to 2**31 - 1) to the first such row, atomically; that
// row's outputs are NaN. Ignored rows get loss = lse = 0 (forward) and dx = 0 (backward).
struct CrossEntropyArgs {
  const float* logits;
  const std::int64_t* target;
  std::int64_t rows, cols;
  std::int64_t ignore_index;
  double label_smoothing;  // in [0, 1]
  int* bad;
};
// loss_i = lse_i - (1 - s) x_it - (s / C) sum_c x_ic, from max and log(sum) in double as the CPU kernel.
void cross_entropy_rows_f32(const CrossEntropyArgs& a, float* loss, float* lse, int device, cudaStream_t stream);
// dx_i = g_i (exp(x_i - lse_i) - s / C) - g_i (1 - s) e_t with g_i = scale * grad_rows[i] (scale when null).
void cross_entropy_rows_backward_f32(const CrossEntropyArgs& a, const float* lse, const float* grad_rows,
                                     double scale, float* dx, int device, cudaStream_t stream);

}  // namespace fastnn::FASTNN_CUDA_NS
