// The CUDA layer-norm family: declarations shared by layernorm.cu and its binding.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

struct LayerNormArgs {
  const float* x;
  const float* weight;  // nullptr: no affine weight
  const float* bias;    // nullptr: no bias
  float* y;
  float* mean;  // (rows,)
  float* rstd;  // (rows,)
  std::int64_t rows, cols;
  float eps;
};

// y = (x - mean) * rstd * weight + bias per row of a C-contiguous (rows, cols) array; cols >= 1.
void layer_norm_rows_f32(const LayerNormArgs& a, int device, cudaStream_t stream);

struct LayerNormBackwardArgs {
  const float* x;
  const float* g;       // the gradient of y
  const float* mean;    // (rows,), from the forward
  const float* rstd;    // (rows,)
  const float* weight;  // nullptr: no affine weight
  float* dx;            // each output nullptr when not wanted
  float* dweight;
  float* dbias;
  float* scratch;  // layer_norm_rows_backward_scratch(rows, cols) floats when dweight or dbias is wanted
  std::int64_t rows, cols;
};

// Floats of scratch the backward needs for dweight / dbias: per-strip partial column sums.
std::int64_t layer_norm_rows_backward_scratch(std::int64_t rows, std::int64_t cols);

// With xhat = (x - mean) * rstd and gw = g * weight: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) per
// row, dweight = sum over rows of g * xhat, dbias = sum of g (zeros when rows = 0), reduced in a fixed order.
void layer_norm_rows_backward_f32(const LayerNormBackwardArgs& a, int device, cudaStream_t stream);

}  // namespace fastnn::FASTNN_CUDA_NS
