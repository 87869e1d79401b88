#include <omp.h>

#include "bindings.h"
#include "fastnn/checked_size.h"
#include "fastnn/limits_probe.h"

namespace fastnn::bindings {
namespace {

// The probes are bench tools, but a hostile argument must still be an error: an unbounded thread count makes
// libgomp abort allocating its team, an unbounded n or repeat count takes the machine's memory or hours.
constexpr int64_t kMaxRepeats = 100;
constexpr int64_t kMaxElements = int64_t(1) << 28;  // bench/limits.py streams at most 1 GiB per array

int64_t max_threads() { return 4 * static_cast<int64_t>(omp_get_num_procs()); }  // oversubscribed, not absurd

}  // namespace

void bind_limits_probe(py::module_& m) {
  m.def(
      "probe_peak_gflops_f32",
      [](const py::object& isa_name, int64_t nthreads, int64_t repeats) {
        const char* op = "probe_peak_gflops_f32";
        const Isa isa = resolve_isa(isa_name, op);
        checked::bounded(nthreads, 1, max_threads(), op, "threads");
        checked::bounded(repeats, 1, kMaxRepeats, op, "repeats");
        py::gil_scoped_release release;
        return peak_gflops_f32(isa, static_cast<int>(nthreads), static_cast<int>(repeats));
      },
      py::arg("isa") = py::none(), py::arg("threads") = 1, py::arg("repeats") = 5,
      "Peak fp32 FMA GFLOP/s at an ISA level (independent accumulators, best of repeats).");
  m.def(
      "probe_memory_bandwidth",
      [](int64_t n, int64_t nthreads, int64_t repeats) {
        const char* op = "probe_memory_bandwidth";
        checked::bounded(n, 1, kMaxElements, op, "n");
        checked::bounded(nthreads, 1, max_threads(), op, "threads");
        checked::bounded(repeats, 1, kMaxRepeats, op, "repeats");
        checked::allocatable(3 * n, sizeof(float), op, "the three arrays");
        Bandwidth bw;
        {
          py::gil_scoped_release release;
          bw = memory_bandwidth(n, static_cast<int>(nthreads), static_cast<int>(repeats));
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
