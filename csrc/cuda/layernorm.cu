// Layer norm over the rows of a (rows, cols) float32 array: one warp per row, the twin of
// csrc/cpu/layernorm.cpp. Mean first, then the mean of squared deviations (no cancellation when
// |mean| >> std), both summed in float per lane and combined by a butterfly of shuffles in a fixed
// order, so results do not depend on the schedule.
#include "fastnn/cuda/device.h"
#include "launch.h"
#include "layernorm.h"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kWarpsPerBlock = 4;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void layer_norm_rows_kernel(LayerNormArgs a) {
  const int lane = threadIdx.x % 32;
  const std::int64_t row = std::int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= a.rows) return;  // whole warps leave together: no barrier or shuffle below misses a lane
  const float* x = a.x + row * a.cols;
  float s = 0.f;
  for (std::int64_t c = lane; c < a.cols; c += 32) s += x[c];
  const float mean = warp_sum(s) / static_cast<float>(a.cols);
  float q = 0.f;
  for (std::int64_t c = lane; c < a.cols; c += 32) {
    const float d = x[c] - mean;
    q += d * d;
  }
  const float rstd = rsqrtf(warp_sum(q) / static_cast<float>(a.cols) + a.eps);
  float* y = a.y + row * a.cols;
  for (std::int64_t c = lane; c < a.cols; c += 32) {
    float v = (x[c] - mean) * rstd;
    if (a.weight) v *= a.weight[c];
    if (a.bias) v += a.bias[c];
    y[c] = v;
  }
  if (lane == 0) {
    a.mean[row] = mean;
    a.rstd[row] = rstd;
  }
}

}  // namespace

void layer_norm_rows_f32(const LayerNormArgs& a, int device, cudaStream_t stream) {
  if (a.rows == 0) return;
  DeviceGuard guard(device);
  FASTNN_LAUNCH(blocks_for(a.rows, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream, layer_norm_rows_kernel)(a);
  check_launch("layer_norm_rows_f32");
}

}  // namespace fastnn::FASTNN_CUDA_NS
