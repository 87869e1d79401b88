#include "array_checks.h"
#include "bindings.h"
#include "fastnn/elementwise.h"

namespace fastnn::bindings {
namespace {

py::array erf(const py::array& x) {
  if (x.dtype().equal(py::dtype::of<float>())) return checks::map_elementwise<float>(x, erf_f32, "erf");
  if (x.dtype().equal(py::dtype::of<double>())) return checks::map_elementwise<double>(x, erf_f64, "erf");
  throw py::type_error("erf: expected a float32 or float64 array, got " + py::str(x.dtype()).cast<std::string>());
}

}  // namespace

void bind_elementwise(py::module_& m) { m.def("erf", &erf, py::arg("x"), "Element-wise erf (exact, libm)."); }

}  // namespace fastnn::bindings
