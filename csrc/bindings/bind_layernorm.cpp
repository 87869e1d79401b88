// layer_norm bindings: checks, then the kernels with the GIL released.
#include <optional>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/layernorm.h"

namespace fastnn::bindings {
namespace {

using namespace checks;
using OptArray = std::optional<py::array>;

// weight / bias: 1-D, contiguous, x's dtype, one value per column.
const void* check_param(const OptArray& p, const py::array& x, const std::string& op, const char* name) {
  if (!p) return nullptr;
  same_dtype(*p, x, op, name);
  if (p->ndim() != 1 || p->shape(0) != x.shape(1))
    throw py::value_error(op + ": expected " + name + " of shape (" + std::to_string(x.shape(1)) + ",) for x of shape " +
                          shape_str(x) + ", got " + shape_str(*p));
  require_c_contiguous(*p, op, name);
  return p->data();
}

template <typename T>
LayerNormArgs<T> ln_args(const py::array& x, const OptArray& weight, const OptArray& bias, double eps,
                         const std::string& op) {
  const int64_t ld = row_stride(x, op, "x");
  const auto* w = static_cast<const T*>(check_param(weight, x, op, "weight"));
  const auto* b = static_cast<const T*>(check_param(bias, x, op, "bias"));
  if (!(eps >= 0.0)) throw py::value_error(op + ": eps must be non-negative, got " + std::to_string(eps));
  return LayerNormArgs<T>{static_cast<const T*>(x.data()), x.shape(0), x.shape(1), ld, w, b, eps};
}

template <typename T>
py::tuple forward_typed(const py::array& x, const OptArray& weight, const OptArray& bias, double eps, Isa isa) {
  const auto a = ln_args<T>(x, weight, bias, eps, "layer_norm");
  auto y = new_array<T>({x.shape(0), x.shape(1)}, "layer_norm", "the output");
  py::array_t<T> mean(x.shape(0)), rstd(x.shape(0));
  T* py_ = y.mutable_data();
  T* pm = mean.mutable_data();
  T* pr = rstd.mutable_data();
  {
    py::gil_scoped_release release;
    layer_norm_forward(isa, a, py_, pm, pr);
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple forward(const py::array& x, const OptArray& weight, const OptArray& bias, double eps,
                  const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "layer_norm");
  const Dtype dt = float_dtype(x, "layer_norm", "x");
  require_ndim(x, 2, "layer_norm", "x");
  if (dt == Dtype::f32) return forward_typed<float>(x, weight, bias, eps, isa);
  return forward_typed<double>(x, weight, bias, eps, isa);
}

template <typename T>
py::tuple backward_typed(const py::array& x, const py::array& gy, const py::array& mean, const py::array& rstd,
                         const OptArray& weight, bool need_input, bool need_weight, bool need_bias, Isa isa) {
  const std::string op = "layer_norm_backward";
  const auto a = ln_args<T>(x, weight, std::nullopt, 0.0, op);
  same_dtype(gy, x, op, "grad_output");
  same_shape(gy, x, op, "grad_output", "x");
  require_c_contiguous(gy, op, "grad_output");
  for (const auto* v : {&mean, &rstd}) {
    const char* name = v == &mean ? "mean" : "rstd";
    same_dtype(*v, x, op, name);
    if (v->ndim() != 1 || v->shape(0) != x.shape(0))
      throw py::value_error(op + ": expected " + name + " of shape (" + std::to_string(x.shape(0)) + ",), got " +
                            shape_str(*v));
    require_c_contiguous(*v, op, name);
  }
  py::object dx = py::none(), dw = py::none(), db = py::none();
  LayerNormGrads<T> g{static_cast<const T*>(gy.data()), static_cast<const T*>(mean.data()),
                      static_cast<const T*>(rstd.data()), nullptr, nullptr, nullptr};
  if (need_input) {
    auto arr = new_array<T>({x.shape(0), x.shape(1)}, op, "the input gradient");
    g.dx = arr.mutable_data();
    dx = arr;
  }
  if (need_weight) {
    py::array_t<T> arr(x.shape(1));
    g.dweight = arr.mutable_data();
    dw = arr;
  }
  if (need_bias) {
    py::array_t<T> arr(x.shape(1));
    g.dbias = arr.mutable_data();
    db = arr;
  }
  {
    py::gil_scoped_release release;
    layer_norm_backward(isa, a, g);
  }
  return py::make_tuple(dx, dw, db);
}

py::tuple backward(const py::array& x, const py::array& gy, const py::array& mean, const py::array& rstd,
                   const OptArray& weight, bool need_input, bool need_weight, bool need_bias,
                   const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "layer_norm_backward");
  const Dtype dt = float_dtype(x, "layer_norm_backward", "x");
  require_ndim(x, 2, "layer_norm_backward", "x");
  if (dt == Dtype::f32) return backward_typed<float>(x, gy, mean, rstd, weight, need_input, need_weight, need_bias, isa);
  return backward_typed<double>(x, gy, mean, rstd, weight, need_input, need_weight, need_bias, isa);
}

}  // namespace

void bind_layernorm(py::module_& m) {
  m.def("layer_norm_forward", &forward, py::arg("x"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("eps") = 1e-5, py::kw_only(), py::arg("isa") = py::none(),
        "LayerNorm over the last dim of a 2-D float array with contiguous rows: returns (y, mean, rstd).");
  m.def("layer_norm_backward", &backward, py::arg("x"), py::arg("grad_output"), py::arg("mean"), py::arg("rstd"),
        py::arg("weight") = py::none(), py::kw_only(), py::arg("need_input") = true, py::arg("need_weight") = false,
        py::arg("need_bias") = false, py::arg("isa") = py::none(),
        "Gradients of layer_norm from the saved mean and rstd: returns (dx, dweight, dbias), None where not "
        "needed; dweight/dbias are bitwise independent of the thread count.");
}

}  // namespace fastnn::bindings
