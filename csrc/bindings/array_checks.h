// Argument checks shared by the softmax, layernorm and pooling bindings: dtype, shape and stride tests
// that raise TypeError / ValueError naming the op, so bad input never reaches a kernel.
#pragma once
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "fastnn/checked_size.h"

namespace fastnn::bindings::checks {

inline std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) s << (d ? ", " : "") << a.shape(d);
  s << (a.ndim() == 1 ? ",)" : ")");
  return s.str();
}

inline std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

enum class Dtype { f32, f64 };

inline Dtype float_dtype(const py::array& a, const std::string& op, const char* name) {
  if (a.dtype().equal(py::dtype::of<float>())) return Dtype::f32;
  if (a.dtype().equal(py::dtype::of<double>())) return Dtype::f64;
  throw py::type_error(op + ": expected " + name + " to be float32 or float64, got " + dtype_str(a));
}

inline void same_dtype(const py::array& a, const py::array& ref, const std::string& op, const char* name) {
  if (!a.dtype().equal(ref.dtype()))
    throw py::type_error(op + ": expected " + name + " to have dtype " + dtype_str(ref) + ", got " + dtype_str(a));
}

inline void same_shape(const py::array& a, const py::array& ref, const std::string& op, const char* name,
                       const char* ref_name) {
  bool ok = a.ndim() == ref.ndim();
  for (py::ssize_t d = 0; ok && d < a.ndim(); ++d) ok = a.shape(d) == ref.shape(d);
  if (!ok)
    throw py::value_error(op + ": " + name + " has shape " + shape_str(a) + " but " + ref_name + " has shape " +
                          shape_str(ref));
}

inline void require_ndim(const py::array& a, py::ssize_t ndim, const std::string& op, const char* name) {
  if (a.ndim() != ndim)
    throw py::value_error(op + ": expected " + name + " to be " + std::to_string(ndim) + "-D, got shape " +
                          shape_str(a));
}

// 2-D rows whose elements are contiguous: returns the row stride in elements.
inline int64_t row_stride(const py::array& a, const std::string& op, const char* name) {
  require_ndim(a, 2, op, name);
  const auto item = static_cast<py::ssize_t>(a.itemsize());
  if (a.shape(0) == 0 || a.shape(1) == 0) return a.shape(1);  // empty: strides are meaningless
  if (a.shape(1) > 1 && a.strides(1) != item)
    throw py::value_error(op + ": " + name + " of shape " + shape_str(a) +
                          " must have contiguous rows (last-dim stride " + std::to_string(a.strides(1)) + " bytes)");
  if (a.strides(0) % item != 0)
    throw py::value_error(op + ": " + name + " has a row stride that is not a whole number of items");
  return a.shape(0) > 1 ? static_cast<int64_t>(a.strides(0) / item) : static_cast<int64_t>(a.shape(1));
}

inline void require_c_contiguous(const py::array& a, const std::string& op, const char* name) {
  if (a.size() > 0 && !(a.flags() & py::array::c_style))
    throw py::value_error(op + ": expected " + name + " of shape " + shape_str(a) + " to be C-contiguous");
}

// A new array of `shape` that the op returns: MemoryError naming the op when no memory can hold it (a
// broadcast input's shape can be far larger than its memory), ValueError when its size overflows int64.
template <typename T, typename Dims>
py::array_t<T> new_array(const Dims& shape, const std::string& op, const char* what) {
  return py::array_t<T>(checked::alloc_shape(shape, sizeof(T), op, what));
}
template <typename T>
py::array_t<T> new_array(std::initializer_list<int64_t> shape, const std::string& op, const char* what) {
  return py::array_t<T>(checked::alloc_shape(shape, sizeof(T), op, what));
}

// kernel(px, py, n) element-wise over a C-contiguous copy of x (none when x already is one), with the
// GIL released; the result has x's shape. Zero-size input returns its empty result at once.
template <typename T, typename Kernel>
py::array map_elementwise(const py::array& x, Kernel&& kernel, const std::string& op) {
  const std::vector<int64_t> shape(x.shape(), x.shape() + x.ndim());
  // Two arrays of x's shape: the result, and the copy of a non-contiguous (e.g. broadcast) input.
  checked::allocatable(checked::product(shape, op, "x"), 2 * static_cast<int64_t>(sizeof(T)), op, "x and its result");
  py::array_t<T> out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
  if (out.size() == 0) return out;
  auto xc = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(x);
  const T* px = xc.data();
  T* po = out.mutable_data();
  const int64_t n = xc.size();
  {
    py::gil_scoped_release release;
    kernel(px, po, n);
  }
  return out;
}

}  // namespace fastnn::bindings::checks
