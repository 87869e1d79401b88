// Each csrc/cuda/bindings/bind_<family>.cpp registers itself, so adding a kernel family touches no shared
// list: the module (fastnn._C.cuda on a CUDA build, fastnn._emu for the emulator) calls every entry.
#pragma once

#include <pybind11/pybind11.h>

#include <vector>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS::bindings {

namespace py = pybind11;
using BindFn = void (*)(py::module_&);

std::vector<BindFn>& registered();
void bind_all(py::module_& m);

struct Registrar {
  explicit Registrar(BindFn f) { registered().push_back(f); }
};

}  // namespace fastnn::FASTNN_CUDA_NS::bindings

#define FASTNN_CUDA_BINDING(family)                                                                  \
  static void fastnn_bind_##family(::pybind11::module_& m);                                          \
  static const ::fastnn::FASTNN_CUDA_NS::bindings::Registrar fastnn_registrar_##family(&fastnn_bind_##family); \
  static void fastnn_bind_##family(::pybind11::module_& m)
