// 2-D convolution, NCHW, as per-image implicit GEMMs on the packed GEMM (im2col of one image at a time,
// never of the whole batch). Forward, backward-data and backward-weight; stride, padding, dilation, groups.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

struct Conv2dShape {
  int64_t n, c, h, w;     // input
  int64_t o, kh, kw;      // weight (o, c / groups, kh, kw)
  int64_t sh, sw;         // stride
  int64_t ph, pw;         // zero padding, both sides
  int64_t dh, dw;         // dilation
  int64_t groups;
  int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
};

// y (n, o, oh, ow) = conv(x, w) + bias (bias may be null). All tensors C-contiguous.
template <typename T>
void conv2d_forward(Isa isa, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
// dx (n, c, h, w) from dy (n, o, oh, ow) and w.
template <typename T>
void conv2d_backward_data(Isa isa, const Conv2dShape& s, const T* dy, const T* w, T* dx);
// dw (o, c / groups, kh, kw) from dy and x. The sum over the batch runs in fixed chunks combined in a
// fixed order, so the result does not depend on the thread count.
template <typename T>
void conv2d_backward_weight(Isa isa, const Conv2dShape& s, const T* dy, const T* x, T* dw);

}  // namespace fastnn
