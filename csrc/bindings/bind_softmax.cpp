// softmax / log_softmax / cross-entropy bindings: checks, then the kernels with the GIL released.
#include <optional>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/softmax.h"

namespace fastnn::bindings {
namespace {

using namespace checks;

template <typename T>
py::array exp_typed(const py::array& x, Isa isa) {
  return map_elementwise<T>(x, [isa](const T* px, T* py_, int64_t n) { vector_exp(isa, px, py_, n); }, "vector_exp");
}

py::array vexp(const py::array& x, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "vector_exp");
  if (float_dtype(x, "vector_exp", "x") == Dtype::f32) return exp_typed<float>(x, isa);
  return exp_typed<double>(x, isa);
}

template <typename T>
py::array softmax_typed(const py::array& x, bool log, Isa isa) {
  const char* op = log ? "log_softmax" : "softmax";
  SoftmaxArgs<T> a{static_cast<const T*>(x.data()), x.shape(0), x.shape(1), row_stride(x, op, "x"), log};
  auto y = new_array<T>({x.shape(0), x.shape(1)}, op, "the output");
  if (y.size() == 0) return y;  // zero-size work: no kernel call
  T* py_ = y.mutable_data();
  py::gil_scoped_release release;
  softmax_forward(isa, a, py_);
  return y;
}

py::array softmax_fwd(const py::array& x, bool log, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, log ? "log_softmax" : "softmax");
  const char* op = log ? "log_softmax" : "softmax";
  const Dtype dt = float_dtype(x, op, "x");
  require_ndim(x, 2, op, "x");
  if (dt == Dtype::f32) return softmax_typed<float>(x, log, isa);
  return softmax_typed<double>(x, log, isa);
}

template <typename T>
py::array softmax_bwd_typed(const py::array& y, const py::array& gy, bool log, Isa isa) {
  py::array_t<T> gx({y.shape(0), y.shape(1)});
  if (gx.size() == 0) return gx;
  const T* py_ = static_cast<const T*>(y.data());
  const T* pg = static_cast<const T*>(gy.data());
  T* px = gx.mutable_data();
  const int64_t rows = y.shape(0), cols = y.shape(1);
  py::gil_scoped_release release;
  softmax_backward(isa, py_, pg, px, rows, cols, log);
  return gx;
}

py::array softmax_bwd(const py::array& y, const py::array& gy, bool log, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, log ? "log_softmax_backward" : "softmax_backward");
  const std::string op = log ? "log_softmax_backward" : "softmax_backward";
  const Dtype dt = float_dtype(y, op, "output");
  same_dtype(gy, y, op, "grad_output");
  require_ndim(y, 2, op, "output");
  same_shape(gy, y, op, "grad_output", "output");
  require_c_contiguous(y, op, "output");
  require_c_contiguous(gy, op, "grad_output");
  if (dt == Dtype::f32) return softmax_bwd_typed<float>(y, gy, log, isa);
  return softmax_bwd_typed<double>(y, gy, log, isa);
}

using Targets = py::array_t<int64_t, py::array::c_style>;

// Checks logits (N, C) and int64 targets (N,) in [0, C) or == ignore_index, as F.cross_entropy does.
Targets check_xent(const py::array& logits, const py::array& target, int64_t ignore_index, double label_smoothing,
                   const char* op) {
  float_dtype(logits, op, "logits");
  require_ndim(logits, 2, op, "logits");
  if (!target.dtype().equal(py::dtype::of<int64_t>()))
    throw py::type_error(std::string(op) + ": expected target to hold int64 class indices, got " + dtype_str(target));
  if (target.ndim() != 1 || target.shape(0) != logits.shape(0))
    throw py::value_error(std::string(op) + ": expected target of shape (" + std::to_string(logits.shape(0)) +
                          ",) for logits of shape " + shape_str(logits) + ", got " + shape_str(target));
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw py::value_error(std::string(op) + ": label_smoothing must be between 0.0 and 1.0, got " +
                          std::to_string(label_smoothing));
  Targets t = Targets::ensure(target);
  const int64_t* pt = t.data();
  const int64_t n = t.shape(0), c = logits.shape(1);
  for (int64_t i = 0; i < n; ++i) {
    if (pt[i] != ignore_index && (pt[i] < 0 || pt[i] >= c))
      throw py::index_error(std::string(op) + ": Target " + std::to_string(pt[i]) + " is out of bounds (row " +
                            std::to_string(i) + "; logits " + shape_str(logits) + " have " + std::to_string(c) +
                            " classes)");
  }
  return t;
}

template <typename T>
CrossEntropyArgs<T> xent_args(const py::array& logits, const Targets& t, int64_t ignore_index, double ls,
                              const char* op) {
  return CrossEntropyArgs<T>{static_cast<const T*>(logits.data()), logits.shape(0), logits.shape(1),
                             row_stride(logits, op, "logits"), t.data(), ignore_index, ls};
}

template <typename T>
py::tuple xent_fwd_typed(const py::array& logits, const Targets& t, int64_t ignore_index, double ls, Isa isa) {
  const auto a = xent_args<T>(logits, t, ignore_index, ls, "cross_entropy");
  auto loss = new_array<T>({logits.shape(0)}, "cross_entropy", "the loss");
  auto lse = new_array<T>({logits.shape(0)}, "cross_entropy", "the logsumexp");
  T* pl = loss.mutable_data();
  T* ps = lse.mutable_data();
  {
    py::gil_scoped_release release;
    cross_entropy_forward(isa, a, pl, ps);
  }
  return py::make_tuple(loss, lse);
}

py::tuple xent_fwd(const py::array& logits, const py::array& target, int64_t ignore_index, double label_smoothing,
                   const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "cross_entropy");
  const Targets t = check_xent(logits, target, ignore_index, label_smoothing, "cross_entropy");
  if (float_dtype(logits, "cross_entropy", "logits") == Dtype::f32)
    return xent_fwd_typed<float>(logits, t, ignore_index, label_smoothing, isa);
  return xent_fwd_typed<double>(logits, t, ignore_index, label_smoothing, isa);
}

template <typename T>
py::array xent_bwd_typed(const py::array& logits, const Targets& t, const py::array& lse,
                         const std::optional<py::array>& grad_rows, double scale, int64_t ignore_index, double ls,
                         Isa isa) {
  const auto a = xent_args<T>(logits, t, ignore_index, ls, "cross_entropy_backward");
  const T* pl = static_cast<const T*>(lse.data());
  const T* pg = grad_rows ? static_cast<const T*>(grad_rows->data()) : nullptr;
  auto gx = new_array<T>({logits.shape(0), logits.shape(1)}, "cross_entropy_backward", "the gradient");
  if (gx.size() == 0) return gx;
  T* px = gx.mutable_data();
  py::gil_scoped_release release;
  cross_entropy_backward(isa, a, pl, pg, scale, px);
  return gx;
}

py::array xent_bwd(const py::array& logits, const py::array& target, const py::array& lse,
                   const std::optional<py::array>& grad_rows, double scale, int64_t ignore_index,
                   double label_smoothing, const py::object& isa_name) {
  const char* op = "cross_entropy_backward";
  const Isa isa = resolve_isa(isa_name, "cross_entropy_backward");
  const Targets t = check_xent(logits, target, ignore_index, label_smoothing, op);
  const Dtype dt = float_dtype(logits, op, "logits");
  auto check_rows = [&](const py::array& v, const char* name) {
    same_dtype(v, logits, op, name);
    if (v.ndim() != 1 || v.shape(0) != logits.shape(0))
      throw py::value_error(std::string(op) + ": expected " + name + " of shape (" + std::to_string(logits.shape(0)) +
                            ",), got " + shape_str(v));
    require_c_contiguous(v, op, name);
  };
  check_rows(lse, "lse");
  if (grad_rows) check_rows(*grad_rows, "grad_rows");
  if (dt == Dtype::f32) return xent_bwd_typed<float>(logits, t, lse, grad_rows, scale, ignore_index, label_smoothing, isa);
  return xent_bwd_typed<double>(logits, t, lse, grad_rows, scale, ignore_index, label_smoothing, isa);
}

}  // namespace

void bind_softmax(py::module_& m) {
  m.def("vector_exp", &vexp, py::arg("x"), py::kw_only(), py::arg("isa") = py::none(),
        "Element-wise exp by the kernels' own vector polynomial (float32/float64), for testing.");
  m.def("softmax_forward", &softmax_fwd, py::arg("x"), py::arg("log") = false, py::kw_only(),
        py::arg("isa") = py::none(),
        "softmax (or log_softmax with log=True) over the last dim of a 2-D array with contiguous rows.");
  m.def("softmax_backward", &softmax_bwd, py::arg("output"), py::arg("grad_output"), py::arg("log") = false,
        py::kw_only(), py::arg("isa") = py::none(),
        "Input gradient of softmax (log_softmax with log=True) from its output; C-contiguous 2-D arrays.");
  m.def("cross_entropy_forward", &xent_fwd, py::arg("logits"), py::arg("target"), py::arg("ignore_index") = -100,
        py::arg("label_smoothing") = 0.0, py::kw_only(), py::arg("isa") = py::none(),
        "Per-row cross-entropy of (N, C) logits against int64 class indices: returns (loss, logsumexp), "
        "both (N,), 0 for ignored rows.");
  m.def("cross_entropy_backward", &xent_bwd, py::arg("logits"), py::arg("target"), py::arg("lse"),
        py::arg("grad_rows"), py::arg("scale"), py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0,
        py::kw_only(), py::arg("isa") = py::none(),
        "Gradient of the per-row losses w.r.t. the logits, scaled per row by scale * grad_rows[i] (or by "
        "scale when grad_rows is None), from the forward's logsumexp.");
}

}  // namespace fastnn::bindings
