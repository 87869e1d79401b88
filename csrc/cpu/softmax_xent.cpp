// Softmax, log-softmax and fused softmax + cross-entropy, compiled once per ISA level.
//
// Every kernel walks rows. A row is read from memory once: pass 1 takes its max, pass 2 sums
// exp(x - max) while the row is still in L1 (a 1000-class row is 4 KB; L1 is 48 KB here), so the
// two passes cost one trip to memory and the exps are the real work. Cross-entropy never stores
// the softmax: forward keeps logsumexp per row (N values) and backward recomputes exp(x - lse)
// while it writes the gradient, one read of the logits and one write. That lse is rounded to T: its
// ulp is the gradient's relative error, 5-30% at logits of 1e6-1e7 in float32. So a row whose
// |lse| >= kLseExact (error above ~1e-6) takes its max and log(sum) again, exactly (two more passes:
// large logits only), and writes exp((x - max) - log(sum)); ordinary rows keep the one pass.
//
// Determinism: a row belongs to one thread and is reduced in a fixed order (4 vector accumulators,
// then a fixed pairwise horizontal sum), so the bits never depend on the thread count.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "fastnn/softmax.h"
#include "fastnn/threading.h"
#include "fastnn/vec_math.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace vec;

// Rough cost of one element for threads_for: a vector exp is ~15 flops per lane, plus the passes.
constexpr double kWorkPerElement = 20.0;
// Rows whose saved logsumexp is at least this large recompute it in backward: float32's ulp at 32 is 2^-19,
// a relative error of at most 2^-20 (1e-6) in exp(x - lse) below it; float64's at 2^20 is 2^-32.
template <typename T>
constexpr double kLseExact = sizeof(T) == 4 ? 32.0 : 1048576.0;

template <typename V>
inline V vmax(const V& a, const V& b) {
  return a > b ? a : b;
}
template <typename V>
inline V vmin(const V& a, const V& b) {
  return a < b ? a : b;
}

template <typename T>
struct RowStats {
  T max, min, sum;
  // exp(x - max) cannot leave the normal range anywhere in the row: the exps may skip the range
  // checks (vec::exp_core; 10 instead of 14 vector ops per exp under AVX-512, ~20% faster).
  bool exp_in_range() const { return min - max >= kExpNormalBelow<T>; }
};

// Max and min of a row (one pass from memory; the min is free there) and, with kSum, its plain sum
// (unused since label smoothing sums x - max instead). NaN needs no care here: a NaN element makes sum(exp(x - max)) NaN, so
// the row's outputs are NaN as in PyTorch.
template <typename T, bool kSum>
inline RowStats<T> row_stats(const T* x, int64_t n) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const T inf = std::numeric_limits<T>::infinity();
  V m0 = splat<V>(-inf), m1 = m0, m2 = m0, m3 = m0;
  V l0 = splat<V>(inf), l1 = l0;
  V s0{}, s1{}, s2{}, s3{};
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    const V a = loadu<V>(x + j), b = loadu<V>(x + j + L), c = loadu<V>(x + j + 2 * L), d = loadu<V>(x + j + 3 * L);
    m0 = vmax(m0, a), m1 = vmax(m1, b), m2 = vmax(m2, c), m3 = vmax(m3, d);
    l0 = vmin(l0, vmin(a, b)), l1 = vmin(l1, vmin(c, d));
    if (kSum) s0 += a, s1 += b, s2 += c, s3 += d;
  }
  for (; j + L <= n; j += L) {
    const V a = loadu<V>(x + j);
    m0 = vmax(m0, a), l0 = vmin(l0, a);
    if (kSum) s0 += a;
  }
  if (j < n) {
    m1 = vmax(m1, load_partial(x + j, n - j, -inf));
    l1 = vmin(l1, load_partial(x + j, n - j, inf));
    if (kSum) s1 += load_partial(x + j, n - j, T(0));
  }
  RowStats<T> r;
  r.max = hmax(vmax(vmax(m0, m1), vmax(m2, m3)));
  r.min = -hmax(-vmin(l0, l1));
  r.sum = kSum ? hsum((s0 + s1) + (s2 + s3)) : T(0);
  return r;
}

template <bool kInRange, typename V>
inline V exp_of(const V& v) {
  if constexpr (kInRange) return exp_core(v);
  else return exp(v);
}

// sum_j exp(x[j] - shift); with a non-null e, also stores each exp into e. `next` (the next row this
// thread will read, or null) is prefetched along the way, so its first pass finds it in cache.
template <typename T, bool kInRange>
inline T row_sum_exp(const T* x, int64_t n, T shift, T* e, const T* next) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V sh = splat<V>(shift);
  V s0{}, s1{}, s2{}, s3{};
  int64_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    if (next) prefetch_lines<4 * kVecBytes>(next + j);
    const V a = exp_of<kInRange>(loadu<V>(x + j) - sh), b = exp_of<kInRange>(loadu<V>(x + j + L) - sh);
    const V c = exp_of<kInRange>(loadu<V>(x + j + 2 * L) - sh), d = exp_of<kInRange>(loadu<V>(x + j + 3 * L) - sh);
    s0 += a, s1 += b, s2 += c, s3 += d;
    if (e) storeu(e + j, a), storeu(e + j + L, b), storeu(e + j + 2 * L, c), storeu(e + j + 3 * L, d);
  }
  for (; j + L <= n; j += L) {
    if (next) prefetch_lines<kVecBytes>(next + j);
    const V a = exp_of<kInRange>(loadu<V>(x + j) - sh);
    s0 += a;
    if (e) storeu(e + j, a);
  }
  if (j < n) {
    // -inf in the unused lanes, through the checked exp: exactly 0 there.
    const V a = exp(load_partial(x + j, n - j, -std::numeric_limits<T>::infinity()) - sh);
    s1 += a;
    if (e) store_partial(e + j, a, n - j);
  }
  return hsum((s0 + s1) + (s2 + s3));
}

template <typename T>
inline T row_sum_exp(const RowStats<T>& st, const T* x, int64_t n, T* e, const T* next) {
  return st.exp_in_range() ? row_sum_exp<T, true>(x, n, st.max, e, next)
                           : row_sum_exp<T, false>(x, n, st.max, e, next);
}

// y[j] = a * f(x[j]) + b over a row, f = exp((x - shift) - shift2) when kExp, else x - shift
// (log-softmax). Two subtractions, not one of shift + shift2: that sum (max + log(sum)) is not
// representable when the max is large.
template <typename T, bool kExp>
inline void row_affine(const T* x, int64_t n, T shift, T a, T b, T* y, T shift2 = T(0)) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V sh = splat<V>(shift), sh2 = splat<V>(shift2), va = splat<V>(a), vb = splat<V>(b);
  auto f = [&](V v) {
    v = v - sh;
    if (kExp) v = exp(v - sh2);
    return va * v + vb;
  };
  int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    storeu(y + j, f(loadu<V>(x + j)));
    storeu(y + j + L, f(loadu<V>(x + j + L)));
  }
  for (; j + L <= n; j += L) storeu(y + j, f(loadu<V>(x + j)));
  if (j < n) store_partial(y + j, f(load_partial(x + j, n - j, T(0))), n - j);
}

// sum_j (x[j] - shift) in T: label smoothing's sum of log-probabilities less their common -log(sum).
// Each difference is rounded to T, as torch's float log_softmax is, so a logit far below the max gives
// -inf here exactly where torch's smoothed loss becomes inf.
template <typename T>
inline T row_sum_shifted(const T* x, int64_t n, T shift) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const V sh = splat<V>(shift);
  V s0{}, s1{};
  int64_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) s0 += loadu<V>(x + j) - sh, s1 += loadu<V>(x + j + L) - sh;
  for (; j + L <= n; j += L) s0 += loadu<V>(x + j) - sh;
  if (j < n) s1 += load_partial(x + j, n - j, shift) - sh;  // shift in the unused lanes: they add 0
  return hsum(s0 + s1);
}

template <typename T>
void exp_impl(const T* x, T* y, int64_t n) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const int nt = threads_for(kWorkPerElement * n);
  const int64_t nv = n / L;
  parallel_range(nv, 1, nt, [&](int64_t v0, int64_t v1) {
    for (int64_t v = v0; v < v1; ++v) storeu(y + v * L, exp(loadu<V>(x + v * L)));
  });
  if (nv * L < n) store_partial(y + nv * L, exp(load_partial(x + nv * L, n - nv * L, T(0))), n - nv * L);
}

template <typename T>
void softmax_forward_impl(const SoftmaxArgs<T>& a, T* y) {
  const int nt = threads_for(kWorkPerElement * a.rows * a.cols);
  parallel_range(a.rows, 1, nt, [&](int64_t i_begin, int64_t i_end) {
    for (int64_t i = i_begin; i < i_end; ++i) {
      const T* x = a.x + i * a.ld;
      T* yi = y + i * a.cols;
      const T* next = i + 1 < a.rows ? x + a.ld : nullptr;
      const RowStats<T> st = row_stats<T, false>(x, a.cols);
      if (a.log) {
        // (x - max) - log(sum), as torch rounds it: x - logsumexp would lose the small log(sum) against a
        // large max (logits near 3e4 came out 1e-3 off in float32).
        const T log_sum = static_cast<T>(std::log(static_cast<double>(row_sum_exp<T>(st, x, a.cols, nullptr, next))));
        row_affine<T, false>(x, a.cols, st.max, T(1), -log_sum, yi);
      } else {
        // exp(x - max) goes straight into y, then one scaling pass over y (still in L1).
        const T s = row_sum_exp<T>(st, x, a.cols, yi, next);
        const T inv = T(1) / s;
        using V = Vec<T>;
        constexpr int L = lanes<T>;
        int64_t j = 0;
        for (; j + L <= a.cols; j += L) storeu(yi + j, loadu<V>(yi + j) * inv);
        for (; j < a.cols; ++j) yi[j] *= inv;
      }
    }
  });
}

template <typename T>
void softmax_backward_impl(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols, bool log) {
  using V = Vec<T>;
  constexpr int L = lanes<T>;
  const int nt = threads_for(kWorkPerElement * rows * cols);
  parallel_range(rows, 1, nt, [&](int64_t i_begin, int64_t i_end) {
    for (int64_t i = i_begin; i < i_end; ++i) {
      const T* yi = y + i * cols;
      const T* gi = gy + i * cols;
      T* dx = gx + i * cols;
      // softmax: s = sum(gy * y), gx = y * (gy - s).  log_softmax: s = sum(gy), gx = gy - exp(y) * s.
      V s0{}, s1{};
      int64_t j = 0;
      for (; j + 2 * L <= cols; j += 2 * L) {
        const V g0 = loadu<V>(gi + j), g1 = loadu<V>(gi + j + L);
        s0 += log ? g0 : g0 * loadu<V>(yi + j);
        s1 += log ? g1 : g1 * loadu<V>(yi + j + L);
      }
      for (; j + L <= cols; j += L) s0 += log ? loadu<V>(gi + j) : loadu<V>(gi + j) * loadu<V>(yi + j);
      if (j < cols) {
        const V g = load_partial(gi + j, cols - j, T(0));
        s1 += log ? g : g * load_partial(yi + j, cols - j, T(0));
      }
      const V s = splat<V>(hsum(s0 + s1));
      auto f = [&](V yv, V gv) { return log ? gv - exp(yv) * s : yv * (gv - s); };
      for (j = 0; j + L <= cols; j += L) storeu(dx + j, f(loadu<V>(yi + j), loadu<V>(gi + j)));
      if (j < cols) store_partial(dx + j, f(load_partial(yi + j, cols - j, T(0)), load_partial(gi + j, cols - j, T(0))),
                                  cols - j);
    }
  });
}

template <typename T>
void cross_entropy_forward_impl(const CrossEntropyArgs<T>& a, T* loss, T* lse_out) {
  const double s = a.label_smoothing;
  const int nt = threads_for(kWorkPerElement * a.rows * a.cols);
  parallel_range(a.rows, 1, nt, [&](int64_t i_begin, int64_t i_end) {
    for (int64_t i = i_begin; i < i_end; ++i) {
      const int64_t t = a.target[i];
      if (t == a.ignore_index) {
        loss[i] = T(0);
        lse_out[i] = T(0);
        continue;
      }
      const T* x = a.logits + i * a.ld;
      const RowStats<T> st = row_stats<T, false>(x, a.cols);
      const T sum = row_sum_exp<T>(st, x, a.cols, nullptr, i + 1 < a.rows ? x + a.ld : nullptr);
      const double log_sum = std::log(static_cast<double>(sum));
      lse_out[i] = static_cast<T>(static_cast<double>(st.max) + log_sum);
      // -log p_t = log(sum) + (max - x_t), the difference taken first and in double: max + log(sum) - x_t
      // rounds log(sum) away against a large max (all logits at 3.4e38 gave 0, not log C).
      double l = log_sum + (1.0 - s) * (static_cast<double>(st.max) - static_cast<double>(x[t]));
      if (s != 0.0) {
        // + s * mean_c(-log p_c) - s * log(sum) = -(s / C) sum_c (x_c - max); the row is still in L1.
        l -= s / static_cast<double>(a.cols) * static_cast<double>(row_sum_shifted(x, a.cols, st.max));
      }
      loss[i] = static_cast<T>(l);
    }
  });
}

template <typename T>
void cross_entropy_backward_impl(const CrossEntropyArgs<T>& a, const T* lse, const T* grad_rows, double scale,
                                 T* gx) {
  const double s = a.label_smoothing;
  const int nt = threads_for(kWorkPerElement * a.rows * a.cols);
  parallel_range(a.rows, 1, nt, [&](int64_t i_begin, int64_t i_end) {
    for (int64_t i = i_begin; i < i_end; ++i) {
      T* dx = gx + i * a.cols;
      const int64_t t = a.target[i];
      const double g = grad_rows ? scale * static_cast<double>(grad_rows[i]) : scale;
      if (t == a.ignore_index) {
        std::memset(dx, 0, static_cast<size_t>(a.cols) * sizeof(T));
        continue;
      }
      // dx = g * softmax(x) - g * s / C everywhere, then the target's -g * (1 - s).
      const T* x = a.logits + i * a.ld;
      const T ga = static_cast<T>(g), gb = static_cast<T>(-g * s / static_cast<double>(a.cols));
      if (!(std::fabs(static_cast<double>(lse[i])) >= kLseExact<T>)) {  // NaN too: NaN stays NaN either way
        row_affine<T, true>(x, a.cols, lse[i], ga, gb, dx);  // softmax = exp(x - lse): the one pass
      } else {
        // Large logits: lse's rounding would show. exp((x - max) - log(sum)), both taken again.
        const RowStats<T> st = row_stats<T, false>(x, a.cols);
        const T log_sum = static_cast<T>(std::log(static_cast<double>(row_sum_exp<T>(st, x, a.cols, nullptr, nullptr))));
        row_affine<T, true>(x, a.cols, st.max, ga, gb, dx, log_sum);
      }
      dx[t] = static_cast<T>(static_cast<double>(dx[t]) - g * (1.0 - s));
    }
  });
}

}  // namespace

#define FASTNN_DEFINE_SOFTMAX(T, sfx)                                                                              \
  void exp_##sfx(const T* x, T* y, int64_t n) { exp_impl(x, y, n); }                                               \
  void softmax_forward_##sfx(const SoftmaxArgs<T>& a, T* y) { softmax_forward_impl(a, y); }                        \
  void softmax_backward_##sfx(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols, bool log) {              \
    softmax_backward_impl(y, gy, gx, rows, cols, log);                                                             \
  }                                                                                                                \
  void cross_entropy_forward_##sfx(const CrossEntropyArgs<T>& a, T* loss, T* lse) {                                \
    cross_entropy_forward_impl(a, loss, lse);                                                                      \
  }                                                                                                                \
  void cross_entropy_backward_##sfx(const CrossEntropyArgs<T>& a, const T* lse, const T* grad_rows, double scale, \
                                    T* grad_logits) {                                                              \
    cross_entropy_backward_impl(a, lse, grad_rows, scale, grad_logits);                                            \
  }
FASTNN_DEFINE_SOFTMAX(float, f32)
FASTNN_DEFINE_SOFTMAX(double, f64)
#undef FASTNN_DEFINE_SOFTMAX

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
