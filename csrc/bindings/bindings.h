// One registration function per bind_<family>.cpp, called from module.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "fastnn/isa.h"

namespace fastnn::bindings {

namespace py = pybind11;

void bind_runtime(py::module_& m);
void bind_gemm(py::module_& m);
void bind_gemm_bf16(py::module_& m);
void bind_elementwise(py::module_& m);
void bind_cuda(py::module_& m);
void bind_limits_probe(py::module_& m);
void bind_conv2d(py::module_& m);
void bind_optim(py::module_& m);
void bind_softmax(py::module_& m);
void bind_layernorm(py::module_& m);
void bind_batchnorm(py::module_& m);
void bind_pool(py::module_& m);
void bind_attention(py::module_& m);
void bind_bf16(py::module_& m);
void bind_sparse(py::module_& m);
void bind_rnn(py::module_& m);

// The ISA level a kernel call should use: the active one, or `isa` (tests pin each level) after
// checking that this CPU can run it; errors start with `op`.
Isa resolve_isa(const py::object& isa, const char* op);

// Strides of `a` in elements, raising ValueError naming `op` when one is not a whole number of items.
std::vector<int64_t> element_strides(const py::array& a, const char* op, const char* name);

}  // namespace fastnn::bindings
