// The smallest real CUDA kernel: proves that the optional CUDA build compiles, links and runs.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "fastnn/cuda_runtime_info.h"

namespace fastnn::cuda {
namespace {

__global__ void vector_add_f32_kernel(const float* a, const float* b, float* out, long long n) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = a[i] + b[i];
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string("cuda_vector_add_f32: ") + what + ": " + cudaGetErrorString(err));
  }
}

}  // namespace

void vector_add_f32(const float* a, const float* b, float* out, long long n) {
  if (n == 0) return;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  float *da = nullptr, *db = nullptr, *dout = nullptr;
  auto release = [&] {
    cudaFree(da);
    cudaFree(db);
    cudaFree(dout);
  };
  try {
    check(cudaMalloc(&da, bytes), "cudaMalloc");
    check(cudaMalloc(&db, bytes), "cudaMalloc");
    check(cudaMalloc(&dout, bytes), "cudaMalloc");
    check(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice), "copy to device");
    check(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice), "copy to device");
    const int block = 256;
    const long long grid = (n + block - 1) / block;
    vector_add_f32_kernel<<<static_cast<unsigned>(grid), block>>>(da, db, dout, n);
    check(cudaGetLastError(), "kernel launch");
    check(cudaMemcpy(out, dout, bytes, cudaMemcpyDeviceToHost), "copy to host");
  } catch (...) {
    release();
    throw;
  }
  release();
}

}  // namespace fastnn::cuda
