// Softmax / log-softmax over the last dim, their backward, and fused softmax + cross-entropy: the twins of
// csrc/cpu/softmax_xent.cpp.
//
// A row belongs to a team: one warp for rows of up to 1024 columns (4 rows per 128-thread block, reduced
// with shuffles only), or one 512-thread block for longer rows (shuffles, then the 16 warp partials through
// shared memory). Each pass over the row reads it coalesced, as float4 when the row is 16-byte aligned and
// its length a multiple of 4; a second pass finds a warp's row in L1 (a 1024-column row is 4 KiB). Reductions run in a fixed order: the bits do not
// depend on the schedule.
//
// Numerics: max and sum(exp(x - max)) in float, taken in one pass (a running max whose sum is rescaled when
// the max grows: the forward reads its row once for cross-entropy, twice for softmax, which also writes);
// log-softmax is (x - max) - log(sum), never x - logsumexp. A NaN anywhere in a row makes its sum NaN, hence
// the whole row, and so does a max of +-inf, as in PyTorch and the CPU kernels. Cross-entropy keeps logsumexp
// per row, and its loss from log(sum) + (max - x_t) in double; the backward recomputes exp(x - lse), or for
// |lse| >= 32 (where lse's rounding would show) exp((x - max) - log(sum)) from the row's max and sum again.
#include <cmath>
#include <cstdint>

#include "fastnn/cuda/device.h"
#include "launch.h"
#include "softmax.h"
#include "vec4.cuh"
#include "warp_reduce.cuh"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kWarpRowsPerBlock = 4;
constexpr int kBlockThreads = 512;
constexpr std::int64_t kWarpMaxCols = 1024;  // longer rows get a block each

// kTeam threads work on a row: 32 (a warp, several rows per block) or kBlockThreads (one row per block).
template <int kTeam>
__device__ __forceinline__ int team_rank() {
  return kTeam == 32 ? static_cast<int>(threadIdx.x % 32) : static_cast<int>(threadIdx.x);
}
template <int kTeam>
__device__ __forceinline__ std::int64_t team_row() {
  return kTeam == 32 ? std::int64_t(blockIdx.x) * kWarpRowsPerBlock + threadIdx.x / 32 : std::int64_t(blockIdx.x);
}

enum class Reduce { sum, max };

template <Reduce kOp>
__device__ __forceinline__ float warp_reduce(float v) {
  return kOp == Reduce::sum ? warp_reduce_sum(v) : warp_reduce_max(v);
}

// The team's reduction of v; every thread of the team gets it.
template <int kTeam, Reduce kOp>
__device__ __forceinline__ float team_reduce(float v) {
  v = warp_reduce<kOp>(v);
  if constexpr (kTeam == 32) {
    return v;
  } else {
    constexpr int kWarps = kTeam / 32;
    FASTNN_SHARED(float, partials, [kWarps]);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partials[warp] = v;
    __syncthreads();  // barrier: warp partials
    const float identity = kOp == Reduce::sum ? 0.f : -INFINITY;
    v = warp_reduce<kOp>(lane < kWarps ? partials[lane] : identity);
    __syncthreads();  // partials may be overwritten by the next reduction
    return v;
  }
}

// A running (max, sum of exp(x - max)) over part of a row: one pass instead of two (the online softmax of
// Milakov & Gimelshein). s == 0 exactly while no element above -inf was seen (after one, s >= 1), which
// keeps -inf - -inf (NaN) out of the rescaling; a row whose max ends at +-inf is NaN (finish()), as the
// two-pass formula gives, and a NaN element makes s NaN.
struct MaxSum {
  float m, s;
};

__device__ __forceinline__ float rescaled(const MaxSum& a, float m) { return a.s == 0.f ? 0.f : a.s * expf(a.m - m); }

__device__ __forceinline__ void max_sum_add(MaxSum& a, float v) {
  if (v > a.m) {
    a.s = rescaled(a, v) + 1.f;
    a.m = v;
  } else if (v != -INFINITY) {
    a.s += expf(v - a.m);
  }
}

__device__ __forceinline__ MaxSum max_sum_combine(const MaxSum& a, const MaxSum& b) {
  const float m = fmaxf(a.m, b.m);
  return MaxSum{m, rescaled(a, m) + rescaled(b, m)};  // symmetric: both lanes of a butterfly agree
}

__device__ __forceinline__ float max_sum_finish(const MaxSum& a) {
  return (a.m == INFINITY || a.m == -INFINITY) ? NAN : a.s;
}

// The team's combined (max, sum); every thread of the team gets it.
template <int kTeam>
__device__ __forceinline__ MaxSum team_reduce_max_sum(MaxSum v) {
  for (int o = 16; o > 0; o >>= 1) {
    const MaxSum w{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = max_sum_combine(v, w);
  }
  if constexpr (kTeam == 32) {
    return v;
  } else {
    constexpr int kWarps = kTeam / 32;
    FASTNN_SHARED(float, partials, [2][kWarps]);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) {
      partials[0][warp] = v.m;
      partials[1][warp] = v.s;
    }
    __syncthreads();  // barrier: max-sum partials
    v = lane < kWarps ? MaxSum{partials[0][lane], partials[1][lane]} : MaxSum{-INFINITY, 0.f};
    for (int o = 16; o > 0; o >>= 1) {
      const MaxSum w{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
      v = max_sum_combine(v, w);
    }
    __syncthreads();  // partials may be overwritten by the next reduction
    return v;
  }
}

// f(c, a[c], b[c]) for the team's share of the columns (b may be null: f gets 0 for it).
template <int kTeam, class F>
__device__ __forceinline__ void for_cols(const float* a, const float* b, std::int64_t cols, F&& f) {
  const int r = team_rank<kTeam>();
  if ((cols & 3) == 0 && vec4_aligned(a) && (!b || vec4_aligned(b))) {
    const Vec4* a4 = reinterpret_cast<const Vec4*>(a);
    const Vec4* b4 = reinterpret_cast<const Vec4*>(b);
    for (std::int64_t i = r; i < cols / 4; i += kTeam) {
      const Vec4 u = a4[i];
      const Vec4 w = b ? b4[i] : Vec4{0.f, 0.f, 0.f, 0.f};
      f(4 * i, u.x, w.x);
      f(4 * i + 1, u.y, w.y);
      f(4 * i + 2, u.z, w.z);
      f(4 * i + 3, u.w, w.w);
    }
  } else {
    for (std::int64_t c = r; c < cols; c += kTeam) f(c, a[c], b ? b[c] : 0.f);
  }
}

// y[c] = f(c, a[c], b[c]) over the team's columns (b may be null).
template <int kTeam, class F>
__device__ __forceinline__ void map_cols(const float* a, const float* b, float* y, std::int64_t cols, F&& f) {
  const int r = team_rank<kTeam>();
  if ((cols & 3) == 0 && vec4_aligned(a) && (!b || vec4_aligned(b)) && vec4_aligned(y)) {
    const Vec4* a4 = reinterpret_cast<const Vec4*>(a);
    const Vec4* b4 = reinterpret_cast<const Vec4*>(b);
    Vec4* y4 = reinterpret_cast<Vec4*>(y);
    for (std::int64_t i = r; i < cols / 4; i += kTeam) {
      const Vec4 u = a4[i];
      const Vec4 w = b ? b4[i] : Vec4{0.f, 0.f, 0.f, 0.f};
      y4[i] = Vec4{f(4 * i, u.x, w.x), f(4 * i + 1, u.y, w.y), f(4 * i + 2, u.z, w.z), f(4 * i + 3, u.w, w.w)};
    }
  } else {
    for (std::int64_t c = r; c < cols; c += kTeam) y[c] = f(c, a[c], b ? b[c] : 0.f);
  }
}

// Fills the team's columns of y with v.
template <int kTeam>
__device__ __forceinline__ void fill_cols(float* y, std::int64_t cols, float v) {
  for (std::int64_t c = team_rank<kTeam>(); c < cols; c += kTeam) y[c] = v;
}

template <int kTeam>
__global__ void __launch_bounds__(kTeam == 32 ? 32 * kWarpRowsPerBlock : kBlockThreads)
    softmax_kernel(SoftmaxArgs a) {
  const std::int64_t row = team_row<kTeam>();
  if (row >= a.rows) return;  // whole warps (warp teams) or no thread (block teams) leave here
  const float* x = a.x + row * a.cols;
  float* y = a.y + row * a.cols;
  MaxSum ms{-INFINITY, 0.f};
  for_cols<kTeam>(x, nullptr, a.cols, [&](std::int64_t, float v, float) { max_sum_add(ms, v); });
  ms = team_reduce_max_sum<kTeam>(ms);
  const float m = ms.m, s = max_sum_finish(ms);
  if (a.log) {
    const float log_sum = logf(s);
    map_cols<kTeam>(x, nullptr, y, a.cols, [=](std::int64_t, float v, float) { return (v - m) - log_sum; });
  } else {
    map_cols<kTeam>(x, nullptr, y, a.cols, [=](std::int64_t, float v, float) { return expf(v - m) / s; });
  }
}

template <int kTeam>
__global__ void __launch_bounds__(kTeam == 32 ? 32 * kWarpRowsPerBlock : kBlockThreads)
    softmax_backward_kernel(SoftmaxBackwardArgs a) {
  const std::int64_t row = team_row<kTeam>();
  if (row >= a.rows) return;
  const float* y = a.y + row * a.cols;
  const float* g = a.g + row * a.cols;
  float* dx = a.dx + row * a.cols;
  float s = 0.f;
  if (a.log) {
    for_cols<kTeam>(g, nullptr, a.cols, [&](std::int64_t, float gv, float) { s += gv; });
  } else {
    for_cols<kTeam>(g, y, a.cols, [&](std::int64_t, float gv, float yv) { s += gv * yv; });
  }
  s = team_reduce<kTeam, Reduce::sum>(s);
  if (a.log) {
    map_cols<kTeam>(g, y, dx, a.cols, [=](std::int64_t, float gv, float yv) { return gv - expf(yv) * s; });
  } else {
    map_cols<kTeam>(g, y, dx, a.cols, [=](std::int64_t, float gv, float yv) { return yv * (gv - s); });
  }
}

// The row's target when it counts; -1 for an ignored row, -2 (after flagging it) for one out of range.
template <int kTeam>
__device__ __forceinline__ std::int64_t row_target(const CrossEntropyArgs& a, std::int64_t row) {
  const std::int64_t t = a.target[row];
  if (t == a.ignore_index) return -1;
  if (t < 0 || t >= a.cols) {
    if (team_rank<kTeam>() == 0) atomicMin(a.bad, static_cast<int>(row));
    return -2;
  }
  return t;
}

template <int kTeam>
__global__ void __launch_bounds__(kTeam == 32 ? 32 * kWarpRowsPerBlock : kBlockThreads)
    cross_entropy_kernel(CrossEntropyArgs a, float* loss, float* lse) {
  const std::int64_t row = team_row<kTeam>();
  if (row >= a.rows) return;
  const std::int64_t t = row_target<kTeam>(a, row);  // the same for the whole team: the exits below are uniform
  if (t < 0) {
    if (team_rank<kTeam>() == 0) loss[row] = lse[row] = t == -1 ? 0.f : NAN;
    return;
  }
  const float* x = a.logits + row * a.cols;
  const bool smoothing = a.label_smoothing != 0.0;
  MaxSum ms{-INFINITY, 0.f};
  for_cols<kTeam>(x, nullptr, a.cols, [&](std::int64_t, float v, float) { max_sum_add(ms, v); });  // one read
  ms = team_reduce_max_sum<kTeam>(ms);
  const float m = ms.m, s = max_sum_finish(ms);
  float sz = 0.f;
  if (smoothing) {
    // sum_c (x_c - max), each difference rounded to float as torch's log_softmax is (a logit far below
    // the max gives -inf where torch's smoothed loss is inf); the second read finds a warp's row in L1.
    for_cols<kTeam>(x, nullptr, a.cols, [&](std::int64_t, float v, float) { sz += v - m; });
    sz = team_reduce<kTeam, Reduce::sum>(sz);
  }
  if (team_rank<kTeam>() == 0) {
    // The loss as log(sum) + (max - x_t) in double, the difference first: m + log(sum) - x_t rounded
    // log(sum) away against a large max (all logits at 3.4e38 gave 0, not log C).
    const double log_sum = log(static_cast<double>(s));
    lse[row] = static_cast<float>(static_cast<double>(m) + log_sum);
    double l = log_sum + (1.0 - a.label_smoothing) * (static_cast<double>(m) - static_cast<double>(x[t]));
    if (smoothing) l -= a.label_smoothing / static_cast<double>(a.cols) * static_cast<double>(sz);
    loss[row] = static_cast<float>(l);
  }
}

template <int kTeam>
__global__ void __launch_bounds__(kTeam == 32 ? 32 * kWarpRowsPerBlock : kBlockThreads)
    cross_entropy_backward_kernel(CrossEntropyArgs a, const float* lse, const float* grad_rows, double scale,
                                  float* dx) {
  const std::int64_t row = team_row<kTeam>();
  if (row >= a.rows) return;
  float* d = dx + row * a.cols;
  const std::int64_t t = row_target<kTeam>(a, row);
  if (t < 0) {
    fill_cols<kTeam>(d, a.cols, t == -1 ? 0.f : NAN);
    return;
  }
  const double g = grad_rows ? scale * static_cast<double>(grad_rows[row]) : scale;
  const float ga = static_cast<float>(g);
  const float gb = static_cast<float>(-g * a.label_smoothing / static_cast<double>(a.cols));
  const double g_target = g * (1.0 - a.label_smoothing);
  const float* x = a.logits + row * a.cols;
  // softmax = exp(x - lse), one pass; but lse is rounded to float, and its ulp is the softmax's relative
  // error (5-30% at logits of 1e6-1e7). From |lse| >= 32 (an error above 1e-6) the row takes its max and
  // sum again, exactly (one more read: large logits only), and uses exp((x - max) - log(sum)). The test
  // is on lse[row], the same for the whole team: the reductions below are uniform.
  float m = lse[row], l = 0.f;
  if (fabsf(m) >= 32.f) {
    MaxSum ms{-INFINITY, 0.f};
    for_cols<kTeam>(x, nullptr, a.cols, [&](std::int64_t, float v, float) { max_sum_add(ms, v); });
    ms = team_reduce_max_sum<kTeam>(ms);
    m = ms.m;
    l = logf(max_sum_finish(ms));
  }
  // dx = g * softmax - g * s / C everywhere, then the target's -g * (1 - s) in double.
  map_cols<kTeam>(x, nullptr, d, a.cols, [=](std::int64_t c, float v, float) {
    const float r = ga * expf((v - m) - l) + gb;
    return c == t ? static_cast<float>(static_cast<double>(r) - g_target) : r;
  });
}

// Launches kernel<32> (warp teams) or kernel<kBlockThreads> (block teams) over the rows, by name (the
// emulator reports errors under the launched expression's text).
#define FASTNN_LAUNCH_ROWS(rows, cols, stream, kernel, ...)                                                  \
  do {                                                                                                       \
    if ((cols) <= kWarpMaxCols) {                                                                            \
      FASTNN_LAUNCH(blocks_for((rows), kWarpRowsPerBlock), 32 * kWarpRowsPerBlock, 0, (stream), kernel<32>)( \
          __VA_ARGS__);                                                                                      \
    } else {                                                                                                 \
      FASTNN_LAUNCH(static_cast<unsigned>(rows), kBlockThreads, 0, (stream), kernel<kBlockThreads>)(__VA_ARGS__); \
    }                                                                                                        \
  } while (0)

}  // namespace

void softmax_last_f32(const SoftmaxArgs& a, int device, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return;
  DeviceGuard guard(device);
  FASTNN_LAUNCH_ROWS(a.rows, a.cols, stream, softmax_kernel, a);
  check_launch("softmax_last_f32");
}

void softmax_last_backward_f32(const SoftmaxBackwardArgs& a, int device, cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0) return;
  DeviceGuard guard(device);
  FASTNN_LAUNCH_ROWS(a.rows, a.cols, stream, softmax_backward_kernel, a);
  check_launch("softmax_last_backward_f32");
}

void cross_entropy_rows_f32(const CrossEntropyArgs& a, float* loss, float* lse, int device, cudaStream_t stream) {
  if (a.rows == 0) return;
  DeviceGuard guard(device);
  FASTNN_LAUNCH_ROWS(a.rows, a.cols, stream, cross_entropy_kernel, a, loss, lse);
  check_launch("cross_entropy_rows_f32");
}

void cross_entropy_rows_backward_f32(const CrossEntropyArgs& a, const float* lse, const float* grad_rows,
                                     double scale, float* dx, int device, cudaStream_t stream) {
  if (a.rows == 0) return;
  DeviceGuard guard(device);
  FASTNN_LAUNCH_ROWS(a.rows, a.cols, stream, cross_entropy_backward_kernel, a, lse, grad_rows, scale, dx);
  check_launch("cross_entropy_rows_backward_f32");
}

}  // namespace fastnn::FASTNN_CUDA_NS
