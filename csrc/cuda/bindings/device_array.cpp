#include "device_array.h"

#include <stdexcept>

#include "fastnn/checked_size.h"
#include "registry.h"

namespace fastnn::FASTNN_CUDA_NS::bindings {

std::vector<BindFn>& registered() {
  static std::vector<BindFn> fns;  // a function-local static: filled by the registrars at load time
  return fns;
}

void bind_all(py::module_& m) {
  for (BindFn f : registered()) f(m);
}

}  // namespace fastnn::FASTNN_CUDA_NS::bindings

namespace fastnn::cuda_bindings {

namespace {

std::string prefix(const DeviceArray& a) { return std::string(a.op) + ": " + a.name; }

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

// typestr ("<f4", "|b1", ...) to a dtype name; only little-endian and byte-sized types.
std::string dtype_of(const std::string& typestr, int* itemsize) {
  if (typestr.size() < 3 || (typestr[0] != '<' && typestr[0] != '|' && typestr[0] != '=')) return "";
  const char kind = typestr[1];
  const int size = std::stoi(typestr.substr(2));
  *itemsize = size;
  if (kind == 'f' && size == 4) return "float32";
  if (kind == 'f' && size == 8) return "float64";
  if (kind == 'f' && size == 2) return "float16";
  if (kind == 'i' && size == 8) return "int64";
  if (kind == 'i' && size == 4) return "int32";
  if (kind == 'i' && size == 1) return "int8";
  if (kind == 'u' && size == 1) return "uint8";
  if (kind == 'u' && size == 2) return "uint16";
  if (kind == 'b' && size == 1) return "bool";
  return "";
}

}  // namespace

std::int64_t DeviceArray::numel() const {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

bool DeviceArray::c_contiguous() const {
  std::int64_t want = 1;
  for (int d = ndim() - 1; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != want) return false;
    want *= shape[d];
  }
  return true;
}

const DeviceArray& DeviceArray::require_dtype(const char* want) const {
  if (dtype != want) throw py::type_error(prefix(*this) + " must be " + want + ", got " + dtype);
  return *this;
}

const DeviceArray& DeviceArray::require_ndim(int n) const {
  if (ndim() != n) {
    throw py::value_error(prefix(*this) + " must be " + std::to_string(n) + "-D, got shape " + shape_text(shape));
  }
  return *this;
}

const DeviceArray& DeviceArray::require_contiguous() const {
  if (!c_contiguous()) throw py::value_error(prefix(*this) + " must be C-contiguous");
  return *this;
}

const DeviceArray& DeviceArray::require_writable() const {
  if (readonly) throw py::value_error(prefix(*this) + " is read-only but is written");
  return *this;
}

const DeviceArray& DeviceArray::require_shape(const std::vector<std::int64_t>& want) const {
  if (shape != want) {
    throw py::value_error(prefix(*this) + " must have shape " + shape_text(want) + ", got " + shape_text(shape));
  }
  return *this;
}

DeviceArray device_array(py::handle obj, const char* op, const char* name) {
  DeviceArray a;
  a.op = op;
  a.name = name;
  if (!py::hasattr(obj, "__cuda_array_interface__")) {
    throw py::type_error(std::string(op) + ": " + name + " must be a CUDA device array (with __cuda_array_interface__), got " +
                         py::str(py::type::of(obj)).cast<std::string>());
  }
  const py::dict cai = obj.attr("__cuda_array_interface__");
  const auto data = cai["data"].cast<py::tuple>();
  a.ptr = data[0].cast<std::uintptr_t>();
  a.readonly = data[1].cast<bool>();
  a.dtype = dtype_of(cai["typestr"].cast<std::string>(), &a.itemsize);
  if (a.dtype.empty()) {
    throw py::type_error(std::string(op) + ": " + name + " has an unsupported dtype " +
                         cai["typestr"].cast<std::string>());
  }
  for (auto s : cai["shape"].cast<py::tuple>()) {
    const auto v = s.cast<std::int64_t>();
    if (v < 0) throw py::value_error(std::string(op) + ": " + name + " has a negative dimension");
    a.shape.push_back(v);
  }
  // A shape is any tuple the producer claims: its element and byte counts must fit int64 before any kernel (or
  // numel(), or a stride product below) computes with them.
  const std::string what = std::string(name) + " (shape from __cuda_array_interface__)";
  fastnn::checked::bytes(fastnn::checked::product(a.shape, op, what.c_str()), a.itemsize, op, what.c_str());
  a.strides.assign(a.shape.size(), 0);
  const py::object strides = cai.contains("strides") ? py::object(cai["strides"]) : py::none();
  if (strides.is_none()) {
    std::int64_t s = 1;
    for (int d = a.ndim() - 1; d >= 0; --d) {
      a.strides[d] = s;
      s *= a.shape[d];
    }
  } else {
    const auto t = strides.cast<py::tuple>();
    if (static_cast<int>(t.size()) != a.ndim()) {
      throw py::value_error(std::string(op) + ": " + name + " has " + std::to_string(t.size()) + " strides for " +
                            std::to_string(a.ndim()) + " dimensions");
    }
    for (int d = 0; d < a.ndim(); ++d) {
      const auto bytes = t[d].cast<std::int64_t>();
      if (bytes % a.itemsize != 0) {
        throw py::value_error(std::string(op) + ": " + name + " has a stride of " + std::to_string(bytes) +
                              " bytes, not a multiple of its item size " + std::to_string(a.itemsize));
      }
      a.strides[d] = bytes / a.itemsize;
    }
  }
  if (a.ptr == 0 && a.numel() > 0) throw py::value_error(std::string(op) + ": " + name + " has a null data pointer");
  return a;
}

void same_dtype(const DeviceArray& a, const DeviceArray& b) {
  if (a.dtype != b.dtype) {
    throw py::type_error(std::string(a.op) + ": " + a.name + " and " + b.name + " must have one dtype, got " +
                         a.dtype + " and " + b.dtype);
  }
}

void same_shape(const DeviceArray& a, const DeviceArray& b) {
  if (a.shape != b.shape) {
    throw py::value_error(std::string(a.op) + ": " + a.name + " and " + b.name + " must have one shape, got " +
                          shape_text(a.shape) + " and " + shape_text(b.shape));
  }
}

std::int64_t checked_size(std::int64_t v, const char* op, const char* name) {
  if (v < 0) throw py::value_error(std::string(op) + ": " + name + " must be non-negative, got " + std::to_string(v));
  if (v > (std::int64_t(1) << 31) - 1) {
    throw py::value_error(std::string(op) + ": " + name + " = " + std::to_string(v) + " exceeds 2**31 - 1");
  }
  return v;
}

}  // namespace fastnn::cuda_bindings
