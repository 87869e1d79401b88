// 2-D max and average pooling of C-contiguous (N, C, H, W) float32 arrays, forward and backward: the twin
// of csrc/cpu/pool.cpp with PyTorch's geometry and max rule.
//
// Forward: one thread per output element, consecutive threads along the output row (coalesced stores,
// loads at the stride apart). Backward: one thread per INPUT element, gathering from the few windows that
// can contain it (rows oh with oh * stride in [ih + pad - (k - 1) * dilation, ih + pad]), so every input
// gradient is written exactly once, in a fixed order, with no atomics and no zero-fill pass: results do not
// depend on the schedule even where windows overlap. Max pooling's backward reads the argmax the forward
// stored (the flat in-plane input index, as torch's indices), so each candidate window costs one int load.
#include <cmath>
#include <cstdint>

#include "fastnn/cuda/device.h"
#include "launch.h"
#include "pool.h"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr std::int64_t kMaxBlocks = 1 << 20;  // grid-stride beyond this: the loop order is fixed per element

// The geometry in the kernel's index type (int32 where every flat index fits: 32-bit division and modulo
// cost a fraction of 64-bit ones, and the flat index is split into (plane, row, column) per element).
template <typename I>
struct Geo {
  I planes, in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  __device__ explicit Geo(const Pool2dGeometry& g)
      : planes(I(g.planes)), in_h(I(g.in_h)), in_w(I(g.in_w)), out_h(I(g.out_h)), out_w(I(g.out_w)),
        kernel_h(I(g.kernel_h)), kernel_w(I(g.kernel_w)), stride_h(I(g.stride_h)), stride_w(I(g.stride_w)),
        pad_h(I(g.pad_h)), pad_w(I(g.pad_w)), dilation_h(I(g.dilation_h)), dilation_w(I(g.dilation_w)) {}
};

template <typename I>
__device__ __forceinline__ I first_index() {
  return I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x);
}
template <typename I>
__device__ __forceinline__ I grid_stride() {
  return I(gridDim.x) * I(blockDim.x);
}

// The range [lo, hi] of windows along one axis whose span [o * s - p, o * s - p + (k - 1) * d] holds i.
template <typename I>
__device__ __forceinline__ void windows_holding(I i, I k, I s, I p, I d, I out, I& lo, I& hi) {
  const I first = i + p - (k - 1) * d;
  lo = first > 0 ? (first + s - 1) / s : 0;
  hi = (i + p) / s;
  if (hi > out - 1) hi = out - 1;
}

template <typename I>
__global__ void max_pool2d_kernel(MaxPool2dArgs a) {
  const Geo<I> g(a.g);
  const I total = g.planes * g.out_h * g.out_w;
  for (I idx = first_index<I>(); idx < total; idx += grid_stride<I>()) {
    const I ow = idx % g.out_w, t = idx / g.out_w, oh = t % g.out_h, plane = t / g.out_h;
    const float* x = a.x + std::int64_t(plane) * g.in_h * g.in_w;
    const I h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    float best = -INFINITY;
    I arg = -1;
    for (I ka = 0; ka < g.kernel_h; ++ka) {
      const I ih = h0 + ka * g.dilation_h;
      if (ih < 0 || ih >= g.in_h) continue;
      for (I kb = 0; kb < g.kernel_w; ++kb) {
        const I iw = w0 + kb * g.dilation_w;
        if (iw < 0 || iw >= g.in_w) continue;
        const float v = x[ih * g.in_w + iw];
        // PyTorch's rule: the first input tap, then any greater value or NaN (so a NaN wins, the last one).
        if (arg < 0 || v > best || v != v) {
          best = v;
          arg = ih * g.in_w + iw;
        }
      }
    }
    a.y[idx] = best;
    if (a.argmax) a.argmax[idx] = static_cast<std::int32_t>(arg);
  }
}

template <typename I>
__global__ void max_pool2d_backward_kernel(MaxPool2dBackwardArgs a) {
  const Geo<I> g(a.g);
  const I total = g.planes * g.in_h * g.in_w;
  for (I idx = first_index<I>(); idx < total; idx += grid_stride<I>()) {
    const I iw = idx % g.in_w, t = idx / g.in_w, ih = t % g.in_h, plane = t / g.in_h;
    const std::int32_t self = static_cast<std::int32_t>(ih * g.in_w + iw);
    I oh_lo, oh_hi, ow_lo, ow_hi;
    windows_holding<I>(ih, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, g.out_h, oh_lo, oh_hi);
    windows_holding<I>(iw, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, g.out_w, ow_lo, ow_hi);
    const std::int64_t base = std::int64_t(plane) * g.out_h * g.out_w;
    float sum = 0.f;
    for (I oh = oh_lo; oh <= oh_hi; ++oh) {
      if ((ih + g.pad_h - oh * g.stride_h) % g.dilation_h != 0) continue;  // ih falls between this window's taps
      for (I ow = ow_lo; ow <= ow_hi; ++ow) {
        if ((iw + g.pad_w - ow * g.stride_w) % g.dilation_w != 0) continue;
        const std::int64_t o = base + oh * g.out_w + ow;
        if (a.argmax[o] == self) sum += a.grad_out[o];
      }
    }
    a.grad_in[idx] = sum;
  }
}

// The divisor of window (oh, ow): the override, or the window's size clipped to the padded input
// (count_include_pad) or to the input itself.
template <typename I>
__device__ __forceinline__ float avg_divisor(const AvgPool2dArgs& a, const Geo<I>& g, I oh, I ow) {
  if (a.divisor_override) return static_cast<float>(a.divisor_override);
  const I h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  I h1 = h0 + g.kernel_h, w1 = w0 + g.kernel_w;
  if (h1 > g.in_h + g.pad_h) h1 = g.in_h + g.pad_h;
  if (w1 > g.in_w + g.pad_w) w1 = g.in_w + g.pad_w;
  if (a.count_include_pad) return static_cast<float>(std::int64_t(h1 - h0) * (w1 - w0));
  const I rows = (h1 < g.in_h ? h1 : g.in_h) - (h0 > 0 ? h0 : 0);
  const I cols = (w1 < g.in_w ? w1 : g.in_w) - (w0 > 0 ? w0 : 0);
  return static_cast<float>(std::int64_t(rows) * cols);
}

template <typename I>
__global__ void avg_pool2d_kernel(AvgPool2dArgs a) {
  const Geo<I> g(a.g);
  const I total = g.planes * g.out_h * g.out_w;
  for (I idx = first_index<I>(); idx < total; idx += grid_stride<I>()) {
    const I ow = idx % g.out_w, t = idx / g.out_w, oh = t % g.out_h, plane = t / g.out_h;
    const float* x = a.in + std::int64_t(plane) * g.in_h * g.in_w;
    const I h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    const I ha = h0 > 0 ? h0 : 0, wa = w0 > 0 ? w0 : 0;
    const I hb = h0 + g.kernel_h < g.in_h ? h0 + g.kernel_h : g.in_h;
    const I wb = w0 + g.kernel_w < g.in_w ? w0 + g.kernel_w : g.in_w;
    float sum = 0.f;  // row-major taps, the composite's and the CPU kernel's order
    for (I ih = ha; ih < hb; ++ih)
      for (I iw = wa; iw < wb; ++iw) sum += x[ih * g.in_w + iw];
    a.out[idx] = sum / avg_divisor<I>(a, g, oh, ow);
  }
}

template <typename I>
__global__ void avg_pool2d_backward_kernel(AvgPool2dArgs a) {
  const Geo<I> g(a.g);
  const I total = g.planes * g.in_h * g.in_w;
  for (I idx = first_index<I>(); idx < total; idx += grid_stride<I>()) {
    const I iw = idx % g.in_w, t = idx / g.in_w, ih = t % g.in_h, plane = t / g.in_h;
    I oh_lo, oh_hi, ow_lo, ow_hi;
    windows_holding<I>(ih, g.kernel_h, g.stride_h, g.pad_h, 1, g.out_h, oh_lo, oh_hi);
    windows_holding<I>(iw, g.kernel_w, g.stride_w, g.pad_w, 1, g.out_w, ow_lo, ow_hi);
    const float* go = a.in + std::int64_t(plane) * g.out_h * g.out_w;
    float sum = 0.f;
    for (I oh = oh_lo; oh <= oh_hi; ++oh)
      for (I ow = ow_lo; ow <= ow_hi; ++ow) sum += go[oh * g.out_w + ow] / avg_divisor<I>(a, g, oh, ow);
    a.out[idx] = sum;
  }
}

// int32 indices when every flat index, plus one grid stride (at most kMaxBlocks * kThreads = 2**28), and
// every window coordinate stays below 2**31.
bool small(const Pool2dGeometry& g) {
  const std::int64_t lim = std::int64_t(1) << 30;
  const std::int64_t in = g.planes * g.in_h * g.in_w, out = g.planes * g.out_h * g.out_w;
  return in < lim && out < lim && g.in_h + 2 * g.pad_h + std::int64_t(g.kernel_h) * g.dilation_h < lim &&
         g.in_w + 2 * g.pad_w + std::int64_t(g.kernel_w) * g.dilation_w < lim && g.out_h * g.stride_h < lim &&
         g.out_w * g.stride_w < lim;
}

unsigned grid_for(std::int64_t total) {
  const std::int64_t blocks = (total + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

}  // namespace

void max_pool2d_f32(const MaxPool2dArgs& a, int device, cudaStream_t stream) {
  const std::int64_t total = a.g.planes * a.g.out_h * a.g.out_w;
  if (total == 0) return;
  DeviceGuard guard(device);
  if (small(a.g))
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, max_pool2d_kernel<std::int32_t>)(a);
  else
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, max_pool2d_kernel<std::int64_t>)(a);
  check_launch("max_pool2d_f32");
}

void max_pool2d_backward_f32(const MaxPool2dBackwardArgs& a, int device, cudaStream_t stream) {
  const std::int64_t total = a.g.planes * a.g.in_h * a.g.in_w;
  if (total == 0) return;
  DeviceGuard guard(device);
  if (small(a.g))
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, max_pool2d_backward_kernel<std::int32_t>)(a);
  else
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, max_pool2d_backward_kernel<std::int64_t>)(a);
  check_launch("max_pool2d_backward_f32");
}

void avg_pool2d_f32(const AvgPool2dArgs& a, int device, cudaStream_t stream) {
  const std::int64_t total = a.g.planes * a.g.out_h * a.g.out_w;
  if (total == 0) return;
  DeviceGuard guard(device);
  if (small(a.g))
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, avg_pool2d_kernel<std::int32_t>)(a);
  else
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, avg_pool2d_kernel<std::int64_t>)(a);
  check_launch("avg_pool2d_f32");
}

void avg_pool2d_backward_f32(const AvgPool2dArgs& a, int device, cudaStream_t stream) {
  const std::int64_t total = a.g.planes * a.g.in_h * a.g.in_w;
  if (total == 0) return;
  DeviceGuard guard(device);
  if (small(a.g))
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, avg_pool2d_backward_kernel<std::int32_t>)(a);
  else
    FASTNN_LAUNCH(grid_for(total), kThreads, 0, stream, avg_pool2d_backward_kernel<std::int64_t>)(a);
  check_launch("avg_pool2d_backward_f32");
}

}  // namespace fastnn::FASTNN_CUDA_NS
