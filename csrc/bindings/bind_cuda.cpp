#include "bindings.h"
#include "fastnn/cuda_runtime_info.h"

namespace fastnn::bindings {

#ifdef FASTNN_WITH_CUDA
void bind_cuda(py::module_& m) {
  m.def(
      "cuda_vector_add_f32",
      [](py::array_t<float, py::array::c_style> a, py::array_t<float, py::array::c_style> b) {
        if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0)) {
          throw std::invalid_argument("cuda_vector_add_f32: expected two 1-D float32 arrays of one length");
        }
        py::array_t<float> out(a.shape(0));
        const float* pa = a.data();
        const float* pb = b.data();
        float* po = out.mutable_data();
        const long long n = a.shape(0);
        {
          py::gil_scoped_release release;
          cuda::vector_add_f32(pa, pb, po, n);
        }
        return out;
      },
      py::arg("a"), py::arg("b"), "Adds two float32 vectors on the GPU: the CUDA build's plumbing check.");
}
#else
void bind_cuda(py::module_&) {}
#endif

}  // namespace fastnn::bindings
