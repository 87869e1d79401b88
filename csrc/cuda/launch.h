// Host-side helpers of the kernel launchers, the same names under nvcc and in the emulator.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

// Grid sizes: ceil(n / d) for positive d, as the unsigned a dim3 holds.
inline unsigned blocks_for(std::int64_t n, std::int64_t d) { return static_cast<unsigned>((n + d - 1) / d); }

#if defined(FASTNN_CUDA_EMULATOR)
// The emulator has one device and reports launch errors by throwing from the launch itself.
struct DeviceGuard {
  explicit DeviceGuard(int) {}
};
inline void check_launch(const char*) {}
#else
// Makes `device` current for the launches in scope: fastnn's static cudart keeps its own current device,
// separate from CuPy's, so every launcher sets it from the id Python passes.
struct DeviceGuard {
  int previous = -1;
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
    const cudaError_t err = cudaSetDevice(device);
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(std::string("fastnn: cannot use CUDA device ") + std::to_string(device) + ": " +
                               cudaGetErrorString(err));
    }
  }
  ~DeviceGuard() {
    if (previous >= 0) cudaSetDevice(previous);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
};
// Turns a failed launch (bad configuration, no device, a previous asynchronous fault) into an exception
// naming the op; the error is cleared so the next call starts clean.
inline void check_launch(const char* op) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(op) + ": CUDA launch failed: " + cudaGetErrorString(err));
}
#endif

}  // namespace fastnn::FASTNN_CUDA_NS
