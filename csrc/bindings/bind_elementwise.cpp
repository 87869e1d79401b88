#include "array_checks.h"
#include "bindings.h"
#include "fastnn/elementwise.h"
#include "fastnn/gelu.h"

namespace fastnn::bindings {
namespace {

py::array erf(const py::array& x) {
  if (x.dtype().equal(py::dtype::of<float>())) return checks::map_elementwise<float>(x, erf_f32, "erf");
  if (x.dtype().equal(py::dtype::of<double>())) return checks::map_elementwise<double>(x, erf_f64, "erf");
  throw py::type_error("erf: expected a float32 or float64 array, got " + py::str(x.dtype()).cast<std::string>());
}

// GELU's operands: one float dtype, one shape, C-contiguous (the CPU backend makes them so).
checks::Dtype gelu_check(const std::vector<const py::array*>& arrays, const char* const* names, const std::string& op) {
  const py::array& x = *arrays[0];
  const auto dt = checks::float_dtype(x, op, names[0]);
  for (size_t i = 0; i < arrays.size(); ++i) {
    checks::same_dtype(*arrays[i], x, op, names[i]);
    checks::same_shape(*arrays[i], x, op, names[i], names[0]);
    checks::require_c_contiguous(*arrays[i], op, names[i]);
  }
  return dt;
}

template <typename T>
py::tuple gelu_forward_typed(const py::array& x, Isa isa) {
  const std::vector<int64_t> shape(x.shape(), x.shape() + x.ndim());
  auto y = checks::new_array<T>(shape, "gelu_forward", "the output");
  auto cdf = checks::new_array<T>(shape, "gelu_forward", "the saved cdf");
  const T* px = static_cast<const T*>(x.data());
  T* py_ = y.mutable_data();
  T* pc = cdf.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release release;
    gelu_forward(isa, px, py_, pc, n);
  }
  return py::make_tuple(y, cdf);
}

py::tuple gelu_forward_entry(const py::array& x, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "gelu_forward");
  const char* names[] = {"x"};
  if (gelu_check({&x}, names, "gelu_forward") == checks::Dtype::f32) return gelu_forward_typed<float>(x, isa);
  return gelu_forward_typed<double>(x, isa);
}

template <typename T>
py::array gelu_backward_typed(const py::array& g, const py::array& x, const py::array& cdf, Isa isa) {
  const std::vector<int64_t> shape(x.shape(), x.shape() + x.ndim());
  auto dx = checks::new_array<T>(shape, "gelu_backward", "the input gradient");
  const T* pg = static_cast<const T*>(g.data());
  const T* px = static_cast<const T*>(x.data());
  const T* pc = static_cast<const T*>(cdf.data());
  T* pd = dx.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release release;
    gelu_backward(isa, pg, px, pc, pd, n);
  }
  return dx;
}

py::array gelu_backward_entry(const py::array& g, const py::array& x, const py::array& cdf,
                              const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "gelu_backward");
  const char* names[] = {"x", "grad_output", "cdf"};
  if (gelu_check({&x, &g, &cdf}, names, "gelu_backward") == checks::Dtype::f32)
    return gelu_backward_typed<float>(g, x, cdf, isa);
  return gelu_backward_typed<double>(g, x, cdf, isa);
}

}  // namespace

void bind_elementwise(py::module_& m) {
  m.def("erf", &erf, py::arg("x"), "Element-wise erf (exact, libm).");
  m.def("gelu_forward", &gelu_forward_entry, py::arg("x"), py::kw_only(), py::arg("isa") = py::none(),
        "Exact GELU of a C-contiguous float array: returns (y, cdf), cdf = (1 + erf(x / sqrt 2)) / 2 saved for "
        "the backward.");
  m.def("gelu_backward", &gelu_backward_entry, py::arg("grad_output"), py::arg("x"), py::arg("cdf"), py::kw_only(),
        py::arg("isa") = py::none(), "The input gradient of exact GELU from x and the saved cdf.");
}

}  // namespace fastnn::bindings
