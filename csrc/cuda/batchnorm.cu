// Batch norm over C-contiguous (N, C, L) float32 arrays with float64 channel statistics: the twin of
// csrc/cpu/batchnorm.cpp and backend/composite/batchnorm.py.
//
// A channel of up to 4096 values (batch_norm_splits = 1) is one block's whole job: one launch reduces, derives
// the coefficients, and normalises it (for small batches the launches, not the bytes, are the cost). Larger
// channels are split into batch_norm_splits(N * L) contiguous pieces, one block each (grid: channels x
// splits, so even a few channels fill the GPU), then a per-channel pass and an elementwise pass follow.
// Blocks have 32 to 256 threads by the piece's size.
// Each thread sums its values in float64 while stepping through the channel's rows without a division per
// element; the block combines its threads by a shuffle butterfly per warp and warp 0 over the warps' sums
// in shared memory, and writes one partial sum per (channel, split). (N, C) input (L = 1) has its own
// layout, 32 channels per block across each row, so its reads stay coalesced. A one-thread-per-channel
// pass adds the splits in order and derives the channel's coefficients. Every sum runs in a fixed order
// (the block sizes and splits are functions of the shape alone): results are bitwise the same on every run
// and schedule, with no atomics. Training takes the variance in a second pass, as squared deviations from
// the mean (no E[x^2] - E[x]^2 cancellation when |mean| >> std). The elementwise passes (y, dx) step
// through channels the same way and use float4 loads and stores when L % 4 == 0 and the arrays are
// 16-byte aligned.
#include <cmath>
#include <cstdint>

#include "batchnorm.h"
#include "fastnn/cuda/device.h"
#include "launch.h"
#include "vec4.cuh"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kMaxThreads = 256;  // the reduction blocks: up to 8 warps,
constexpr int kMaxWarps = kMaxThreads / 32;
constexpr int kItemsPerThread = 8;  // fewer for small channels (a few warps hold a 256-value channel)
constexpr int kApplyThreads = 256;
constexpr std::int64_t kMaxApplyBlocks = 1 << 16;

enum class Stat : int { sum, squares, grad };

template <int V>
struct Vec;
template <>
struct Vec<1> {
  using T = float;
  __device__ static void get(const T& v, float (&o)[1]) { o[0] = v; }
  __device__ static T make(const float (&o)[1]) { return o[0]; }
};
template <>
struct Vec<4> {
  using T = Vec4;  // float4 on the GPU (vec4.cuh)
  __device__ static void get(const T& v, float (&o)[4]) {
    o[0] = v.x;
    o[1] = v.y;
    o[2] = v.z;
    o[3] = v.w;
  }
  __device__ static T make(const float (&o)[4]) { return T{o[0], o[1], o[2], o[3]}; }
};

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum of s0 (and s1 when kTwo) over the block, in a fixed order; the result is valid in thread 0.
template <bool kTwo>
__device__ __forceinline__ void block_sum2(double& s0, double& s1) {
  FASTNN_SHARED(double, warp_sums, [2][kMaxWarps]);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  s0 = warp_sum(s0);
  if (kTwo) s1 = warp_sum(s1);
  if (lane == 0) {
    warp_sums[0][warp] = s0;
    warp_sums[1][warp] = s1;
  }
  __syncthreads();  // planted: bn block reduce
  if (warp == 0) {
    s0 = warp_sum(lane < warps ? warp_sums[0][lane] : 0.0);
    if (kTwo) s1 = warp_sum(lane < warps ? warp_sums[1][lane] : 0.0);
  }
}

// block_sum2 with the result in every thread. The second barrier also keeps the next call's writes of the
// warps' sums behind warp 0's reads of this call's.
template <bool kTwo>
__device__ __forceinline__ void block_sum_all(double& s0, double& s1) {
  FASTNN_SHARED(double, total, [2]);
  block_sum2<kTwo>(s0, s1);
  if (threadIdx.x == 0) {
    total[0] = s0;
    total[1] = s1;
  }
  __syncthreads();  // planted: bn broadcast
  s0 = total[0];
  s1 = total[1];
}

// Adds the V values at `at` to the sums: sum: s0 += x; squares: s0 += (x - m)^2; grad: s0 += g, s1 += g * (x - m),
// with x - m in float (the composite's centred x) and the products and sums in double.
template <Stat kStat, int V>
__device__ __forceinline__ void accumulate(const typename Vec<V>::T* xv, const typename Vec<V>::T* gv,
                                           std::int64_t at, float m, double& s0, double& s1) {
  float xs[V];
  Vec<V>::get(xv[at], xs);
  if (kStat == Stat::grad) {
    float gs[V];
    Vec<V>::get(gv[at], gs);
    for (int i = 0; i < V; ++i) {
      s0 += gs[i];
      s1 += static_cast<double>(gs[i]) * static_cast<double>(xs[i] - m);
    }
  } else {
    for (int i = 0; i < V; ++i) {
      if (kStat == Stat::sum) {
        s0 += xs[i];
      } else {
        const double d = xs[i] - m;
        s0 += d * d;
      }
    }
  }
}

// Calls f(at) for this thread's share (j = begin + threadIdx.x, stepping by blockDim.x) of values [begin, end)
// of channel c, a (rows, lv) strip of the (rows, channels, lv) array: `at` is the flat index in units of V.
// (row, col) advance per step without a division.
template <class F>
__device__ __forceinline__ void walk_channel(std::int64_t begin, std::int64_t end, std::int64_t lv,
                                             std::int64_t channels, std::int64_t c, F&& f) {
  std::int64_t j = begin + threadIdx.x;
  if (j >= end) return;
  std::int64_t row = j / lv, col = j % lv;
  const std::int64_t step_rows = blockDim.x / lv, step_cols = blockDim.x % lv;
  for (; j < end; j += blockDim.x) {
    f((row * channels + c) * lv + col);
    row += step_rows;
    col += step_cols;
    if (col >= lv) {
      col -= lv;
      ++row;
    }
  }
}

// The per-channel coefficients. Forward: y = (x - center) * scale + shift (center = the mean rounded to
// float in training, 0 in eval). Backward: dx = ((x - m) * c1 + g) * k + c0k (training), g * k (eval).
struct ForwardCoef {
  float center, scale, shift;
};
struct BackwardCoef {
  float m, c1, k, c0k;
};

// Training: from the channel's float64 mean and sum((x - m)^2); eval: from the running buffers. Writes the
// channel's mean, invstd (and var) outputs.
__device__ ForwardCoef forward_coef(const BatchNormForwardArgs& a, std::int64_t c, double mean, double squares) {
  const double w = a.weight ? a.weight[c] : 1.0, b = a.bias ? a.bias[c] : 0.0;
  double invstd, shift;
  float center;
  if (a.training) {
    const float m = static_cast<float>(mean);
    const double resid = mean - static_cast<double>(m);
    // sum((x - m)^2) = sum((x - mean)^2) + count * resid^2, as sum(x - mean) = 0
    double var = squares / static_cast<double>(a.n * a.l) - resid * resid;
    var = var < 0.0 ? 0.0 : var;  // rounding can make it a tiny negative; NaN stays NaN (xp.maximum's)
    invstd = 1.0 / sqrt(var + a.eps);
    a.var[c] = var;
    center = m;
    shift = b - resid * (w * invstd);  // scale = w * invstd, rounded as the composite rounds it
  } else {
    mean = a.running_mean[c];
    invstd = 1.0 / sqrt(static_cast<double>(a.running_var[c]) + a.eps);
    center = 0.f;
    shift = b - mean * (w * invstd);
  }
  a.mean[c] = mean;
  a.invstd[c] = invstd;
  return ForwardCoef{center, static_cast<float>(w * invstd), static_cast<float>(shift)};
}

// From sum(g) and sum(g * (x - m)) (unused in eval without weight or bias gradients); writes dweight, dbias.
__device__ BackwardCoef backward_coef(const BatchNormBackwardArgs& a, std::int64_t c, double gsum, double gdot_m) {
  const std::int64_t count = a.n * a.l;
  const double mean = a.mean[c], invstd = a.invstd[c];
  const float m = static_cast<float>(mean);
  const double resid = mean - static_cast<double>(m);
  const double k = (a.weight ? a.weight[c] : 1.0) * invstd;
  const double gdot = (gdot_m - resid * gsum) * invstd;  // sum(g * x-hat), x-hat = (x - m - resid) * invstd
  if (a.grad_weight) a.grad_weight[c] = static_cast<float>(gdot);
  if (a.grad_bias) a.grad_bias[c] = static_cast<float>(gsum);
  const double c1 = a.training ? -invstd * gdot / static_cast<double>(count) : 0.0;
  const double c0 = a.training ? -gsum / static_cast<double>(count) - resid * c1 : 0.0;
  return BackwardCoef{m, static_cast<float>(c1), static_cast<float>(k), static_cast<float>(c0 * k)};
}

template <int V>
__device__ __forceinline__ typename Vec<V>::T forward_value(const typename Vec<V>::T& xv, const ForwardCoef& k) {
  float xs[V], r[V];
  Vec<V>::get(xv, xs);
  for (int e = 0; e < V; ++e) r[e] = (xs[e] - k.center) * k.scale + k.shift;
  return Vec<V>::make(r);
}

template <bool kUseX, int V>
__device__ __forceinline__ typename Vec<V>::T backward_value(const typename Vec<V>::T* xv, const typename Vec<V>::T& gv,
                                                             std::int64_t at, const BackwardCoef& k) {
  float gs[V], r[V];
  Vec<V>::get(gv, gs);
  if (kUseX) {
    float xs[V];
    Vec<V>::get(xv[at], xs);
    for (int e = 0; e < V; ++e) r[e] = ((xs[e] - k.m) * k.c1 + gs[e]) * k.k + k.c0k;
  } else {
    for (int e = 0; e < V; ++e) r[e] = gs[e] * k.k;
  }
  return Vec<V>::make(r);
}

// ---- one block per channel (batch_norm_splits = 1) ----------------------------------------------------------

template <int V>
__global__ void bn_forward_channel_kernel(BatchNormForwardArgs a) {
  using VT = typename Vec<V>::T;
  FASTNN_SHARED(float, coef, [3]);
  const std::int64_t c = blockIdx.x, lv = a.l / V, count = a.n * lv;
  const VT* xv = reinterpret_cast<const VT*>(a.x);
  double mean = 0.0, squares = 0.0;
  if (a.training) {
    double s0 = 0.0, s1 = 0.0;
    walk_channel(0, count, lv, a.c, c, [&](std::int64_t at) { accumulate<Stat::sum, V>(xv, xv, at, 0.f, s0, s1); });
    block_sum_all<false>(s0, s1);
    mean = s0 / static_cast<double>(a.n * a.l);  // the split path's mean: one split, 0.0 + s0
    const float m = static_cast<float>(mean);
    s0 = 0.0;
    walk_channel(0, count, lv, a.c, c, [&](std::int64_t at) { accumulate<Stat::squares, V>(xv, xv, at, m, s0, s1); });
    block_sum2<false>(s0, s1);
    squares = s0;
  }
  if (threadIdx.x == 0) {
    const ForwardCoef k = forward_coef(a, c, mean, squares);
    coef[0] = k.center;
    coef[1] = k.scale;
    coef[2] = k.shift;
  }
  __syncthreads();  // planted: bn channel coefficients
  const ForwardCoef k{coef[0], coef[1], coef[2]};
  VT* yv = reinterpret_cast<VT*>(a.y);
  walk_channel(0, count, lv, a.c, c, [&](std::int64_t at) { yv[at] = forward_value<V>(xv[at], k); });
}

template <bool kUseX, int V>
__global__ void bn_backward_channel_kernel(BatchNormBackwardArgs a) {
  using VT = typename Vec<V>::T;
  FASTNN_SHARED(float, coef, [4]);
  const std::int64_t c = blockIdx.x, lv = a.l / V, count = a.n * lv;
  const VT* xv = reinterpret_cast<const VT*>(a.x);
  const VT* gv = reinterpret_cast<const VT*>(a.grad_out);
  double s0 = 0.0, s1 = 0.0;
  if (a.training || a.grad_weight || a.grad_bias) {
    const float m = static_cast<float>(a.mean[c]);
    walk_channel(0, count, lv, a.c, c, [&](std::int64_t at) { accumulate<Stat::grad, V>(xv, gv, at, m, s0, s1); });
    block_sum2<true>(s0, s1);
  }
  if (threadIdx.x == 0) {
    const BackwardCoef k = backward_coef(a, c, s0, s1);
    coef[0] = k.m;
    coef[1] = k.c1;
    coef[2] = k.k;
    coef[3] = k.c0k;
  }
  if (!a.grad_in) return;  // the same for every thread of the launch: no barrier below is skipped by some
  __syncthreads();  // planted: bn channel backward coefficients
  const BackwardCoef k{coef[0], coef[1], coef[2], coef[3]};
  VT* ov = reinterpret_cast<VT*>(a.grad_in);
  walk_channel(0, count, lv, a.c, c, [&](std::int64_t at) { ov[at] = backward_value<kUseX, V>(xv, gv[at], at, k); });
}

// ---- channels in splits: partial sums, a per-channel pass, an elementwise pass --------------------------------

// One (channel, split) block: the split's share of the channel's N * L values, in units of V floats.
// sum: (sum x, -); squares: (sum (x - m)^2, -); grad: (sum g, sum g * (x - m)); m is mean[c] rounded to float.
template <Stat kStat, int V>
__global__ void bn_partial_kernel(const float* __restrict__ x, const float* __restrict__ g,
                                  const double* __restrict__ mean, double* __restrict__ partial, std::int64_t n,
                                  std::int64_t channels, std::int64_t l, std::int64_t splits) {
  using VT = typename Vec<V>::T;
  const std::int64_t c = blockIdx.x, split = blockIdx.y;
  const std::int64_t lv = l / V, count = n * lv;
  const std::int64_t chunk = (count + splits - 1) / splits;
  const std::int64_t begin = split * chunk, end = begin + chunk < count ? begin + chunk : count;
  const float m = kStat == Stat::sum ? 0.f : static_cast<float>(mean[c]);
  const VT* xv = reinterpret_cast<const VT*>(x);
  const VT* gv = reinterpret_cast<const VT*>(g);
  double s0 = 0.0, s1 = 0.0;
  walk_channel(begin, end, lv, channels, c, [&](std::int64_t at) { accumulate<kStat, V>(xv, gv, at, m, s0, s1); });
  block_sum2<kStat == Stat::grad>(s0, s1);
  if (threadIdx.x == 0) {
    partial[c * splits + split] = s0;
    partial[(channels + c) * splits + split] = s1;
  }
}

// L == 1 ((N, C) input, where a block per channel would read one float per 32-byte sector): a block holds
// 32 consecutive channels (threadIdx.x, so each row's read is one coalesced 128-byte line) and 8 row lanes
// (threadIdx.y) stepping through the split's rows; the lanes' sums meet in shared memory in a fixed order.
constexpr int kColChannels = 32, kColRows = 8;

template <Stat kStat>
__global__ void bn_partial_cols_kernel(const float* __restrict__ x, const float* __restrict__ g,
                                       const double* __restrict__ mean, double* __restrict__ partial, std::int64_t n,
                                       std::int64_t channels, std::int64_t splits) {
  FASTNN_SHARED(double, lane_sums, [2][kColRows][kColChannels]);
  const std::int64_t c = std::int64_t(blockIdx.x) * kColChannels + threadIdx.x, split = blockIdx.y;
  const std::int64_t chunk = (n + splits - 1) / splits;
  const std::int64_t begin = split * chunk, end = begin + chunk < n ? begin + chunk : n;
  double s0 = 0.0, s1 = 0.0;
  if (c < channels) {
    const float m = kStat == Stat::sum ? 0.f : static_cast<float>(mean[c]);
    for (std::int64_t row = begin + threadIdx.y; row < end; row += kColRows)
      accumulate<kStat, 1>(x, g, row * channels + c, m, s0, s1);
  }
  lane_sums[0][threadIdx.y][threadIdx.x] = s0;
  lane_sums[1][threadIdx.y][threadIdx.x] = s1;
  __syncthreads();  // planted: bn column reduce
  if (threadIdx.y == 0 && c < channels) {
    double t0 = 0.0, t1 = 0.0;
    for (int r = 0; r < kColRows; ++r) {
      t0 += lane_sums[0][r][threadIdx.x];
      t1 += lane_sums[1][r][threadIdx.x];
    }
    partial[c * splits + split] = t0;
    partial[(channels + c) * splits + split] = t1;
  }
}

__device__ __forceinline__ double split_sum(const double* partial, std::int64_t c, std::int64_t splits) {
  double s = 0.0;
  for (std::int64_t i = 0; i < splits; ++i) s += partial[c * splits + i];
  return s;
}

__global__ void bn_mean_kernel(const double* __restrict__ partial, double* __restrict__ mean, std::int64_t channels,
                               std::int64_t splits, std::int64_t count) {
  const std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < channels) mean[c] = split_sum(partial, c, splits) / static_cast<double>(count);
}

// The coefficients into `coef` (4 * C doubles after the partial sums, each holding a float): forward
// [center | scale | shift | -], backward [m | c1 | k | c0k].
__global__ void bn_forward_coef_kernel(BatchNormForwardArgs a, std::int64_t splits) {
  const std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= a.c) return;
  const ForwardCoef k =
      forward_coef(a, c, a.training ? a.mean[c] : 0.0, a.training ? split_sum(a.work, c, splits) : 0.0);
  double* coef = a.work + 2 * a.c * splits;
  coef[c] = k.center;
  coef[a.c + c] = k.scale;
  coef[2 * a.c + c] = k.shift;
}

__global__ void bn_backward_coef_kernel(BatchNormBackwardArgs a, std::int64_t splits) {
  const std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= a.c) return;
  if (a.n * a.l == 0) {  // nothing reduced: zero gradients, as the composite's
    if (a.grad_weight) a.grad_weight[c] = 0.f;
    if (a.grad_bias) a.grad_bias[c] = 0.f;
    return;
  }
  const bool reduced = a.training || a.grad_weight || a.grad_bias;
  const BackwardCoef k = backward_coef(a, c, reduced ? split_sum(a.work, c, splits) : 0.0,
                                       reduced ? split_sum(a.work + a.c * splits, c, splits) : 0.0);
  double* coef = a.work + 2 * a.c * splits;
  coef[c] = k.m;
  coef[a.c + c] = k.c1;
  coef[2 * a.c + c] = k.k;
  coef[3 * a.c + c] = k.c0k;
}

// The elementwise pass over (n, c, l) in units of V floats, the channel tracked per step without dividing.
template <bool kForward, bool kUseX, int V>
__global__ void bn_apply_kernel(const float* __restrict__ x, const float* __restrict__ g,
                                const double* __restrict__ coef, float* __restrict__ out, std::int64_t total_v,
                                std::int64_t channels, std::int64_t lv) {
  using VT = typename Vec<V>::T;
  std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total_v) return;
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  std::int64_t col = i % lv, ch = (i / lv) % channels;
  const std::int64_t step_cols = stride % lv, step_ch = (stride / lv) % channels;
  const VT* xv = reinterpret_cast<const VT*>(x);
  const VT* gv = reinterpret_cast<const VT*>(g);
  VT* ov = reinterpret_cast<VT*>(out);
  for (; i < total_v; i += stride) {
    if (kForward) {
      const ForwardCoef k{static_cast<float>(coef[ch]), static_cast<float>(coef[channels + ch]),
                          static_cast<float>(coef[2 * channels + ch])};
      ov[i] = forward_value<V>(xv[i], k);
    } else {
      const BackwardCoef k{static_cast<float>(coef[ch]), static_cast<float>(coef[channels + ch]),
                           static_cast<float>(coef[2 * channels + ch]), static_cast<float>(coef[3 * channels + ch])};
      ov[i] = backward_value<kUseX, V>(xv, gv[i], i, k);
    }
    col += step_cols;
    std::int64_t carry = 0;
    if (col >= lv) {
      col -= lv;
      carry = 1;
    }
    ch += step_ch + carry;
    if (ch >= channels) ch -= channels;
  }
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

unsigned per_channel_grid(std::int64_t channels) { return blocks_for(channels, 128); }

// Threads per reduction block: a power of two from 32 to 256 giving each about kItemsPerThread of the
// block's values (a function of the shape alone, so the order of summation is too).
int reduce_threads(std::int64_t values) {
  int threads = 32;
  while (threads < kMaxThreads && std::int64_t(threads) * kItemsPerThread < values) threads *= 2;
  return threads;
}

template <Stat kStat>
void launch_partial(const float* x, const float* g, const double* mean, double* partial, std::int64_t n,
                    std::int64_t c, std::int64_t l, std::int64_t splits, bool vec4, cudaStream_t stream) {
  if (l == 1) {
    const dim3 grid(blocks_for(c, kColChannels), static_cast<unsigned>(splits));
    FASTNN_LAUNCH(grid, dim3(kColChannels, kColRows), 0, stream, bn_partial_cols_kernel<kStat>)(x, g, mean, partial,
                                                                                                 n, c, splits);
    return;
  }
  const dim3 grid(static_cast<unsigned>(c), static_cast<unsigned>(splits));
  const int threads = reduce_threads((n * (l / (vec4 ? 4 : 1)) + splits - 1) / splits);
  if (vec4)
    FASTNN_LAUNCH(grid, threads, 0, stream, bn_partial_kernel<kStat, 4>)(x, g, mean, partial, n, c, l, splits);
  else
    FASTNN_LAUNCH(grid, threads, 0, stream, bn_partial_kernel<kStat, 1>)(x, g, mean, partial, n, c, l, splits);
}

template <bool kForward, bool kUseX>
void launch_apply(const float* x, const float* g, const double* coef, float* out, std::int64_t n, std::int64_t c,
                  std::int64_t l, bool vec4, cudaStream_t stream) {
  const int v = vec4 ? 4 : 1;
  const std::int64_t total_v = n * c * l / v;
  std::int64_t blocks = (total_v + kApplyThreads - 1) / kApplyThreads;
  if (blocks > kMaxApplyBlocks) blocks = kMaxApplyBlocks;
  const unsigned grid = static_cast<unsigned>(blocks);
  if (vec4)
    FASTNN_LAUNCH(grid, kApplyThreads, 0, stream, bn_apply_kernel<kForward, kUseX, 4>)(x, g, coef, out, total_v, c,
                                                                                        l / 4);
  else
    FASTNN_LAUNCH(grid, kApplyThreads, 0, stream, bn_apply_kernel<kForward, kUseX, 1>)(x, g, coef, out, total_v, c,
                                                                                        l);
}

// One block per channel: a channel of one split, and not (N, C) input (whose channels are 4 bytes a row).
bool per_channel(std::int64_t n, std::int64_t l) { return n * l > 0 && l > 1 && batch_norm_splits(n * l) == 1; }

}  // namespace

void batch_norm_forward_f32(const BatchNormForwardArgs& a, int device, cudaStream_t stream) {
  if (a.c == 0) return;
  DeviceGuard guard(device);
  const std::int64_t count = a.n * a.l, splits = batch_norm_splits(count);
  const bool vec4 = a.l % 4 == 0 && aligned16(a.x) && aligned16(a.y);
  if (per_channel(a.n, a.l)) {
    const int threads = reduce_threads(count / (vec4 ? 4 : 1));
    if (vec4)
      FASTNN_LAUNCH(static_cast<unsigned>(a.c), threads, 0, stream, bn_forward_channel_kernel<4>)(a);
    else
      FASTNN_LAUNCH(static_cast<unsigned>(a.c), threads, 0, stream, bn_forward_channel_kernel<1>)(a);
    check_launch("batch_norm_forward_f32");
    return;
  }
  if (a.training) {
    launch_partial<Stat::sum>(a.x, nullptr, nullptr, a.work, a.n, a.c, a.l, splits, vec4, stream);
    FASTNN_LAUNCH(per_channel_grid(a.c), 128, 0, stream, bn_mean_kernel)(a.work, a.mean, a.c, splits, count);
    launch_partial<Stat::squares>(a.x, nullptr, a.mean, a.work, a.n, a.c, a.l, splits, vec4, stream);
  }
  FASTNN_LAUNCH(per_channel_grid(a.c), 128, 0, stream, bn_forward_coef_kernel)(a, splits);
  if (count > 0)
    launch_apply<true, true>(a.x, nullptr, a.work + 2 * a.c * splits, a.y, a.n, a.c, a.l, vec4, stream);
  check_launch("batch_norm_forward_f32");
}

void batch_norm_backward_f32(const BatchNormBackwardArgs& a, int device, cudaStream_t stream) {
  if (a.c == 0) return;
  DeviceGuard guard(device);
  const std::int64_t count = a.n * a.l, splits = batch_norm_splits(count);
  const bool vec4 = a.l % 4 == 0 && aligned16(a.x) && aligned16(a.grad_out) && aligned16(a.grad_in);
  if (per_channel(a.n, a.l)) {
    const unsigned grid = static_cast<unsigned>(a.c);
    const int threads = reduce_threads(count / (vec4 ? 4 : 1));
    if (a.training && vec4)
      FASTNN_LAUNCH(grid, threads, 0, stream, bn_backward_channel_kernel<true, 4>)(a);
    else if (a.training)
      FASTNN_LAUNCH(grid, threads, 0, stream, bn_backward_channel_kernel<true, 1>)(a);
    else if (vec4)
      FASTNN_LAUNCH(grid, threads, 0, stream, bn_backward_channel_kernel<false, 4>)(a);
    else
      FASTNN_LAUNCH(grid, threads, 0, stream, bn_backward_channel_kernel<false, 1>)(a);
    check_launch("batch_norm_backward_f32");
    return;
  }
  const bool reduce = a.training || a.grad_weight || a.grad_bias;
  if (reduce && count > 0)
    launch_partial<Stat::grad>(a.x, a.grad_out, a.mean, a.work, a.n, a.c, a.l, splits, vec4, stream);
  FASTNN_LAUNCH(per_channel_grid(a.c), 128, 0, stream, bn_backward_coef_kernel)(a, splits);
  if (a.grad_in && count > 0) {
    const double* coef = a.work + 2 * a.c * splits;
    if (a.training)
      launch_apply<false, true>(a.x, a.grad_out, coef, a.grad_in, a.n, a.c, a.l, vec4, stream);
    else
      launch_apply<false, false>(a.x, a.grad_out, coef, a.grad_in, a.n, a.c, a.l, vec4, stream);
  }
  check_launch("batch_norm_backward_f32");
}

}  // namespace fastnn::FASTNN_CUDA_NS
