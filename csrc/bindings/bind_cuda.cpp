#include "bindings.h"

#ifdef FASTNN_WITH_CUDA
#include "bindings/registry.h"
#endif

namespace fastnn::bindings {

#ifdef FASTNN_WITH_CUDA
// fastnn._C.cuda: the CUDA kernel families (csrc/cuda/), the same functions fastnn._emu serves through the
// emulator. Each family's binding registered itself (csrc/cuda/bindings/registry.h).
void bind_cuda(py::module_& m) {
  auto sub = m.def_submodule("cuda", "fastnn's CUDA kernels: device arrays in (__cuda_array_interface__), the "
                                     "device id and CuPy's current stream as integers");
  fastnn::cuda::bindings::bind_all(sub);
}
#else
void bind_cuda(py::module_&) {}
#endif

}  // namespace fastnn::bindings
