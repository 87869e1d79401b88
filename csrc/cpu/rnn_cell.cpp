// Fused LSTM / GRU cell steps, compiled once per ISA level: each step reads its gate pre-activations once and
// writes the activations (saved for the backward), the new states and the output in the same pass, where the
// NumPy version made ~15 sweeps over the step's arrays (and ~15 Python calls) per step.
//
// sigmoid(x) = 1 / (1 + exp(-x)) with the vectorised exp of vec_math.h (exp(-x) = inf gives 0, NaN stays NaN).
// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|) (no overflow: e <= 1), except below |x| < 0.07, where
// 1 - e cancels: there an odd Taylor polynomial to x^11, whose first dropped term (0.0036 x^13) is below
// 1e-16 relative, so both float32 and float64 stay within a few ulp.
//
// Rows are split over threads only when a step is large (threads_for): each element is computed by the same
// code for any split, so the results are bitwise the same for any thread count.
#include <cstdint>
#include <type_traits>

#include "fastnn/rnn_cell.h"
#include "fastnn/threading.h"
#include "fastnn/vec_math.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace vec;

// Rough flops per element of a step (three or two exps, divisions): sizes the thread team.
constexpr double kLstmCellWork = 120.0;
constexpr double kGruCellWork = 90.0;

template <typename T, bool kFull>
inline Vec<T> ld(const T* p, int64_t n) {
  if constexpr (kFull) {
    return loadu<Vec<T>>(p);
  } else {
    return load_partial(p, n, T(0));
  }
}

template <typename T, bool kFull>
inline void st(T* p, const Vec<T>& v, int64_t n) {
  if constexpr (kFull) {
    storeu(p, v);
  } else {
    store_partial(p, v, n);
  }
}

// f(full_tag, j, count) over the columns [0, hidden) of a row: whole vectors, then one partial tail.
template <typename T, typename F>
inline void over_row(int64_t hidden, F&& f) {
  constexpr int L = lanes<T>;
  int64_t j = 0;
  for (; j + L <= hidden; j += L) f(std::true_type{}, j, static_cast<int64_t>(L));
  if (j < hidden) f(std::false_type{}, j, hidden - j);
}

template <typename V>
inline V sigmoid(const V& x) {
  using T = elem_t<V>;
  const V one = splat<V>(T(1));
  return one / (one + vec::exp(-x));
}

template <typename V>
inline V tanh_v(const V& x) {
  using T = elem_t<V>;
  const V zero = splat<V>(T(0));
  const V one = splat<V>(T(1));
  const V a = x < zero ? -x : x;
  const V e = vec::exp(splat<V>(T(-2)) * a);
  V t = (one - e) / (one + e);
  t = x < zero ? -t : t;
  const V x2 = x * x;
  const V p = x + x * x2 *
                      (splat<V>(T(-1.0 / 3)) +
                       x2 * (splat<V>(T(2.0 / 15)) +
                             x2 * (splat<V>(T(-17.0 / 315)) +
                                   x2 * (splat<V>(T(62.0 / 2835)) + x2 * splat<V>(T(-1382.0 / 155925))))));
  return a < splat<V>(T(0.07)) ? p : t;
}

template <typename T, bool kFull>
inline Vec<T> ld_or0(const T* p, int64_t n) {
  return p == nullptr ? Vec<T>{} : ld<T, kFull>(p, n);
}

template <typename T>
void lstm_fwd_rows(const LstmStepFwd<T>& a, int64_t b_begin, int64_t b_end) {
  const int64_t H = a.hidden;
  for (int64_t b = b_begin; b < b_end; ++b) {
    T* g = a.gates + b * 4 * H;
    const T* cp = a.c_prev + b * a.c_prev_rs;
    T* c = a.c + b * H;
    T* tc_out = a.tanh_c == nullptr ? nullptr : a.tanh_c + b * H;
    T* h = a.h + b * a.h_rs;
    over_row<T>(H, [&](auto full, int64_t j, int64_t cnt) {
      constexpr bool F = decltype(full)::value;
      using V = Vec<T>;
      V ai = ld<T, F>(g + j, cnt), af = ld<T, F>(g + H + j, cnt);
      V ag = ld<T, F>(g + 2 * H + j, cnt), ao = ld<T, F>(g + 3 * H + j, cnt);
      if (a.bias != nullptr) {
        ai += ld<T, F>(a.bias + j, cnt), af += ld<T, F>(a.bias + H + j, cnt);
        ag += ld<T, F>(a.bias + 2 * H + j, cnt), ao += ld<T, F>(a.bias + 3 * H + j, cnt);
      }
      const V i = sigmoid(ai), f = sigmoid(af), gg = tanh_v(ag), o = sigmoid(ao);
      const V cn = f * ld<T, F>(cp + j, cnt) + i * gg;
      const V tc = tanh_v(cn);
      st<T, F>(g + j, i, cnt), st<T, F>(g + H + j, f, cnt);
      st<T, F>(g + 2 * H + j, gg, cnt), st<T, F>(g + 3 * H + j, o, cnt);
      st<T, F>(c + j, cn, cnt);
      if (tc_out != nullptr) st<T, F>(tc_out + j, tc, cnt);
      st<T, F>(h + j, o * tc, cnt);
    });
  }
}

template <typename T>
void lstm_fwd(const LstmStepFwd<T>& a) {
  const int nt = threads_for(kLstmCellWork * a.batch * a.hidden);
  parallel_range(a.batch, 1, nt, [&](int64_t b0, int64_t b1) { lstm_fwd_rows(a, b0, b1); });
}

template <typename T>
void lstm_bwd_rows(const LstmStepBwd<T>& a, int64_t b_begin, int64_t b_end) {
  const int64_t H = a.hidden;
  for (int64_t b = b_begin; b < b_end; ++b) {
    const T* g = a.gates + b * 4 * H;
    const T* cp = a.c_prev + b * a.c_prev_rs;
    const T* tcp = a.tanh_c + b * H;
    const T* dout = a.dout == nullptr ? nullptr : a.dout + b * a.dout_rs;
    const T* dhr = a.dh_rec == nullptr ? nullptr : a.dh_rec + b * H;
    T* dcp = a.dc + b * H;
    T* dz = a.dz + b * 4 * H;
    over_row<T>(H, [&](auto full, int64_t j, int64_t cnt) {
      constexpr bool F = decltype(full)::value;
      using V = Vec<T>;
      const V one = splat<V>(T(1));
      const V i = ld<T, F>(g + j, cnt), f = ld<T, F>(g + H + j, cnt);
      const V gg = ld<T, F>(g + 2 * H + j, cnt), o = ld<T, F>(g + 3 * H + j, cnt);
      const V tc = ld<T, F>(tcp + j, cnt);
      const V dh = ld_or0<T, F>(dout == nullptr ? nullptr : dout + j, cnt) +
                   ld_or0<T, F>(dhr == nullptr ? nullptr : dhr + j, cnt);
      const V dc = ld<T, F>(dcp + j, cnt) + dh * o * (one - tc * tc);
      st<T, F>(dz + j, dc * gg * (i * (one - i)), cnt);
      st<T, F>(dz + H + j, dc * ld<T, F>(cp + j, cnt) * (f * (one - f)), cnt);
      st<T, F>(dz + 2 * H + j, dc * i * (one - gg * gg), cnt);
      st<T, F>(dz + 3 * H + j, dh * tc * (o * (one - o)), cnt);
      st<T, F>(dcp + j, dc * f, cnt);
    });
  }
}

template <typename T>
void lstm_bwd(const LstmStepBwd<T>& a) {
  const int nt = threads_for(kLstmCellWork * a.batch * a.hidden);
  parallel_range(a.batch, 1, nt, [&](int64_t b0, int64_t b1) { lstm_bwd_rows(a, b0, b1); });
}

template <typename T>
void gru_fwd_rows(const GruStepFwd<T>& a, int64_t b_begin, int64_t b_end) {
  const int64_t H = a.hidden;
  for (int64_t b = b_begin; b < b_end; ++b) {
    T* g = a.gates + b * 3 * H;
    const T* gh = a.gh + b * 3 * H;
    const T* hp = a.h_prev + b * a.h_prev_rs;
    T* ghn_out = a.gh_n_out == nullptr ? nullptr : a.gh_n_out + b * H;
    T* h = a.h + b * a.h_rs;
    over_row<T>(H, [&](auto full, int64_t j, int64_t cnt) {
      constexpr bool F = decltype(full)::value;
      using V = Vec<T>;
      const V one = splat<V>(T(1));
      V ar = ld<T, F>(g + j, cnt) + ld<T, F>(gh + j, cnt);
      V az = ld<T, F>(g + H + j, cnt) + ld<T, F>(gh + H + j, cnt);
      V an = ld<T, F>(g + 2 * H + j, cnt);
      V ghn = ld<T, F>(gh + 2 * H + j, cnt);
      if (a.bias != nullptr) {
        ar += ld<T, F>(a.bias + j, cnt), az += ld<T, F>(a.bias + H + j, cnt);
        an += ld<T, F>(a.bias + 2 * H + j, cnt);
      }
      if (a.b_hn != nullptr) ghn += ld<T, F>(a.b_hn + j, cnt);
      const V r = sigmoid(ar), z = sigmoid(az);
      const V n = tanh_v(an + r * ghn);
      st<T, F>(g + j, r, cnt), st<T, F>(g + H + j, z, cnt), st<T, F>(g + 2 * H + j, n, cnt);
      if (ghn_out != nullptr) st<T, F>(ghn_out + j, ghn, cnt);
      st<T, F>(h + j, (one - z) * n + z * ld<T, F>(hp + j, cnt), cnt);
    });
  }
}

template <typename T>
void gru_fwd(const GruStepFwd<T>& a) {
  const int nt = threads_for(kGruCellWork * a.batch * a.hidden);
  parallel_range(a.batch, 1, nt, [&](int64_t b0, int64_t b1) { gru_fwd_rows(a, b0, b1); });
}

template <typename T>
void gru_bwd_rows(const GruStepBwd<T>& a, int64_t b_begin, int64_t b_end) {
  const int64_t H = a.hidden;
  for (int64_t b = b_begin; b < b_end; ++b) {
    const T* g = a.gates + b * 3 * H;
    const T* ghn = a.gh_n + b * H;
    const T* hp = a.h_prev + b * a.h_prev_rs;
    const T* dout = a.dout == nullptr ? nullptr : a.dout + b * a.dout_rs;
    const T* dhr = a.dh_rec == nullptr ? nullptr : a.dh_rec + b * H;
    T* carry = a.carry + b * H;
    T* dzx = a.dzx + b * 3 * H;
    T* dzh = a.dzh + b * 3 * H;
    over_row<T>(H, [&](auto full, int64_t j, int64_t cnt) {
      constexpr bool F = decltype(full)::value;
      using V = Vec<T>;
      const V one = splat<V>(T(1));
      const V r = ld<T, F>(g + j, cnt), z = ld<T, F>(g + H + j, cnt), n = ld<T, F>(g + 2 * H + j, cnt);
      const V dh = ld<T, F>(carry + j, cnt) + ld_or0<T, F>(dout == nullptr ? nullptr : dout + j, cnt) +
                   ld_or0<T, F>(dhr == nullptr ? nullptr : dhr + j, cnt);
      const V dn = dh * (one - z) * (one - n * n);
      const V dzg = dh * (ld<T, F>(hp + j, cnt) - n) * (z * (one - z));
      const V dr = dn * ld<T, F>(ghn + j, cnt) * (r * (one - r));
      st<T, F>(dzx + j, dr, cnt), st<T, F>(dzx + H + j, dzg, cnt), st<T, F>(dzx + 2 * H + j, dn, cnt);
      st<T, F>(dzh + j, dr, cnt), st<T, F>(dzh + H + j, dzg, cnt), st<T, F>(dzh + 2 * H + j, dn * r, cnt);
      st<T, F>(carry + j, dh * z, cnt);
    });
  }
}

template <typename T>
void gru_bwd(const GruStepBwd<T>& a) {
  const int nt = threads_for(kGruCellWork * a.batch * a.hidden);
  parallel_range(a.batch, 1, nt, [&](int64_t b0, int64_t b1) { gru_bwd_rows(a, b0, b1); });
}

}  // namespace

void lstm_step_forward_f32(const LstmStepFwd<float>& a) { lstm_fwd(a); }
void lstm_step_forward_f64(const LstmStepFwd<double>& a) { lstm_fwd(a); }
void lstm_step_backward_f32(const LstmStepBwd<float>& a) { lstm_bwd(a); }
void lstm_step_backward_f64(const LstmStepBwd<double>& a) { lstm_bwd(a); }
void gru_step_forward_f32(const GruStepFwd<float>& a) { gru_fwd(a); }
void gru_step_forward_f64(const GruStepFwd<double>& a) { gru_fwd(a); }
void gru_step_backward_f32(const GruStepBwd<float>& a) { gru_bwd(a); }
void gru_step_backward_f64(const GruStepBwd<double>& a) { gru_bwd(a); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
