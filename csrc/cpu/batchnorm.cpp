// BatchNorm forward and backward, compiled once per ISA level (the math is stated in batchnorm.h).
//
// Two layouts of the same math, by the length l of a (n, c) row:
//
// - rows (l >= 32, this file): the unit is a block of <= 2048 values of one row. The forward's
//   statistics pass takes, per block, its sum s, then (from L1) the sums d of (x - mb) and q of
//   (x - mb)^2 about the block's own mean mb = s / len (in T); each channel adds its blocks in double:
//   mean = sum(len * mb + d) / count and M2 = sum(q + 2 (mb - mean) d + len (mb - mean)^2), the exact
//   split of the sum and of the squared deviations about the channel mean into block terms. So one read
//   of x gives a two-pass variance's accuracy (no E[x^2] - E[x]^2 cancellation at |mean| >> std), and
//   the output pass is the second and last read. Backward: per block sum(g) and sum(g * (x - m)), then
//   dx in a second pass.
// - columns (l < 32, batchnorm_columns.cpp): a row is too short to vectorise along, so x is n rows of
//   w = c * l columns summed in double across the rows.
//
// Units and the order their partial sums are added in depend only on the shape; threads take whole
// units, so every result is bitwise the same for any thread count. One OpenMP team runs all the passes.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "batchnorm_common.h"
#include "fastnn/threading.h"
#include "fastnn/vec_math.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace vec;
using batchnorm::Affine;
using batchnorm::GradConstants;
using batchnorm::Scratch;

constexpr int64_t kBlock = 2048;  // values per statistics block: 8 KB (float) / 16 KB (double) stays in L1
constexpr int64_t kRowPathMinL = 32;

// One block's s = sum(x), d = sum(x - mb), q = sum((x - mb)^2), mb = s / n (the second sweep reads L1).
template <typename T>
inline void block_moments(const T* x, int64_t n, T* s, T* d, T* q) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  *s = row_sum(x, n);
  const T mb = *s / static_cast<T>(n);
  const V vm = splat<V>(mb);
  V d0{}, d1{}, q0{}, q1{};
  int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    const V e0 = loadu<V>(x + j) - vm, e1 = loadu<V>(x + j + L) - vm;
    d0 += e0, d1 += e1;
    q0 += e0 * e0, q1 += e1 * e1;
  }
  for (; j < n; j += L) {
    const V e = load_partial(x + j, std::min<int64_t>(L, n - j), mb) - vm;  // mb in unused lanes: e = 0
    d0 += e;
    q0 += e * e;
  }
  *d = hsum(d0 + d1);
  *q = hsum(q0 + q1);
}

// y = (x - m) * a + b over one row (eval passes m = 0: then it is x * a + b).
template <typename T>
inline void affine_row(const T* x, T* y, int64_t n, T m, T a, T b) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V vm = splat<V>(m), va = splat<V>(a), vb = splat<V>(b);
  int64_t j = 0;
  for (; j + L <= n; j += L) storeu(y + j, (loadu<V>(x + j) - vm) * va + vb);
  if (j < n) store_partial(y + j, (load_partial(x + j, n - j, T(0)) - vm) * va + vb, n - j);
}

// One block's sum(g) and sum(g * (x - m)).
template <typename T>
inline void block_grad_moments(const T* x, const T* g, int64_t n, T m, T* gs, T* gd) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V vm = splat<V>(m);
  V s0{}, s1{}, p0{}, p1{};
  int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    const V g0 = loadu<V>(g + j), g1 = loadu<V>(g + j + L);
    s0 += g0, s1 += g1;
    p0 += g0 * (loadu<V>(x + j) - vm), p1 += g1 * (loadu<V>(x + j + L) - vm);
  }
  for (; j < n; j += L) {
    const int64_t cnt = std::min<int64_t>(L, n - j);
    const V g0 = load_partial(g + j, cnt, T(0));
    s0 += g0;
    p0 += g0 * (load_partial(x + j, cnt, m) - vm);
  }
  *gs = hsum(s0 + s1);
  *gd = hsum(p0 + p1);
}

// Training: dx = ((x - m) * c1 + g) * k + c0k; eval: dx = g * k.
template <typename T, bool kTrain>
inline void grad_row(const T* x, const T* g, T* dx, int64_t n, T m, T c1, T k, T c0k) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V vm = splat<V>(m), v1 = splat<V>(c1), vk = splat<V>(k), v0 = splat<V>(c0k);
  auto f = [&](const V& xv, const V& gv) { return kTrain ? ((xv - vm) * v1 + gv) * vk + v0 : gv * vk; };
  int64_t j = 0;
  for (; j + L <= n; j += L) storeu(dx + j, f(kTrain ? loadu<V>(x + j) : V{}, loadu<V>(g + j)));
  if (j < n) {
    const int64_t cnt = n - j;
    store_partial(dx + j, f(kTrain ? load_partial(x + j, cnt, T(0)) : V{}, load_partial(g + j, cnt, T(0))), cnt);
  }
}

// ---- rows layout ---------------------------------------------------------------------------------------

template <typename T>
void forward_rows(const BatchNormArgs<T>& a, const BatchNormForward<T>& f) {
  const int64_t c = a.c, l = a.l, rows = a.n * c, per_row = (l + kBlock - 1) / kBlock;
  const int64_t units = f.training ? rows * per_row : 0;
  Scratch s;
  const size_t o_s = s.reserve<T>(units), o_d = s.reserve<T>(units), o_q = s.reserve<T>(units);
  const size_t o_k = s.reserve<Affine<T>>(c);
  s.allocate();
  T *ps = s.at<T>(o_s), *pd = s.at<T>(o_d), *pq = s.at<T>(o_q);
  Affine<T>* kc = s.at<Affine<T>>(o_k);
  const double count = static_cast<double>(a.n * l);
  const int nt = threads_for((f.training ? 10.0 : 3.0) * rows * l);
  {
    parallel_range(units, 1, nt, [&](int64_t u_begin, int64_t u_end) {
      for (int64_t u = u_begin; u < u_end; ++u) {
        const int64_t j0 = u % per_row * kBlock;
        block_moments(a.x + u / per_row * l + j0, std::min(kBlock, l - j0), ps + u, pd + u, pq + u);
      }
    });
    parallel_range(c, 1, nt, [&](int64_t ch_begin, int64_t ch_end) {
      for (int64_t ch = ch_begin; ch < ch_end; ++ch) {
        double mean = 0.0, m2 = 0.0;
        if (f.training) {
          // A block's sum is len * mb + d exactly; d (small deviations) carries the rounding that s (a sum
          // of large values, when |mean| >> std) would lose: 3e-6 of std at mean 1000 in float32 otherwise.
          auto block = [&](int64_t i, int64_t k, double& len, double& mb) {
            const int64_t u = (i * c + ch) * per_row + k;
            len = static_cast<double>(std::min(kBlock, l - k * kBlock));
            mb = static_cast<double>(ps[u] / static_cast<T>(len));  // the block's own mean, as block_moments took it
            return u;
          };
          double sum = 0.0, len, mb;
          for (int64_t i = 0; i < a.n; ++i)
            for (int64_t k = 0; k < per_row; ++k) {
              const int64_t u = block(i, k, len, mb);
              sum += len * mb + static_cast<double>(pd[u]);
            }
          mean = sum / count;
          for (int64_t i = 0; i < a.n; ++i)
            for (int64_t k = 0; k < per_row; ++k) {
              const int64_t u = block(i, k, len, mb);
              const double dm = mb - mean;
              m2 += static_cast<double>(pq[u]) + 2.0 * dm * static_cast<double>(pd[u]) + len * dm * dm;
            }
        }
        kc[ch] = batchnorm::forward_constants(a, f, ch, mean, m2 / count);
      }
    });
    parallel_range(rows, 1, nt, [&](int64_t r_begin, int64_t r_end) {
      for (int64_t r = r_begin; r < r_end; ++r) {
        const Affine<T>& k = kc[r % c];
        affine_row(a.x + r * l, f.y + r * l, l, k.m, k.scale, k.shift);
      }
    });
  }
}

template <typename T>
void backward_rows(const BatchNormArgs<T>& a, const BatchNormGrads<T>& gr) {
  const int64_t c = a.c, l = a.l, rows = a.n * c, per_row = (l + kBlock - 1) / kBlock;
  const bool stats = gr.training || gr.dweight || gr.dbias;
  const int64_t units = stats ? rows * per_row : 0;
  Scratch s;
  const size_t o_g = s.reserve<T>(units), o_p = s.reserve<T>(units), o_k = s.reserve<GradConstants<T>>(c);
  s.allocate();
  T *pg = s.at<T>(o_g), *pp = s.at<T>(o_p);
  GradConstants<T>* kc = s.at<GradConstants<T>>(o_k);
  const int nt = threads_for((stats ? 8.0 : 2.0) * rows * l);
  {
    parallel_range(units, 1, nt, [&](int64_t u_begin, int64_t u_end) {
      for (int64_t u = u_begin; u < u_end; ++u) {
        const int64_t r = u / per_row, j0 = u % per_row * kBlock;
        block_grad_moments(a.x + r * l + j0, gr.grad_output + r * l + j0, std::min(kBlock, l - j0),
                           static_cast<T>(gr.mean[r % c]), pg + u, pp + u);
      }
    });
    parallel_range(c, 1, nt, [&](int64_t ch_begin, int64_t ch_end) {
      for (int64_t ch = ch_begin; ch < ch_end; ++ch) {
        double gsum = 0.0, gxc = 0.0;
        for (int64_t i = 0; stats && i < a.n; ++i)
          for (int64_t k = 0; k < per_row; ++k) {
            const int64_t u = (i * c + ch) * per_row + k;
            gsum += static_cast<double>(pg[u]);
            gxc += static_cast<double>(pp[u]);
          }
        kc[ch] = batchnorm::backward_constants(a, gr, ch, gsum, gxc);
      }
    });
    if (gr.dx) {
      parallel_range(rows, 1, nt, [&](int64_t r_begin, int64_t r_end) {
        for (int64_t r = r_begin; r < r_end; ++r) {
          const GradConstants<T>& k = kc[r % c];
          const int64_t off = r * l;
          if (gr.training) grad_row<T, true>(a.x + off, gr.grad_output + off, gr.dx + off, l, k.m, k.c1, k.k, k.c0k);
          else grad_row<T, false>(nullptr, gr.grad_output + off, gr.dx + off, l, k.m, k.c1, k.k, k.c0k);
        }
      });
    }
  }
}

template <typename T>
void forward_impl(const BatchNormArgs<T>& a, const BatchNormForward<T>& f) {
  if (a.l >= kRowPathMinL) forward_rows(a, f);
  else batchnorm::forward_cols(a, f);
}

template <typename T>
void backward_impl(const BatchNormArgs<T>& a, const BatchNormGrads<T>& g) {
  if (a.l >= kRowPathMinL) backward_rows(a, g);
  else batchnorm::backward_cols(a, g);
}

}  // namespace

void batch_norm_forward_f32(const BatchNormArgs<float>& a, const BatchNormForward<float>& f) { forward_impl(a, f); }
void batch_norm_forward_f64(const BatchNormArgs<double>& a, const BatchNormForward<double>& f) { forward_impl(a, f); }
void batch_norm_backward_f32(const BatchNormArgs<float>& a, const BatchNormGrads<float>& g) { backward_impl(a, g); }
void batch_norm_backward_f64(const BatchNormArgs<double>& a, const BatchNormGrads<double>& g) { backward_impl(a, g); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
