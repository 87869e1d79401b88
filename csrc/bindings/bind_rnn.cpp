// LSTM / GRU sequence bindings: every array's dtype, shape, strides and writability checked (ValueError /
// TypeError naming the op and the argument), then the whole sequence with the GIL released. The caller
// (backend/cpu/rnn.py) allocates every output and saved array, so they can come from its recycling pool.
#include <optional>
#include <string>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/rnn_cell.h"

namespace fastnn::bindings {
namespace {

using namespace checks;
using OptArray = std::optional<py::array>;

struct Ctx {
  std::string op;
  const py::array& ref;  // its dtype is the call's

  void shape(const py::array& a, std::initializer_list<int64_t> dims, const char* name) const {
    same_dtype(a, ref, op, name);
    bool ok = a.ndim() == static_cast<py::ssize_t>(dims.size());
    int d = 0;
    for (int64_t want : dims) ok = ok && a.shape(d++) == want;
    if (!ok) {
      std::string s = "(";
      d = 0;
      for (int64_t want : dims) s += (d++ ? ", " : "") + std::to_string(want);
      throw py::value_error(op + ": expected " + name + " of shape " + s + (dims.size() == 1 ? ",)" : ")") +
                            ", got " + shape_str(a));
    }
  }
  void writeable(const py::array& a, const char* name) const {
    if (!a.writeable()) throw py::value_error(op + ": " + name + " must be writeable");
  }
  template <typename T>
  T* dense(const py::array& a, std::initializer_list<int64_t> dims, const char* name, bool out) const {
    shape(a, dims, name);
    require_c_contiguous(a, op, name);
    if (out) writeable(a, name);
    return static_cast<T*>(const_cast<void*>(a.data()));
  }
  template <typename T>
  T* dense_opt(const OptArray& a, std::initializer_list<int64_t> dims, const char* name, bool out) const {
    return a ? dense<T>(*a, dims, name, out) : nullptr;
  }
  // Rows of contiguous elements at any row (and step) stride: (L, N, H) or (N, H).
  template <typename T>
  Rows<T> rows(const py::array& a, std::initializer_list<int64_t> dims, const char* name, bool out) const {
    shape(a, dims, name);
    if (out) writeable(a, name);
    const auto st = element_strides(a, op.c_str(), name);
    const py::ssize_t last = a.ndim() - 1;
    if (a.size() > 0 && a.shape(last) > 1 && st[last] != 1)  // an empty array's strides mean nothing
      throw py::value_error(op + ": " + name + " of shape " + shape_str(a) +
                            " must have contiguous rows (last-dim stride " + std::to_string(a.strides(last)) +
                            " bytes)");
    auto* p = static_cast<T*>(const_cast<void*>(a.data()));
    return a.ndim() == 3 ? Rows<T>{p, st[1], st[0]} : Rows<T>{p, st[0], 0};
  }
  template <typename T>
  Operand<const T> operand(const py::array& a, int64_t k, int64_t m, const char* name) const {
    shape(a, {k, m}, name);
    const auto st = element_strides(a, op.c_str(), name);
    return {static_cast<const T*>(a.data()), st[0], st[1]};
  }
};

// (L, N, gates * H) from `gates`, H from the recurrent weight's short side.
struct Dims {
  int64_t steps, batch, hidden;
};

Dims seq_dims(const py::array& gates, const py::array& w, int gate_count, bool transposed, const std::string& op) {
  require_ndim(gates, 3, op, "gates");
  require_ndim(w, 2, op, transposed ? "w_hh_t" : "w_hh");
  const int64_t hidden = transposed ? w.shape(0) : w.shape(1);
  if (hidden <= 0) throw py::value_error(op + ": the hidden size must be positive, got " + std::to_string(hidden));
  if (gates.shape(2) != gate_count * hidden)
    throw py::value_error(op + ": expected gates of width " + std::to_string(gate_count) + " * " +
                          std::to_string(hidden) + " = " + std::to_string(gate_count * hidden) + ", got shape " +
                          shape_str(gates));
  return {gates.shape(0), gates.shape(1), hidden};
}

template <typename T>
void lstm_fwd_typed(const py::array& gates, const OptArray& bias, const py::array& w_hh_t, const py::array& h0,
                    const py::array& c0, const py::array& out, const py::array& c_n, const py::array& c,
                    const OptArray& tanh_c, bool reverse, Isa isa) {
  const Ctx x{"lstm_sequence_forward", gates};
  const auto [L, N, H] = seq_dims(gates, w_hh_t, 4, true, x.op);
  LstmSeqFwd<T> a{L, N, H, reverse, x.dense<T>(gates, {L, N, 4 * H}, "gates", true),
                  x.dense_opt<const T>(bias, {4 * H}, "bias", false), x.operand<T>(w_hh_t, H, 4 * H, "w_hh_t"),
                  x.rows<const T>(h0, {N, H}, "h0", false), x.rows<const T>(c0, {N, H}, "c0", false),
                  x.rows<T>(out, {L, N, H}, "out", true), x.rows<T>(c_n, {N, H}, "c_n", true),
                  x.dense<T>(c, {L, N, H}, "c", true), x.dense_opt<T>(tanh_c, {L, N, H}, "tanh_c", true)};
  if (L == 0 || N == 0) throw py::value_error(x.op + ": expected a non-empty sequence and batch, got gates of shape " +
                                              shape_str(gates));
  py::gil_scoped_release release;
  lstm_sequence_forward(isa, a);
}

template <typename T>
void lstm_bwd_typed(const py::array& gates, const py::array& c, const py::array& tanh_c, const py::array& c0,
                    const py::array& w_hh, const py::array& dout, const OptArray& dcn, const py::array& dz,
                    const OptArray& dh0, const py::array& dc0, bool reverse, Isa isa) {
  const Ctx x{"lstm_sequence_backward", gates};
  const auto [L, N, H] = seq_dims(gates, w_hh, 4, false, x.op);
  LstmSeqBwd<T> a{L, N, H, reverse, x.dense<const T>(gates, {L, N, 4 * H}, "gates", false),
                  x.dense<const T>(c, {L, N, H}, "c", false), x.dense<const T>(tanh_c, {L, N, H}, "tanh_c", false),
                  x.rows<const T>(c0, {N, H}, "c0", false), x.operand<T>(w_hh, 4 * H, H, "w_hh"),
                  x.rows<const T>(dout, {L, N, H}, "dout", false),
                  dcn ? x.rows<const T>(*dcn, {N, H}, "dcn", false) : Rows<const T>{nullptr, 0, 0},
                  x.dense<T>(dz, {L, N, 4 * H}, "dz", true), x.dense_opt<T>(dh0, {N, H}, "dh0", true),
                  x.dense<T>(dc0, {N, H}, "dc0", true)};
  if (L == 0 || N == 0) throw py::value_error(x.op + ": expected a non-empty sequence and batch, got gates of shape " +
                                              shape_str(gates));
  py::gil_scoped_release release;
  lstm_sequence_backward(isa, a);
}

template <typename T>
void gru_fwd_typed(const py::array& gates, const OptArray& bias, const OptArray& b_hn, const py::array& w_hh_t,
                   const py::array& h0, const py::array& out, const OptArray& gh_n, bool reverse, Isa isa) {
  const Ctx x{"gru_sequence_forward", gates};
  const auto [L, N, H] = seq_dims(gates, w_hh_t, 3, true, x.op);
  GruSeqFwd<T> a{L, N, H, reverse, x.dense<T>(gates, {L, N, 3 * H}, "gates", true),
                 x.dense_opt<const T>(bias, {3 * H}, "bias", false), x.dense_opt<const T>(b_hn, {H}, "b_hn", false),
                 x.operand<T>(w_hh_t, H, 3 * H, "w_hh_t"), x.rows<const T>(h0, {N, H}, "h0", false),
                 x.rows<T>(out, {L, N, H}, "out", true), x.dense_opt<T>(gh_n, {L, N, H}, "gh_n", true)};
  if (L == 0 || N == 0) throw py::value_error(x.op + ": expected a non-empty sequence and batch, got gates of shape " +
                                              shape_str(gates));
  py::gil_scoped_release release;
  gru_sequence_forward(isa, a);
}

template <typename T>
void gru_bwd_typed(const py::array& gates, const py::array& gh_n, const py::array& h0, const py::array& out,
                   const py::array& w_hh, const py::array& dout, const py::array& dzx, const py::array& dzh,
                   const OptArray& dh0, bool reverse, Isa isa) {
  const Ctx x{"gru_sequence_backward", gates};
  const auto [L, N, H] = seq_dims(gates, w_hh, 3, false, x.op);
  GruSeqBwd<T> a{L, N, H, reverse, x.dense<const T>(gates, {L, N, 3 * H}, "gates", false),
                 x.dense<const T>(gh_n, {L, N, H}, "gh_n", false), x.rows<const T>(h0, {N, H}, "h0", false),
                 x.rows<const T>(out, {L, N, H}, "out", false), x.operand<T>(w_hh, 3 * H, H, "w_hh"),
                 x.rows<const T>(dout, {L, N, H}, "dout", false), x.dense<T>(dzx, {L, N, 3 * H}, "dzx", true),
                 x.dense<T>(dzh, {L, N, 3 * H}, "dzh", true), x.dense_opt<T>(dh0, {N, H}, "dh0", true)};
  if (L == 0 || N == 0) throw py::value_error(x.op + ": expected a non-empty sequence and batch, got gates of shape " +
                                              shape_str(gates));
  if (dzx.data() == dzh.data()) throw py::value_error(x.op + ": dzx and dzh must be different arrays");
  py::gil_scoped_release release;
  gru_sequence_backward(isa, a);
}

#define FASTNN_TYPED(fn, op, ...)                                                  \
  const Isa isa = resolve_isa(isa_name, op);                                       \
  if (float_dtype(gates, op, "gates") == Dtype::f32) return fn<float>(__VA_ARGS__, isa); \
  return fn<double>(__VA_ARGS__, isa);

void lstm_fwd(const py::array& gates, const OptArray& bias, const py::array& w_hh_t, const py::array& h0,
              const py::array& c0, const py::array& out, const py::array& c_n, const py::array& c,
              const OptArray& tanh_c, bool reverse, const py::object& isa_name) {
  FASTNN_TYPED(lstm_fwd_typed, "lstm_sequence_forward", gates, bias, w_hh_t, h0, c0, out, c_n, c, tanh_c, reverse)
}
void lstm_bwd(const py::array& gates, const py::array& c, const py::array& tanh_c, const py::array& c0,
              const py::array& w_hh, const py::array& dout, const OptArray& dcn, const py::array& dz,
              const OptArray& dh0, const py::array& dc0, bool reverse, const py::object& isa_name) {
  FASTNN_TYPED(lstm_bwd_typed, "lstm_sequence_backward", gates, c, tanh_c, c0, w_hh, dout, dcn, dz, dh0, dc0, reverse)
}
void gru_fwd(const py::array& gates, const OptArray& bias, const OptArray& b_hn, const py::array& w_hh_t,
             const py::array& h0, const py::array& out, const OptArray& gh_n, bool reverse,
             const py::object& isa_name) {
  FASTNN_TYPED(gru_fwd_typed, "gru_sequence_forward", gates, bias, b_hn, w_hh_t, h0, out, gh_n, reverse)
}
void gru_bwd(const py::array& gates, const py::array& gh_n, const py::array& h0, const py::array& out,
             const py::array& w_hh, const py::array& dout, const py::array& dzx, const py::array& dzh,
             const OptArray& dh0, bool reverse, const py::object& isa_name) {
  FASTNN_TYPED(gru_bwd_typed, "gru_sequence_backward", gates, gh_n, h0, out, w_hh, dout, dzx, dzh, dh0, reverse)
}
#undef FASTNN_TYPED

}  // namespace

void bind_rnn(py::module_& m) {
  m.def("lstm_sequence_forward", &lstm_fwd, py::arg("gates"), py::arg("bias"), py::arg("w_hh_t"), py::arg("h0"),
        py::arg("c0"), py::arg("out"), py::arg("c_n"), py::arg("c"), py::arg("tanh_c"), py::arg("reverse"),
        py::kw_only(), py::arg("isa") = py::none(),
        "One LSTM direction over a sequence. gates (L, N, 4H): x W_ihᵀ in, the activations i, f, g, o out; "
        "bias (4H,) or None; w_hh_t: W_hhᵀ (H, 4H), any strides; h0, c0 (N, H); writes h_t into out (L, N, H), "
        "c_t into c (L, N, H), tanh(c_t) into tanh_c (or None) and the last c into c_n.");
  m.def("lstm_sequence_backward", &lstm_bwd, py::arg("gates"), py::arg("c"), py::arg("tanh_c"), py::arg("c0"),
        py::arg("w_hh"), py::arg("dout"), py::arg("dcn"), py::arg("dz"), py::arg("dh0"), py::arg("dc0"),
        py::arg("reverse"), py::kw_only(), py::arg("isa") = py::none(),
        "Backward through time of lstm_sequence_forward: writes the gate pre-activation gradients into dz "
        "(L, N, 4H), dh0 (N, H; None: not wanted) and dc0 (N, H). dcn (N, H) or None (zero).");
  m.def("gru_sequence_forward", &gru_fwd, py::arg("gates"), py::arg("bias"), py::arg("b_hn"), py::arg("w_hh_t"),
        py::arg("h0"), py::arg("out"), py::arg("gh_n"), py::arg("reverse"), py::kw_only(), py::arg("isa") = py::none(),
        "One GRU direction over a sequence. gates (L, N, 3H): x W_ihᵀ in, r, z, n out; bias (3H,): b_ih + "
        "[b_hr, b_hz, 0] or None; b_hn (H,) or None; w_hh_t (H, 3H); writes h_t into out and h W_hnᵀ + b_hn "
        "into gh_n (L, N, H; None when no backward follows).");
  m.def("gru_sequence_backward", &gru_bwd, py::arg("gates"), py::arg("gh_n"), py::arg("h0"), py::arg("out"),
        py::arg("w_hh"), py::arg("dout"), py::arg("dzx"), py::arg("dzh"), py::arg("dh0"), py::arg("reverse"),
        py::kw_only(), py::arg("isa") = py::none(),
        "Backward through time of gru_sequence_forward: writes the input pre-activation gradients into dzx, "
        "the recurrent ones (n's times r) into dzh, both (L, N, 3H), and dh0 (N, H; None: not wanted).");
}

}  // namespace fastnn::bindings
