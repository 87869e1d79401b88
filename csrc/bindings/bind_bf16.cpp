// bf16_from_f32 / f32_from_bf16: flat C-contiguous arrays in, a new flat array out (the caller reshapes);
// NumPy does not cast for them (a float64 or a strided array is the caller's to convert first).
#include <string>

#include "bindings.h"
#include "fastnn/bf16_convert.h"

namespace fastnn::bindings {
namespace {

using F32 = py::array_t<float, py::array::c_style>;
using U16 = py::array_t<uint16_t, py::array::c_style>;

U16 bf16_from_f32_py(const F32& x, int nan_bits, const py::object& isa) {
  if (nan_bits < 0 || nan_bits > 0xFFFF)
    throw py::value_error("bf16_from_f32: nan_bits must be a 16-bit pattern, got " + std::to_string(nan_bits));
  const Isa level = resolve_isa(isa, "bf16_from_f32");
  U16 y(x.size());
  const float* src = x.data();
  uint16_t* dst = y.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release release;
    bf16_from_f32(src, dst, n, static_cast<uint16_t>(nan_bits), level);
  }
  return y;
}

F32 f32_from_bf16_py(const U16& x, const py::object& isa) {
  const Isa level = resolve_isa(isa, "f32_from_bf16");
  F32 y(x.size());
  const uint16_t* src = x.data();
  float* dst = y.mutable_data();
  const int64_t n = x.size();
  {
    py::gil_scoped_release release;
    f32_from_bf16(src, dst, n, level);
  }
  return y;
}

}  // namespace

void bind_bf16(py::module_& m) {
  m.def("bf16_from_f32", &bf16_from_f32_py, py::arg("x").noconvert(), py::arg("nan_bits"),
        py::arg("isa") = py::none(), "float32 -> bfloat16 bits (uint16), round to nearest even.");
  m.def("f32_from_bf16", &f32_from_bf16_py, py::arg("x").noconvert(), py::arg("isa") = py::none(),
        "bfloat16 bits (uint16) -> float32, exactly.");
}

}  // namespace fastnn::bindings
