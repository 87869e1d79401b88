// What the optional CUDA part of the build can tell without needing a GPU.
#pragma once
#include <string>

namespace fastnn::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();
// Driver/runtime status text for config(): "ok", or why no device is usable.
std::string status();

}  // namespace fastnn::cuda
