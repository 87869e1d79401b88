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

}  // namespace fastnn::FASTNN_CUDA_NS
