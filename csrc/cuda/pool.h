// The CUDA pooling family (2-D max and average pooling of C-contiguous (N, C, H, W) float32 arrays):
// declarations shared by pool.cu and its binding.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

// PyTorch's geometry: window (i, j) reads input rows i * stride_h - pad_h + a * dilation_h, a = 0 .. kernel_h - 1
// (and the same for columns); taps outside the input are padding (-inf for max, 0 for average).
struct Pool2dGeometry {
  std::int64_t planes;  // N * C
  std::int64_t in_h, in_w, out_h, out_w;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

struct MaxPool2dArgs {
  Pool2dGeometry g;
  const float* x;        // (planes, in_h, in_w)
  float* y;              // (planes, out_h, out_w)
  std::int32_t* argmax;  // (planes, out_h, out_w) flat in-plane input index ih * in_w + iw, -1 for a window
                         // with no input tap; nullptr: not written
};

struct MaxPool2dBackwardArgs {
  Pool2dGeometry g;
  const float* grad_out;       // (planes, out_h, out_w)
  const std::int32_t* argmax;  // max_pool2d_f32's argmax for the same geometry
  float* grad_in;              // (planes, in_h, in_w), every element written
};

struct AvgPool2dArgs {
  Pool2dGeometry g;  // dilation 1
  const float* in;   // forward: x (planes, in_h, in_w); backward: grad_out (planes, out_h, out_w)
  float* out;        // forward: y; backward: grad_in, every element written
  bool count_include_pad;
  std::int64_t divisor_override;  // 0: none
};

// Max over each window by PyTorch's rule (taps in row-major order; a tap wins when it is greater than the best
// so far or NaN, padding never), and its argmax.
void max_pool2d_f32(const MaxPool2dArgs& a, int device, cudaStream_t stream);
// grad_in[p] = sum of grad_out over the windows whose argmax is p: a gather over the windows that can contain
// each input position (deterministic, no atomics).
void max_pool2d_backward_f32(const MaxPool2dBackwardArgs& a, int device, cudaStream_t stream);
// Sum of each window's input values (row-major taps) over its divisor.
void avg_pool2d_f32(const AvgPool2dArgs& a, int device, cudaStream_t stream);
// grad_in[p] = sum over the windows containing p of grad_out / divisor (a gather, deterministic).
void avg_pool2d_backward_f32(const AvgPool2dArgs& a, int device, cudaStream_t stream);

}  // namespace fastnn::FASTNN_CUDA_NS
