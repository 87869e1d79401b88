// Device discovery that degrades to "no device" instead of failing: import must work without a GPU.
#include <cuda_runtime.h>

#include <string>

#include "fastnn/cuda_runtime_info.h"

namespace fastnn::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

std::string status() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable CUDA device: ") + cudaGetErrorString(err);
  }
  return n > 0 ? "ok" : "no CUDA device";
}

}  // namespace fastnn::cuda
