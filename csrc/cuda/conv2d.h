// The CUDA conv2d family (NCHW cross-correlation, PyTorch's semantics): declarations shared by conv2d.cu and its
// binding. All arrays are C-contiguous float32 device arrays; the binding checks shapes and parameters.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

struct Conv2dShape {
  int n, c, h, w;     // input (N, C, H, W)
  int o, kh, kw;      // weight (O, C/groups, KH, KW)
  int oh, ow;         // output (N, O, OH, OW)
  int sh, sw, ph, pw, dh, dw, groups;
};

// y = conv2d(x, w) + b; b may be nullptr.
void conv2d_forward_f32(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y, int device,
                        cudaStream_t stream);

// dx (N, C, H, W) from the output gradient g (N, O, OH, OW) and the weights.
void conv2d_backward_data_f32(const Conv2dShape& s, const float* g, const float* w, float* dx, int device,
                              cudaStream_t stream);

// How many slices of N*OH*OW the weight gradient is split into for this shape (1: no workspace needed).
int conv2d_backward_weight_f32_splits(const Conv2dShape& s);

// dw (O, C/groups, KH, KW) from g and x. With splits > 1, `workspace` holds splits * dw.size floats: slice k of the
// reduction writes its partial weight gradient there and a second pass adds the slices in order 0, 1, ...
// (the result depends on the split count, never on the schedule). splits == 1 needs no workspace.
void conv2d_backward_weight_f32(const Conv2dShape& s, const float* g, const float* x, float* dw, float* workspace,
                                int splits, int device, cudaStream_t stream);

// How many slices of N*OH*OW the bias gradient is split into (1: no workspace needed).
int conv2d_backward_bias_f32_splits(int n, int o, std::int64_t pixels);

// db[o] = sum of g[:, o] over N, OH, OW: a fixed-order reduction per channel; with splits > 1, per slice into
// `workspace` (splits * o floats), then the slices added in order.
void conv2d_backward_bias_f32(int n, int o, std::int64_t pixels, const float* g, float* db, float* workspace,
                              int splits, int device, cudaStream_t stream);

}  // namespace fastnn::FASTNN_CUDA_NS
