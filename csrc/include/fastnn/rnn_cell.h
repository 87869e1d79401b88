// Fused LSTM / GRU cells: the gate nonlinearities and the state update of one time step in one pass over
// the step's gate pre-activations (per-ISA kernels), and the loops over a whole sequence around them
// (one recurrent GEMM per step, then the fused cell), forward and backward through time.
//
// Layouts (torch's gate order): LSTM gates i, f, g, o in column blocks of width H of a (N, 4H) step block;
// GRU gates r, z, n in a (N, 3H) block. A step block of `gates`, `dz`, `dzx`, `dzh` and every saved array is
// dense; states, outputs and output gradients are rows of H contiguous elements at any row / step stride
// (the layer op hands column blocks of a two-direction output). Every element is computed by the same code
// whatever the thread count (threads split rows), and the GEMM's sums do not depend on it either, so the
// results are bitwise the same for any thread count.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

// ---- one step (the per-ISA kernels) ------------------------------------------------------------------------

// gates: (N, 4H) pre-activations x W_ihᵀ + h W_hhᵀ in, the activations i, f, g, o out (saved for the backward).
// c_t = f c_{t-1} + i g, h_t = o tanh(c_t); tanh_c (dense, N x H) may be null (no backward wanted).
template <typename T>
struct LstmStepFwd {
  int64_t batch, hidden;
  T* gates;
  const T* bias;  // (4H): b_ih + b_hh, or null
  const T* c_prev;
  int64_t c_prev_rs;
  T* c;  // dense (N, H)
  T* tanh_c;
  T* h;
  int64_t h_rs;
};

// dh = dout + dh_rec (either may be null: zero); dc = dc_in + dh o (1 - tanh²c); writes dz (dense N x 4H) and
// replaces dc (dense N x H) by dc f, the cell gradient of the previous step.
template <typename T>
struct LstmStepBwd {
  int64_t batch, hidden;
  const T* gates;
  const T* c_prev;
  int64_t c_prev_rs;
  const T* tanh_c;
  const T* dout;
  int64_t dout_rs;
  const T* dh_rec;
  T* dc;
  T* dz;
};

// gates: (N, 3H) x W_ihᵀ in, r, z, n out; gh: (N, 3H) h_{t-1} W_hhᵀ. r = σ(x_r + gh_r + b_r), z likewise,
// n = tanh(x_n + b_in + r (gh_n + b_hn)), h_t = (1 - z) n + z h_{t-1}. gh_n_out (dense N x H) receives
// gh_n + b_hn (the backward's dr needs it) and may be null.
template <typename T>
struct GruStepFwd {
  int64_t batch, hidden;
  T* gates;
  const T* gh;
  const T* bias;  // (3H): b_ih + [b_hr, b_hz, 0], or null
  const T* b_hn;  // (H) or null
  const T* h_prev;
  int64_t h_prev_rs;
  T* gh_n_out;
  T* h;
  int64_t h_rs;
};

// dh = dout + dh_rec + carry (dout / dh_rec may be null); writes dzx = [dr, dz, dn], dzh = [dr, dz, dn r] and
// replaces carry (dense N x H) by dh z, the h_{t-1} gradient through the z h_{t-1} term.
template <typename T>
struct GruStepBwd {
  int64_t batch, hidden;
  const T* gates;
  const T* gh_n;
  const T* h_prev;
  int64_t h_prev_rs;
  const T* dout;
  int64_t dout_rs;
  const T* dh_rec;
  T* carry;
  T* dzx;
  T* dzh;
};

#define FASTNN_DECLARE_RNN_CELL(ns, T, sfx)              \
  namespace ns {                                         \
  void lstm_step_forward_##sfx(const LstmStepFwd<T>& a);  \
  void lstm_step_backward_##sfx(const LstmStepBwd<T>& a); \
  void gru_step_forward_##sfx(const GruStepFwd<T>& a);    \
  void gru_step_backward_##sfx(const GruStepBwd<T>& a);   \
  }
#define FASTNN_DECLARE_RNN_CELL_LEVEL(ns) \
  FASTNN_DECLARE_RNN_CELL(ns, float, f32) \
  FASTNN_DECLARE_RNN_CELL(ns, double, f64)
FASTNN_DECLARE_RNN_CELL_LEVEL(generic)
FASTNN_DECLARE_RNN_CELL_LEVEL(avx2)
FASTNN_DECLARE_RNN_CELL_LEVEL(avx512)
#undef FASTNN_DECLARE_RNN_CELL_LEVEL
#undef FASTNN_DECLARE_RNN_CELL

// ---- whole sequences (rnn_dispatch.cpp) ----------------------------------------------------------------------

// A strided (rows of contiguous H) matrix: row r at p + r * rs; of a sequence, step t at p + t * ts.
template <typename T>
struct Rows {
  T* p;
  int64_t rs, ts;
};

// W for the recurrent GEMM: element (p, j) of the (K x M) right operand at w[p * rs + j * cs].
template <typename T>
struct Operand {
  const T* p;
  int64_t rs, cs;
};

template <typename T>
struct LstmSeqFwd {
  int64_t steps, batch, hidden;
  bool reverse;
  T* gates;                // (L, N, 4H) dense: x W_ihᵀ in, activations out
  const T* bias;           // (4H) or null
  Operand<const T> w_hh_t; // W_hhᵀ, (H, 4H)
  Rows<const T> h0, c0;
  Rows<T> out;             // h_t, (L, N, H)
  Rows<T> c_n;             // (N, H)
  T* c;                    // (L, N, H) dense: c_t
  T* tanh_c;               // (L, N, H) dense or null
};

template <typename T>
struct LstmSeqBwd {
  int64_t steps, batch, hidden;
  bool reverse;
  const T* gates;
  const T* c;
  const T* tanh_c;
  Rows<const T> c0;
  Operand<const T> w_hh;   // W_hh, (4H, H)
  Rows<const T> dout;      // (L, N, H)
  Rows<const T> dcn;       // (N, H); p null: zero
  T* dz;                   // (L, N, 4H) dense
  T* dh0;                  // (N, H) dense or null (not wanted)
  T* dc0;                  // (N, H) dense
};

template <typename T>
struct GruSeqFwd {
  int64_t steps, batch, hidden;
  bool reverse;
  T* gates;                // (L, N, 3H) dense: x W_ihᵀ in, r, z, n out
  const T* bias;           // (3H) or null
  const T* b_hn;           // (H) or null
  Operand<const T> w_hh_t; // (H, 3H)
  Rows<const T> h0;
  Rows<T> out;
  T* gh_n;                 // (L, N, H) dense or null
};

template <typename T>
struct GruSeqBwd {
  int64_t steps, batch, hidden;
  bool reverse;
  const T* gates;
  const T* gh_n;
  Rows<const T> h0;
  Rows<const T> out;       // the forward's h_t
  Operand<const T> w_hh;   // (3H, H)
  Rows<const T> dout;
  T* dzx;                  // (L, N, 3H) dense
  T* dzh;                  // (L, N, 3H) dense
  T* dh0;                  // (N, H) dense or null
};

void lstm_sequence_forward(Isa isa, const LstmSeqFwd<float>& a);
void lstm_sequence_forward(Isa isa, const LstmSeqFwd<double>& a);
void lstm_sequence_backward(Isa isa, const LstmSeqBwd<float>& a);
void lstm_sequence_backward(Isa isa, const LstmSeqBwd<double>& a);
void gru_sequence_forward(Isa isa, const GruSeqFwd<float>& a);
void gru_sequence_forward(Isa isa, const GruSeqFwd<double>& a);
void gru_sequence_backward(Isa isa, const GruSeqBwd<float>& a);
void gru_sequence_backward(Isa isa, const GruSeqBwd<double>& a);

}  // namespace fastnn
