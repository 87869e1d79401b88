#include "bindings.h"
#include "fastnn/elementwise.h"

namespace fastnn::bindings {
namespace {

template <typename T>
py::array erf_typed(const py::array& x, void (*kernel)(const T*, T*, int64_t)) {
  auto xc = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(x);
  py::array_t<T> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const T* px = xc.data();
  T* po = out.mutable_data();
  const int64_t n = xc.size();
  py::gil_scoped_release release;
  kernel(px, po, n);
  return out;
}

py::array erf(const py::array& x) {
  if (x.dtype().is(py::dtype::of<float>())) return erf_typed<float>(x, &erf_f32);
  if (x.dtype().is(py::dtype::of<double>())) return erf_typed<double>(x, &erf_f64);
  throw py::type_error("erf: expected a float32 or float64 array, got " + py::str(x.dtype()).cast<std::string>());
}

}  // namespace

void bind_elementwise(py::module_& m) { m.def("erf", &erf, py::arg("x"), "Element-wise erf (exact, libm)."); }

}  // namespace fastnn::bindings
