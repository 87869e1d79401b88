// What the optional CUDA part of the build can tell without needing a GPU.
#pragma once
#include <string>

namespace fastnn::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();
// Driver/runtime status text for config(): "ok", or why no device is usable.
std::string status();
// out[i] = a[i] + b[i] on the device (host buffers in and out): the plumbing check for the CUDA build.
// Throws std::runtime_error with CUDA's message on any failure.
void vector_add_f32(const float* a, const float* b, float* out, long long n);

}  // namespace fastnn::cuda
