// fastnn._emu: every CUDA kernel family of csrc/cuda/, compiled by g++ against the emulator, with the
// same functions as fastnn._C.cuda; plus the emulator's controls and self-tests. Tests and the emulated
// CUDA device (FASTNN_CUDA=emulate) use it; it needs no GPU, driver or CUDA toolkit.
#include <pybind11/pybind11.h>

#include "../bindings/registry.h"
#include "controls.h"

namespace fastnn::emu_selftest {
void bind(pybind11::module_& m);
}

PYBIND11_MODULE(_emu, m) {
  namespace py = pybind11;
  m.doc() = "fastnn's CUDA kernels executed by a CPU emulator of the CUDA execution model (for tests)";
  m.def("set_schedule", &fastnn::emu::set_schedule, py::arg("name"), py::arg("seed") = 0,
        "Order of the ready threads of a block between barriers: 'forward', 'reverse' or 'random' (seeded).");
  m.def("schedule", &fastnn::emu::schedule);
  m.def("schedules", [] { return py::make_tuple("forward", "reverse", "random"); });
  m.def("plant_missing_barrier", &fastnn::emu::plant_missing_barrier, py::arg("file_suffix"), py::arg("line"),
        "Makes the __syncthreads at file:line a no-op, as if it were left out ('' clears).");
  m.def("planted_barrier_hits", &fastnn::emu::planted_barrier_hits);
  m.def("stats", [] {
    const auto s = fastnn::emu::stats();
    py::dict d;
    d["launches"] = s.launches;
    d["blocks"] = s.blocks;
    d["threads"] = s.threads;
    d["barriers"] = s.barriers;
    d["warp_ops"] = s.warp_ops;
    return d;
  });
  fastnn::emu_selftest::bind(m);
  fastnn::cuda_emu::bindings::bind_all(m);
}
