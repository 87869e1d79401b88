#include <omp.h>

#include "bindings.h"
#include "fastnn/cache_info.h"
#include "fastnn/cuda_runtime_info.h"
#include "fastnn/threading.h"

namespace fastnn::bindings {

void bind_runtime(py::module_& m) {
  m.def("isa_active", [] { return std::string(isa_name(isa_active())); },
        "ISA level the kernels run at (the CPU's best, or FASTNN_ISA).");
  m.def("isa_supported", [] { return std::string(isa_name(isa_supported())); }, "Best ISA level this CPU can run.");
  m.def("isa_levels", [] {
    py::list out;
    for (Isa isa : isa_levels_supported()) out.append(isa_name(isa));
    return out;
  }, "Every ISA level this CPU can run, lowest first.");
  get_num_threads();  // fixes the default (OMP_NUM_THREADS) at import, in the importing thread
  m.def("get_num_threads", &get_num_threads, "The thread count kernels use, process-wide.");
  m.def("set_num_threads", &set_num_threads, py::arg("n"),
        "Sets the kernels' thread count for every thread of the process; ValueError outside [1, max_num_threads()].");
  m.def("max_num_threads", &max_num_threads, "The largest count set_num_threads accepts.");
  m.def("cache_info", [] {
    const CacheInfo& ci = cache_info();
    py::dict d;
    d["l1d"] = ci.l1d;
    d["l2"] = ci.l2;
    d["l3"] = ci.l3;
    return d;
  });
  m.def("build_info", [] {
    py::dict d;
    d["compiler"] = FASTNN_BUILD_COMPILER;
    d["flags"] = FASTNN_BUILD_FLAGS;
    d["build_type"] = FASTNN_BUILD_TYPE;
    d["openmp"] = _OPENMP;
    d["isa_levels_compiled"] = py::make_tuple("generic", "avx2", "avx512");
#ifdef FASTNN_WITH_CUDA
    d["cuda"] = FASTNN_BUILD_CUDA;
#else
    d["cuda"] = py::none();
#endif
    return d;
  });
#ifdef FASTNN_WITH_CUDA
  m.def("cuda_built", [] { return true; });
  m.def("cuda_device_count", [] { return cuda::device_count(); });
  m.def("cuda_status", [] { return cuda::status(); });
#else
  m.def("cuda_built", [] { return false; });
  m.def("cuda_device_count", [] { return 0; });
  m.def("cuda_status", [] { return std::string("fastnn was built without CUDA"); });
#endif
}

}  // namespace fastnn::bindings
