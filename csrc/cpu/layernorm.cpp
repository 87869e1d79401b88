// LayerNorm forward and backward, compiled once per ISA level.
//
// Forward, per row (one thread each): mean, then the sum of squared deviations (two passes: no
// cancellation when |mean| >> std, and the second pass reads the row from L1, a 1024-wide row being
// 4 KB), then y = (x - mean) * rstd * w + b (x*rstd - mean*rstd would save an op but cancels:
// a 1-wide row came out 1e-5 instead of 0 at rstd = 1/sqrt(eps); the pass is memory-bound anyway).
//
// Backward, per row: with xhat = (x - mean) * rstd and gw = g * w,
//   dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
// (pass 1 takes the two means, pass 2 writes dx from L1), while the row's g * xhat and g are added
// into its row block's dweight/dbias partials. Blocks depend only on the row count (at most 64
// blocks, <= 64 * 2 * cols partial values, 512 KB at cols = 1024), threads take whole blocks, and the
// partials are summed in block order: bitwise the same for any thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "fastnn/aligned_buffer.h"
#include "fastnn/layernorm.h"
#include "fastnn/threading.h"
#include "fastnn/vec_math.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace vec;

constexpr int64_t kMaxRowBlocks = 64;
// Fewer rows per block than this and zeroing + summing the partials (2 * cols values per block) costs
// more than the rows themselves.
constexpr int64_t kMinRowsPerBlock = 16;

template <typename T>
inline T row_sum_sq_dev(const T* x, int64_t n, T mean) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V m = splat<V>(mean);
  V s0{}, s1{}, s2{}, s3{};
  auto sq = [&](const V& v) { return (v - m) * (v - m); };
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    s0 += sq(loadu<V>(x + j)), s1 += sq(loadu<V>(x + j + L));
    s2 += sq(loadu<V>(x + j + 2 * L)), s3 += sq(loadu<V>(x + j + 3 * L));
  }
  for (; j + L <= n; j += L) s0 += sq(loadu<V>(x + j));
  if (j < n) s1 += sq(load_partial(x + j, n - j, mean));  // mean in the unused lanes: they add 0
  return hsum((s0 + s1) + (s2 + s3));
}

// The row's mean. The plain sum overflows on rows of huge values (a row of 3.4e38 gave inf, then
// inf - inf = NaN everywhere); only then, the rescue: sum x * 2^-k with 2^k >= n (an exact scaling, and
// a sum that cannot overflow), divided by n and scaled back. Rows whose sum is finite pay one test.
template <typename T>
inline T row_mean(const T* x, int64_t n) {
  const T s = row_sum(x, n);
  if (std::isfinite(s)) return s / static_cast<T>(n);
  int k = 0;
  while ((int64_t(1) << k) < n) ++k;
  const T down = std::ldexp(T(1), -k);
  T acc = T(0);
  for (int64_t j = 0; j < n; ++j) acc += x[j] * down;  // inf or NaN in the row stays inf or NaN
  return std::ldexp(acc / static_cast<T>(n), k);
}

template <typename T, bool kW, bool kB>
void forward_rows(const LayerNormArgs<T>& a, T* y, T* mean_out, T* rstd_out) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const int64_t n = a.cols;
  const int nt = threads_for(8.0 * a.rows * n);
  parallel_range(a.rows, 1, nt, [&](int64_t i_begin, int64_t i_end) {
    for (int64_t i = i_begin; i < i_end; ++i) {
      const T* x = a.x + i * a.ld;
      T* yi = y + i * n;
      const T mean = row_mean(x, n);
      const T var = row_sum_sq_dev(x, n, mean) / static_cast<T>(n);
      const T rstd = static_cast<T>(1.0 / std::sqrt(static_cast<double>(var) + a.eps));
      mean_out[i] = mean;
      rstd_out[i] = rstd;
      const V vr = splat<V>(rstd), vm = splat<V>(mean);
      auto f = [&](const V& v, int64_t j, int64_t cnt) {
        V r = (v - vm) * vr;
        if (kW) r = r * (cnt == L ? loadu<V>(a.weight + j) : load_partial(a.weight + j, cnt, T(0)));
        if (kB) r = r + (cnt == L ? loadu<V>(a.bias + j) : load_partial(a.bias + j, cnt, T(0)));
        return r;
      };
      int64_t j = 0;
      for (; j + L <= n; j += L) storeu(yi + j, f(loadu<V>(x + j), j, L));
      if (j < n) store_partial(yi + j, f(load_partial(x + j, n - j, T(0)), j, n - j), n - j);
    }
  });
}

template <typename T>
void forward_impl(const LayerNormArgs<T>& a, T* y, T* mean, T* rstd) {
  if (a.weight && a.bias) return forward_rows<T, true, true>(a, y, mean, rstd);
  if (a.weight) return forward_rows<T, true, false>(a, y, mean, rstd);
  if (a.bias) return forward_rows<T, false, true>(a, y, mean, rstd);
  forward_rows<T, false, false>(a, y, mean, rstd);
}

// One row of the backward. pw/pb (the row block's dweight/dbias partials) may be null; next_x/next_g
// (the next row, or null) are prefetched during the second pass so the next row's first pass finds
// them in cache (the hardware streamer stops at each 4 KB row's page edge).
template <typename T, bool kW>
inline void backward_row(const T* x, const T* g, const T* w, int64_t n, T mean, T rstd, T* dx, T* pw, T* pb,
                         const T* next_x, const T* next_g) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V vr = splat<V>(rstd), vm = splat<V>(mean);
  const int64_t n_full = n / L * L;
  V c1{}, c2{};
  if (dx) {
    V s1a{}, s1b{}, s2a{}, s2b{};
    int64_t j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      V g0 = loadu<V>(g + j), g1 = loadu<V>(g + j + L);
      if (kW) g0 = g0 * loadu<V>(w + j), g1 = g1 * loadu<V>(w + j + L);
      s1a += g0, s1b += g1;
      s2a += g0 * ((loadu<V>(x + j) - vm) * vr), s2b += g1 * ((loadu<V>(x + j + L) - vm) * vr);
    }
    for (; j < n; j += L) {
      const int64_t cnt = std::min<int64_t>(L, n - j);
      V g0 = load_partial(g + j, cnt, T(0));
      if (kW) g0 = g0 * load_partial(w + j, cnt, T(0));
      s1a += g0;
      // mean in the unused lanes: xhat = 0 there (a 0 there made 0 * -inf = NaN on a row of 3.4e38)
      s2a += g0 * ((load_partial(x + j, cnt, mean) - vm) * vr);
    }
    const T inv_n = T(1) / static_cast<T>(n);
    c1 = splat<V>(rstd * hsum(s1a + s1b) * inv_n);
    c2 = splat<V>(rstd * hsum(s2a + s2b) * inv_n);
  }
  // Returns dx = rstd * gw - c1 - xhat * c2; adds g * xhat to pwv and g to pbv.
  auto step = [&](const V& gv, const V& xv, const V& wv, V& pwv, V& pbv) {
    const V xhat = (xv - vm) * vr;
    pwv += gv * xhat;
    pbv += gv;
    return vr * (kW ? gv * wv : gv) - c1 - xhat * c2;
  };
  int64_t j = 0;
  for (; j < n_full; j += L) {
    if (next_x) prefetch_lines<kVecBytes>(next_x + j), prefetch_lines<kVecBytes>(next_g + j);
    V pwv = pw ? loadu<V>(pw + j) : V{}, pbv = pb ? loadu<V>(pb + j) : V{};
    const V d = step(loadu<V>(g + j), loadu<V>(x + j), kW ? loadu<V>(w + j) : V{}, pwv, pbv);
    if (dx) storeu(dx + j, d);
    if (pw) storeu(pw + j, pwv);
    if (pb) storeu(pb + j, pbv);
  }
  if (j < n) {
    const int64_t cnt = n - j;
    V pwv = pw ? load_partial(pw + j, cnt, T(0)) : V{}, pbv = pb ? load_partial(pb + j, cnt, T(0)) : V{};
    const V d = step(load_partial(g + j, cnt, T(0)), load_partial(x + j, cnt, mean),
                     kW ? load_partial(w + j, cnt, T(0)) : V{}, pwv, pbv);
    if (dx) store_partial(dx + j, d, cnt);
    if (pw) store_partial(pw + j, pwv, cnt);
    if (pb) store_partial(pb + j, pbv, cnt);
  }
}

template <typename T>
void backward_impl(const LayerNormArgs<T>& a, const LayerNormGrads<T>& gr) {
  const int64_t n = a.cols;
  if (a.rows == 0 || n == 0) {
    for (int64_t j = 0; j < n; ++j) {
      if (gr.dweight) gr.dweight[j] = T(0);
      if (gr.dbias) gr.dbias[j] = T(0);
    }
    return;
  }
  const int64_t rows_per_block = std::max(kMinRowsPerBlock, (a.rows + kMaxRowBlocks - 1) / kMaxRowBlocks);
  const int64_t nblocks = (a.rows + rows_per_block - 1) / rows_per_block;
  const bool want_w = gr.dweight != nullptr, want_b = gr.dbias != nullptr;
  thread_local AlignedBuffer partial_buf;
  T* partial = (want_w || want_b) ? partial_buf.get<T>(static_cast<size_t>(nblocks) * 2 * n) : nullptr;
  const int nt = threads_for(10.0 * a.rows * n);
  {
    parallel_range(nblocks, 1, nt, [&](int64_t b_begin, int64_t b_end) {
      for (int64_t b = b_begin; b < b_end; ++b) {
        T* pw = want_w ? partial + b * 2 * n : nullptr;
        T* pb = want_b ? partial + b * 2 * n + n : nullptr;
        if (pw) std::fill(pw, pw + n, T(0));
        if (pb) std::fill(pb, pb + n, T(0));
        const int64_t i1 = std::min(a.rows, (b + 1) * rows_per_block);
        for (int64_t i = b * rows_per_block; i < i1; ++i) {
          const T* x = a.x + i * a.ld;
          const T* g = gr.grad_output + i * n;
          T* dx = gr.dx ? gr.dx + i * n : nullptr;
          const bool more = i + 1 < a.rows;
          const T* nx = more ? x + a.ld : nullptr;
          const T* ng = more ? g + n : nullptr;
          if (a.weight) backward_row<T, true>(x, g, a.weight, n, gr.mean[i], gr.rstd[i], dx, pw, pb, nx, ng);
          else backward_row<T, false>(x, g, nullptr, n, gr.mean[i], gr.rstd[i], dx, pw, pb, nx, ng);
        }
      }
    });
    if (partial) {
      // Column chunks of 256 values: each thread sums whole columns, in block order.
      const int64_t nchunks = (n + 255) / 256;
      parallel_range(nchunks, 1, nt, [&](int64_t c_begin, int64_t c_end) {
        for (int64_t c = c_begin; c < c_end; ++c) {
          const int64_t j0 = c * 256, j1 = std::min(n, j0 + 256);
          for (int k = 0; k < 2; ++k) {
            T* out = k == 0 ? gr.dweight : gr.dbias;
            if (!out) continue;
            for (int64_t j = j0; j < j1; ++j) out[j] = partial[k * n + j];
            for (int64_t b = 1; b < nblocks; ++b) {
              const T* p = partial + b * 2 * n + k * n;
              for (int64_t j = j0; j < j1; ++j) out[j] += p[j];
            }
          }
        }
      });
    }
  }
}

}  // namespace

void layer_norm_forward_f32(const LayerNormArgs<float>& a, float* y, float* mean, float* rstd) {
  forward_impl(a, y, mean, rstd);
}
void layer_norm_forward_f64(const LayerNormArgs<double>& a, double* y, double* mean, double* rstd) {
  forward_impl(a, y, mean, rstd);
}
void layer_norm_backward_f32(const LayerNormArgs<float>& a, const LayerNormGrads<float>& g) { backward_impl(a, g); }
void layer_norm_backward_f64(const LayerNormArgs<double>& a, const LayerNormGrads<double>& g) { backward_impl(a, g); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
