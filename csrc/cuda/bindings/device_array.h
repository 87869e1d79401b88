// Device arrays at the binding boundary: any Python object exposing __cuda_array_interface__ (v2/v3):
// CuPy arrays, torch CUDA tensors, and the emulated device's host arrays. The binding reads the pointer,
// dtype, shape and strides from it and checks them, naming the op, before a kernel sees a pointer.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fastnn::cuda_bindings {

namespace py = pybind11;

struct DeviceArray {
  std::uintptr_t ptr = 0;
  std::string dtype;  // "float32", "float64", "int64", "int32", "uint8", "bool", "uint16" (bfloat16 bits), ...
  int itemsize = 0;
  bool readonly = false;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> strides;  // in elements
  const char* op = "";
  const char* name = "";

  std::int64_t numel() const;
  int ndim() const { return static_cast<int>(shape.size()); }
  bool c_contiguous() const;
  template <class T>
  T* data() const {
    return reinterpret_cast<T*>(ptr);
  }

  // Each raises TypeError / ValueError starting with "<op>: <name> ...".
  const DeviceArray& require_dtype(const char* want) const;
  const DeviceArray& require_ndim(int n) const;
  const DeviceArray& require_contiguous() const;
  const DeviceArray& require_writable() const;
  const DeviceArray& require_shape(const std::vector<std::int64_t>& want) const;
};

// Reads `obj.__cuda_array_interface__`; TypeError when it has none (e.g. a NumPy array given to a GPU kernel).
DeviceArray device_array(py::handle obj, const char* op, const char* name);

// "<op>: <a.name> and <b.name> must have one dtype" etc.
void same_dtype(const DeviceArray& a, const DeviceArray& b);
void same_shape(const DeviceArray& a, const DeviceArray& b);
// A size argument: non-negative and small enough for the kernels' 32-bit grid arithmetic where asked.
std::int64_t checked_size(std::int64_t v, const char* op, const char* name);

}  // namespace fastnn::cuda_bindings
