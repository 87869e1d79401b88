#include "bindings.h"
#include "fastnn/limits_probe.h"

namespace fastnn::bindings {

void bind_limits_probe(py::module_& m) {
  m.def(
      "probe_peak_gflops_f32",
      [](const py::object& isa_name, int nthreads, int repeats) {
        const Isa isa = resolve_isa(isa_name);
        if (nthreads < 1 || repeats < 1) throw std::invalid_argument("probe_peak_gflops_f32: threads and repeats must be >= 1");
        py::gil_scoped_release release;
        return peak_gflops_f32(isa, nthreads, repeats);
      },
      py::arg("isa") = py::none(), py::arg("threads") = 1, py::arg("repeats") = 5,
      "Peak fp32 FMA GFLOP/s at an ISA level (independent accumulators, best of repeats).");
  m.def(
      "probe_memory_bandwidth",
      [](int64_t n, int nthreads, int repeats) {
        if (n < 1 || nthreads < 1 || repeats < 1) throw std::invalid_argument("probe_memory_bandwidth: arguments must be >= 1");
        Bandwidth bw;
        {
          py::gil_scoped_release release;
          bw = memory_bandwidth(n, nthreads, repeats);
        }
        py::dict d;
        d["copy_gbs"] = bw.copy_gbs;
        d["triad_gbs"] = bw.triad_gbs;
        return d;
      },
      py::arg("n"), py::arg("threads") = 1, py::arg("repeats") = 5,
      "STREAM copy and triad GB/s over float arrays of n elements (best of repeats).");
}

}  // namespace fastnn::bindings
