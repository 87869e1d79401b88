// batch_norm bindings: checks, then the kernels with the GIL released.
#include <optional>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/batchnorm.h"

namespace fastnn::bindings {
namespace {

using namespace checks;
using OptArray = std::optional<py::array>;

// x / grad_output: (n, c, l), C-contiguous.
void check_x(const py::array& x, const std::string& op, const char* name) {
  require_ndim(x, 3, op, name);
  require_c_contiguous(x, op, name);
}

// A per-channel vector: 1-D, contiguous, of dtype `like`'s, one value per channel.
void check_vector(const py::array& v, const py::array& like, int64_t c, const std::string& op, const char* name) {
  same_dtype(v, like, op, name);
  if (v.ndim() != 1 || v.shape(0) != c)
    throw py::value_error(op + ": expected " + name + " of shape (" + std::to_string(c) + ",), got " + shape_str(v));
  require_c_contiguous(v, op, name);
}

template <typename T>
const T* optional_vector(const OptArray& v, const py::array& x, const std::string& op, const char* name) {
  if (!v) return nullptr;
  check_vector(*v, x, x.shape(1), op, name);
  return static_cast<const T*>(v->data());
}

template <typename T>
BatchNormArgs<T> bn_args(const py::array& x, const OptArray& weight, const std::string& op) {
  return BatchNormArgs<T>{static_cast<const T*>(x.data()), x.shape(0), x.shape(1), x.shape(2),
                          optional_vector<T>(weight, x, op, "weight")};
}

template <typename T>
py::tuple forward_typed(const py::array& x, const OptArray& weight, const OptArray& bias, const OptArray& running_mean,
                        const OptArray& running_var, bool training, double eps, Isa isa) {
  const std::string op = "batch_norm_forward";
  const auto a = bn_args<T>(x, weight, op);
  BatchNormForward<T> f{optional_vector<T>(bias, x, op, "bias"), optional_vector<T>(running_mean, x, op, "running_mean"),
                        optional_vector<T>(running_var, x, op, "running_var"), training, eps,
                        nullptr, nullptr, nullptr, nullptr};
  if (!(eps >= 0.0)) throw py::value_error(op + ": eps must be non-negative, got " + std::to_string(eps));
  if (training && a.n * a.l == 0)
    throw py::value_error(op + ": training needs at least one value per channel, got x of shape " + shape_str(x));
  if (!training && (!f.running_mean || !f.running_var))
    throw py::value_error(op + ": eval mode needs running_mean and running_var");
  auto y = new_array<T>({a.n, a.c, a.l}, op, "the output");
  py::array_t<double> mean(a.c), invstd(a.c);
  py::object var = py::none();
  f.y = y.mutable_data();
  f.mean = mean.mutable_data();
  f.invstd = invstd.mutable_data();
  if (training) {
    py::array_t<double> arr(a.c);
    f.var = arr.mutable_data();
    var = arr;
  }
  {
    py::gil_scoped_release release;
    batch_norm_forward(isa, a, f);
  }
  return py::make_tuple(y, mean, invstd, var);
}

py::tuple forward(const py::array& x, const OptArray& weight, const OptArray& bias, const OptArray& running_mean,
                  const OptArray& running_var, bool training, double eps, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "batch_norm_forward");
  const Dtype dt = float_dtype(x, "batch_norm_forward", "x");
  check_x(x, "batch_norm_forward", "x");
  if (dt == Dtype::f32) return forward_typed<float>(x, weight, bias, running_mean, running_var, training, eps, isa);
  return forward_typed<double>(x, weight, bias, running_mean, running_var, training, eps, isa);
}

template <typename T>
py::tuple backward_typed(const py::array& gy, const py::array& x, const py::array& mean, const py::array& invstd,
                         const OptArray& weight, bool training, bool need_input, bool need_weight, bool need_bias,
                         Isa isa) {
  const std::string op = "batch_norm_backward";
  const auto a = bn_args<T>(x, weight, op);
  same_dtype(gy, x, op, "grad_output");
  same_shape(gy, x, op, "grad_output", "x");
  require_c_contiguous(gy, op, "grad_output");
  const py::array f64 = py::array_t<double>(0);  // the statistics' dtype, for the checks
  check_vector(mean, f64, a.c, op, "mean");
  check_vector(invstd, f64, a.c, op, "invstd");
  BatchNormGrads<T> g{static_cast<const T*>(gy.data()), static_cast<const double*>(mean.data()),
                      static_cast<const double*>(invstd.data()), training, nullptr, nullptr, nullptr};
  py::object dx = py::none(), dw = py::none(), db = py::none();
  if (need_input) {
    auto arr = new_array<T>({a.n, a.c, a.l}, op, "the input gradient");
    g.dx = arr.mutable_data();
    dx = arr;
  }
  if (need_weight) {
    py::array_t<T> arr(a.c);
    g.dweight = arr.mutable_data();
    dw = arr;
  }
  if (need_bias) {
    py::array_t<T> arr(a.c);
    g.dbias = arr.mutable_data();
    db = arr;
  }
  {
    py::gil_scoped_release release;
    batch_norm_backward(isa, a, g);
  }
  return py::make_tuple(dx, dw, db);
}

py::tuple backward(const py::array& gy, const py::array& x, const py::array& mean, const py::array& invstd,
                   const OptArray& weight, bool training, bool need_input, bool need_weight, bool need_bias,
                   const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "batch_norm_backward");
  const Dtype dt = float_dtype(x, "batch_norm_backward", "x");
  check_x(x, "batch_norm_backward", "x");
  if (dt == Dtype::f32)
    return backward_typed<float>(gy, x, mean, invstd, weight, training, need_input, need_weight, need_bias, isa);
  return backward_typed<double>(gy, x, mean, invstd, weight, training, need_input, need_weight, need_bias, isa);
}

}  // namespace

void bind_batchnorm(py::module_& m) {
  m.def("batch_norm_forward", &forward, py::arg("x"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("running_mean") = py::none(), py::arg("running_var") = py::none(), py::arg("training") = true,
        py::arg("eps") = 1e-5, py::kw_only(), py::arg("isa") = py::none(),
        "BatchNorm over a C-contiguous (N, C, L) float array: returns (y, mean, invstd, var), the statistics "
        "float64 (C,); training uses the batch statistics (var: the biased variance), eval the running buffers "
        "(var None). The running buffers are not updated.");
  m.def("batch_norm_backward", &backward, py::arg("grad_output"), py::arg("x"), py::arg("mean"), py::arg("invstd"),
        py::arg("weight") = py::none(), py::arg("training") = true, py::kw_only(), py::arg("need_input") = true,
        py::arg("need_weight") = false, py::arg("need_bias") = false, py::arg("isa") = py::none(),
        "Gradients of batch_norm from the forward's float64 mean and invstd: returns (dx, dweight, dbias), None "
        "where not needed; bitwise independent of the thread count.");
}

}  // namespace fastnn::bindings
