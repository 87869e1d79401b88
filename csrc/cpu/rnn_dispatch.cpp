// LSTM / GRU over whole sequences: per time step one recurrent GEMM (all gates at once) and the fused cell
// of the chosen ISA level (rnn_cell.cpp), forward and backward through time, with no Python in between.
//
// The recurrent right operand is read as the caller lays it out: the layer op hands W_hhᵀ made contiguous
// once per sequence (row-major (H, G) with short rows is read in place by the GEMM's direct-B path, so it is
// packed once, by that transpose, not once per step); a single cell step passes W_hh's transposed strides.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "fastnn/gemm.h"
#include "fastnn/isa_dispatch.h"
#include "fastnn/rnn_cell.h"

namespace fastnn {
namespace {

#define FASTNN_RNN_STEP(name)                                                          \
  template <typename A>                                                                \
  void name(Isa isa, const A& a) {                                                     \
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(a.gates)>>;              \
    if constexpr (std::is_same_v<T, float>) {                                          \
      FASTNN_DISPATCH(name##_f32, a)                                                   \
    } else {                                                                           \
      FASTNN_DISPATCH(name##_f64, a)                                                   \
    }                                                                                  \
  }
FASTNN_RNN_STEP(lstm_step_forward)
FASTNN_RNN_STEP(lstm_step_backward)
FASTNN_RNN_STEP(gru_step_forward)
FASTNN_RNN_STEP(gru_step_backward)
#undef FASTNN_RNN_STEP

// C (m x n, dense rows of ldc) = beta C + A (m x k, rows at a_rs) . B.
template <typename T>
void gemm_rows(Isa isa, int64_t m, int64_t n, int64_t k, const T* a, int64_t a_rs, const Operand<const T>& b, T beta,
               T* c, int64_t ldc) {
  if (k == 0) {
    if (beta == T(0))
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  GemmArgs<T> g{m, n, k, T(1), a, a_rs, 1, b.p, b.rs, b.cs, beta, c, ldc, 1};
  gemm(isa, g);
}

// The forward's time order: step s of the loop is time index t.
inline int64_t time_at(int64_t s, int64_t steps, bool reverse) { return reverse ? steps - 1 - s : s; }

template <typename T>
void lstm_forward_impl(Isa isa, const LstmSeqFwd<T>& a) {
  const int64_t N = a.batch, H = a.hidden, G = 4 * H;
  const T* h_prev = a.h0.p;
  int64_t h_rs = a.h0.rs;
  const T* c_prev = a.c0.p;
  int64_t c_rs = a.c0.rs;
  for (int64_t s = 0; s < a.steps; ++s) {
    const int64_t t = time_at(s, a.steps, a.reverse);
    T* gt = a.gates + t * N * G;
    gemm_rows(isa, N, G, H, h_prev, h_rs, a.w_hh_t, T(1), gt, G);
    T* ht = a.out.p + t * a.out.ts;
    T* ct = a.c + t * N * H;
    lstm_step_forward(isa, LstmStepFwd<T>{N, H, gt, a.bias, c_prev, c_rs, ct,
                                          a.tanh_c == nullptr ? nullptr : a.tanh_c + t * N * H, ht, a.out.rs});
    h_prev = ht, h_rs = a.out.rs;
    c_prev = ct, c_rs = H;
  }
  for (int64_t b = 0; b < N; ++b) std::memcpy(a.c_n.p + b * a.c_n.rs, c_prev + b * c_rs, H * sizeof(T));
}

template <typename T>
void lstm_backward_impl(Isa isa, const LstmSeqBwd<T>& a) {
  const int64_t N = a.batch, H = a.hidden, G = 4 * H;
  std::vector<T> dh_rec(static_cast<size_t>(N * H));
  for (int64_t b = 0; b < N; ++b) {  // dc0 carries dc_t from step to step, starting at c_n's gradient
    T* row = a.dc0 + b * H;
    if (a.dcn.p == nullptr)
      std::fill(row, row + H, T(0));
    else
      std::memcpy(row, a.dcn.p + b * a.dcn.rs, H * sizeof(T));
  }
  const T* dz_next = nullptr;
  for (int64_t s = a.steps - 1; s >= 0; --s) {
    const int64_t t = time_at(s, a.steps, a.reverse);
    if (dz_next != nullptr) gemm_rows(isa, N, H, G, dz_next, G, a.w_hh, T(0), dh_rec.data(), H);
    const bool first = s == 0;
    const T* c_prev = first ? a.c0.p : a.c + time_at(s - 1, a.steps, a.reverse) * N * H;
    const int64_t c_rs = first ? a.c0.rs : H;
    T* dzt = a.dz + t * N * G;
    lstm_step_backward(isa, LstmStepBwd<T>{N, H, a.gates + t * N * G, c_prev, c_rs, a.tanh_c + t * N * H,
                                           a.dout.p + t * a.dout.ts, a.dout.rs,
                                           dz_next == nullptr ? nullptr : dh_rec.data(), a.dc0, dzt});
    dz_next = dzt;
  }
  if (a.dh0 != nullptr) {
    if (dz_next != nullptr)
      gemm_rows(isa, N, H, G, dz_next, G, a.w_hh, T(0), a.dh0, H);
    else
      std::fill(a.dh0, a.dh0 + N * H, T(0));
  }
}

template <typename T>
void gru_forward_impl(Isa isa, const GruSeqFwd<T>& a) {
  const int64_t N = a.batch, H = a.hidden, G = 3 * H;
  std::vector<T> gh(static_cast<size_t>(N * G));
  const T* h_prev = a.h0.p;
  int64_t h_rs = a.h0.rs;
  for (int64_t s = 0; s < a.steps; ++s) {
    const int64_t t = time_at(s, a.steps, a.reverse);
    gemm_rows(isa, N, G, H, h_prev, h_rs, a.w_hh_t, T(0), gh.data(), G);
    T* ht = a.out.p + t * a.out.ts;
    gru_step_forward(isa, GruStepFwd<T>{N, H, a.gates + t * N * G, gh.data(), a.bias, a.b_hn, h_prev, h_rs,
                                        a.gh_n == nullptr ? nullptr : a.gh_n + t * N * H, ht, a.out.rs});
    h_prev = ht, h_rs = a.out.rs;
  }
}

template <typename T>
void gru_backward_impl(Isa isa, const GruSeqBwd<T>& a) {
  const int64_t N = a.batch, H = a.hidden, G = 3 * H;
  std::vector<T> dh_rec(static_cast<size_t>(N * H));
  std::vector<T> carry(static_cast<size_t>(N * H), T(0));
  const T* dzh_next = nullptr;
  for (int64_t s = a.steps - 1; s >= 0; --s) {
    const int64_t t = time_at(s, a.steps, a.reverse);
    if (dzh_next != nullptr) gemm_rows(isa, N, H, G, dzh_next, G, a.w_hh, T(0), dh_rec.data(), H);
    const bool first = s == 0;
    const T* h_prev = first ? a.h0.p : a.out.p + time_at(s - 1, a.steps, a.reverse) * a.out.ts;
    const int64_t h_rs = first ? a.h0.rs : a.out.rs;
    gru_step_backward(isa, GruStepBwd<T>{N, H, a.gates + t * N * G, a.gh_n + t * N * H, h_prev, h_rs,
                                         a.dout.p + t * a.dout.ts, a.dout.rs,
                                         dzh_next == nullptr ? nullptr : dh_rec.data(), carry.data(),
                                         a.dzx + t * N * G, a.dzh + t * N * G});
    dzh_next = a.dzh + t * N * G;
  }
  if (a.dh0 != nullptr) {
    if (dzh_next != nullptr)
      gemm_rows(isa, N, H, G, dzh_next, G, a.w_hh, T(0), a.dh0, H);
    else
      std::fill(a.dh0, a.dh0 + N * H, T(0));
    for (int64_t i = 0; i < N * H; ++i) a.dh0[i] += carry[i];  // the z h0 term of the first step
  }
}

}  // namespace

void lstm_sequence_forward(Isa isa, const LstmSeqFwd<float>& a) { lstm_forward_impl(isa, a); }
void lstm_sequence_forward(Isa isa, const LstmSeqFwd<double>& a) { lstm_forward_impl(isa, a); }
void lstm_sequence_backward(Isa isa, const LstmSeqBwd<float>& a) { lstm_backward_impl(isa, a); }
void lstm_sequence_backward(Isa isa, const LstmSeqBwd<double>& a) { lstm_backward_impl(isa, a); }
void gru_sequence_forward(Isa isa, const GruSeqFwd<float>& a) { gru_forward_impl(isa, a); }
void gru_sequence_forward(Isa isa, const GruSeqFwd<double>& a) { gru_forward_impl(isa, a); }
void gru_sequence_backward(Isa isa, const GruSeqBwd<float>& a) { gru_backward_impl(isa, a); }
void gru_sequence_backward(Isa isa, const GruSeqBwd<double>& a) { gru_backward_impl(isa, a); }

}  // namespace fastnn
