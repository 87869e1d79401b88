// 2-D convolution, NCHW, as implicit GEMMs on the GEMM's packed micro-kernel: the weights are packed
// once per call, and the patches are unfolded straight into the packed B panels, a cache block at a time
// (never a full im2col buffer). Forward, backward-data and backward-weight; stride, padding, dilation, groups.
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
// db (o) = sum of dy (n, o, pixels) over images and pixels, each channel summed in a fixed order.
template <typename T>
void conv2d_backward_bias(Isa isa, int64_t n, int64_t o, int64_t pixels, const T* dy, T* db);

// Defined for float and double (conv2d_dispatch.cpp picks the ISA level's kernel).
#define FASTNN_DECLARE_SPECIALIZATIONS(T)                                                          \
  template <>                                                                                      \
  void conv2d_forward<T>(Isa, const Conv2dShape&, const T*, const T*, const T*, T*);               \
  template <>                                                                                      \
  void conv2d_backward_data<T>(Isa, const Conv2dShape&, const T*, const T*, T*);                   \
  template <>                                                                                      \
  void conv2d_backward_weight<T>(Isa, const Conv2dShape&, const T*, const T*, T*);                 \
  template <>                                                                                      \
  void conv2d_backward_bias<T>(Isa, int64_t, int64_t, int64_t, const T*, T*);
FASTNN_DECLARE_SPECIALIZATIONS(float)
FASTNN_DECLARE_SPECIALIZATIONS(double)
#undef FASTNN_DECLARE_SPECIALIZATIONS

#define FASTNN_DECLARE_CONV2D(ns)                                                                         \
  namespace ns {                                                                                          \
  void conv2d_forward_f32(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y); \
  void conv2d_forward_f64(const Conv2dShape& s, const double* x, const double* w, const double* bias,      \
                          double* y);                                                                     \
  void conv2d_backward_data_f32(const Conv2dShape& s, const float* dy, const float* w, float* dx);         \
  void conv2d_backward_data_f64(const Conv2dShape& s, const double* dy, const double* w, double* dx);      \
  void conv2d_backward_weight_f32(const Conv2dShape& s, const float* dy, const float* x, float* dw);       \
  void conv2d_backward_weight_f64(const Conv2dShape& s, const double* dy, const double* x, double* dw);    \
  void conv2d_backward_bias_f32(int64_t n, int64_t o, int64_t pixels, const float* dy, float* db);        \
  void conv2d_backward_bias_f64(int64_t n, int64_t o, int64_t pixels, const double* dy, double* db);      \
  }
FASTNN_DECLARE_CONV2D(generic)
FASTNN_DECLARE_CONV2D(avx2)
FASTNN_DECLARE_CONV2D(avx512)
#undef FASTNN_DECLARE_CONV2D

}  // namespace fastnn
