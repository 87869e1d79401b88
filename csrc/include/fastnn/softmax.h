// Softmax, log-softmax and fused softmax + cross-entropy over the last dim of row-major rows.
//
// Rows are `cols` contiguous elements, row i starting at x + i * ld (ld >= cols). Outputs are dense
// (ld = cols). All kernels are row-parallel and each row is reduced by one thread in a fixed order,
// so results are bitwise identical for any thread count.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

template <typename T>
struct SoftmaxArgs {
  const T* x;
  int64_t rows, cols, ld;
  bool log;  // log_softmax instead of softmax
};

// Cross-entropy with class indices. With m_i = max_j x[i, j] and L_i = log sum_j exp(x[i, j] - m_i),
// loss_i = L_i + (1 - s) (m_i - x[i, t_i]) - (s / C) sum_j (x[i, j] - m_i)  (s = label_smoothing; the
// differences first: m_i + L_i - x[i, t_i] rounds L_i away at large logits), and 0 for rows whose target
// equals ignore_index. Targets must already be checked to lie in [0, cols) or equal ignore_index.
template <typename T>
struct CrossEntropyArgs {
  const T* logits;
  int64_t rows, cols, ld;
  const int64_t* target;
  int64_t ignore_index;
  double label_smoothing;
};

#define FASTNN_DECLARE_SOFTMAX(ns, T, sfx)                                                                      \
  namespace ns {                                                                                                 \
  void exp_##sfx(const T* x, T* y, int64_t n);                                                                   \
  void softmax_forward_##sfx(const SoftmaxArgs<T>& a, T* y);                                                     \
  void softmax_backward_##sfx(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols, bool log);             \
  void cross_entropy_forward_##sfx(const CrossEntropyArgs<T>& a, T* loss, T* lse);                               \
  void cross_entropy_backward_##sfx(const CrossEntropyArgs<T>& a, const T* lse, const T* grad_rows, double scale, \
                                    T* grad_logits);                                                             \
  }
#define FASTNN_DECLARE_SOFTMAX_LEVEL(ns) \
  FASTNN_DECLARE_SOFTMAX(ns, float, f32) \
  FASTNN_DECLARE_SOFTMAX(ns, double, f64)
FASTNN_DECLARE_SOFTMAX_LEVEL(generic)
FASTNN_DECLARE_SOFTMAX_LEVEL(avx2)
FASTNN_DECLARE_SOFTMAX_LEVEL(avx512)
#undef FASTNN_DECLARE_SOFTMAX_LEVEL
#undef FASTNN_DECLARE_SOFTMAX

// Dispatch on `isa` (which the caller has checked with isa_require).
// exp: element-wise, the kernels' own vector exp (exposed so tests can hold it to np.exp).
void vector_exp(Isa isa, const float* x, float* y, int64_t n);
void vector_exp(Isa isa, const double* x, double* y, int64_t n);
// y[i, :] = softmax(x[i, :]) or log_softmax(x[i, :]); y dense.
void softmax_forward(Isa isa, const SoftmaxArgs<float>& a, float* y);
void softmax_forward(Isa isa, const SoftmaxArgs<double>& a, double* y);
// gx = y * (gy - sum(gy * y)) for softmax, gx = gy - exp(y) * sum(gy) for log_softmax; all dense.
void softmax_backward(Isa isa, const float* y, const float* gy, float* gx, int64_t rows, int64_t cols, bool log);
void softmax_backward(Isa isa, const double* y, const double* gy, double* gx, int64_t rows, int64_t cols, bool log);
// loss[i] and lse[i] = logsumexp(x[i, :]) per row (lse is 0 for ignored rows).
void cross_entropy_forward(Isa isa, const CrossEntropyArgs<float>& a, float* loss, float* lse);
void cross_entropy_forward(Isa isa, const CrossEntropyArgs<double>& a, double* loss, double* lse);
// grad_logits[i, j] = g_i * (softmax(x)[i, j] - (1 - s) [j == t_i] - s / C), from the saved lse; rows
// with the ignored target get zeros. g_i = scale * grad_rows[i], or scale when grad_rows is null. The
// softmax is exp(x - lse), or, where |lse| >= 32 (its rounding would show), recomputed exactly.
void cross_entropy_backward(Isa isa, const CrossEntropyArgs<float>& a, const float* lse, const float* grad_rows,
                            double scale, float* grad_logits);
void cross_entropy_backward(Isa isa, const CrossEntropyArgs<double>& a, const double* lse, const double* grad_rows,
                            double scale, double* grad_logits);

}  // namespace fastnn
