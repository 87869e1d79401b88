#include "bindings.h"

#include <stdexcept>

namespace fastnn::bindings {

Isa resolve_isa(const py::object& isa, const char* op) {
  if (isa.is_none()) return isa_active();
  if (!py::isinstance<py::str>(isa))
    throw py::type_error(std::string(op) + ": isa must be an ISA level name or None, got " +
                         py::str(py::type::of(isa).attr("__name__")).cast<std::string>());
  try {
    const Isa chosen = isa_from_name(py::cast<std::string>(isa));
    isa_require(chosen);
    return chosen;
  } catch (const std::invalid_argument& e) {  // the level's own message, with the op in front
    throw std::invalid_argument(std::string(op) + ": " + e.what());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(op) + ": " + e.what());
  }
}

std::vector<int64_t> element_strides(const py::array& a, const char* op, const char* name) {
  const auto item = static_cast<int64_t>(a.itemsize());
  std::vector<int64_t> strides(a.ndim());
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    const auto s = static_cast<int64_t>(a.strides(d));
    if (s % item != 0) {
      throw std::invalid_argument(std::string(op) + ": " + name + " has a stride of " + std::to_string(s) +
                                  " bytes, not a multiple of its item size " + std::to_string(item));
    }
    strides[d] = s / item;
  }
  return strides;
}

}  // namespace fastnn::bindings

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastnn native kernels (CPU, and CUDA when built with it)";
  // The ISA level is fixed here, at import, so a bad FASTNN_ISA fails the import with its reason.
  try {
    fastnn::isa_active();
  } catch (const std::exception& e) {
    throw pybind11::import_error(std::string("fastnn: ") + e.what());
  }
  fastnn::bindings::bind_runtime(m);
  fastnn::bindings::bind_gemm(m);
  fastnn::bindings::bind_gemm_bf16(m);
  fastnn::bindings::bind_elementwise(m);
  fastnn::bindings::bind_cuda(m);
  fastnn::bindings::bind_limits_probe(m);
  fastnn::bindings::bind_conv2d(m);
  fastnn::bindings::bind_optim(m);
  fastnn::bindings::bind_softmax(m);
  fastnn::bindings::bind_layernorm(m);
  fastnn::bindings::bind_batchnorm(m);
  fastnn::bindings::bind_pool(m);
  fastnn::bindings::bind_attention(m);
  fastnn::bindings::bind_bf16(m);
  fastnn::bindings::bind_sparse(m);
  fastnn::bindings::bind_rnn(m);
}
