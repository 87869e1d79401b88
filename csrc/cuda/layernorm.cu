// Layer norm over the rows of a (rows, cols) float32 array: one warp per row, the twin of
// csrc/cpu/layernorm.cpp. Mean first, then the mean of squared deviations (no cancellation when
// |mean| >> std), both summed in float per lane and combined by a butterfly of shuffles in a fixed
// order, so results do not depend on the schedule. A row whose sum overflows takes its mean from the
// values scaled down by a power of two (a row of 3.4e38 then normalises to 0, not NaN).
//
// Backward: dx one warp per row again (the two row means of the formula by shuffles); dweight / dbias are
// column sums over all rows, reduced deterministically in two launches: blocks of 32 columns x 8 row lanes
// walk a strip of rows each (coalesced 128-byte rows of a tile), combine their 8 lanes through shared memory
// in a fixed order and write one partial per (strip, column) into the caller's scratch; then one thread per
// column adds its strips in order. No atomics, so the bits are the same on every run.
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
  s = warp_sum(s);  // every lane holds the same sum: the branch below is uniform over the warp
  float mean;
  if (s - s == 0.f) {  // finite: inf - inf and NaN - NaN are NaN
    mean = s / static_cast<float>(a.cols);
  } else {
    // The sum overflowed (a row of 3.4e38) or the row holds inf/NaN. Rescue, as the CPU kernel: sum
    // x * 2^-k with 2^k >= cols (exact scaling; no overflow), divide by cols, scale back by 2^k.
    float down = 1.f, up = 1.f;
    for (std::int64_t p = 1; p < a.cols; p <<= 1) down *= 0.5f, up *= 2.f;
    float r = 0.f;
    for (std::int64_t c = lane; c < a.cols; c += 32) r += x[c] * down;
    mean = warp_sum(r) / static_cast<float>(a.cols) * up;
  }
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

__global__ void layer_norm_rows_backward_dx_kernel(LayerNormBackwardArgs a) {
  const int lane = threadIdx.x % 32;
  const std::int64_t row = std::int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= a.rows) return;
  const float* x = a.x + row * a.cols;
  const float* g = a.g + row * a.cols;
  const float mean = a.mean[row], rstd = a.rstd[row];
  float s1 = 0.f, s2 = 0.f;
  for (std::int64_t c = lane; c < a.cols; c += 32) {
    const float xhat = (x[c] - mean) * rstd;
    const float gw = a.weight ? g[c] * a.weight[c] : g[c];
    s1 += gw;
    s2 += gw * xhat;
  }
  const float c1 = warp_sum(s1) / static_cast<float>(a.cols);
  const float c2 = warp_sum(s2) / static_cast<float>(a.cols);
  float* dx = a.dx + row * a.cols;
  for (std::int64_t c = lane; c < a.cols; c += 32) {
    const float xhat = (x[c] - mean) * rstd;
    const float gw = a.weight ? g[c] * a.weight[c] : g[c];
    dx[c] = rstd * (gw - c1 - xhat * c2);
  }
}

constexpr int kTileCols = 32;
constexpr int kRowLanes = 8;
constexpr std::int64_t kMaxStrips = 256;
constexpr std::int64_t kMinRowsPerStrip = 32;
constexpr std::int64_t kTargetBlocks = 1024;  // ~8 blocks of 256 threads per SM of an H100: a full wave or more

// Strips of rows for the column sums: enough (tile, strip) blocks to fill the GPU, few enough that the final
// per-column sum over strips stays short. A function of the shape alone, so the bits never depend on the device.
std::int64_t strips_for(std::int64_t rows, std::int64_t cols) {
  const std::int64_t tiles = (cols + kTileCols - 1) / kTileCols;
  std::int64_t s = (rows + kMinRowsPerStrip - 1) / kMinRowsPerStrip;
  const std::int64_t fill = tiles > 0 ? (kTargetBlocks + tiles - 1) / tiles : 1;
  if (s > fill) s = fill;
  return s < kMaxStrips ? s : kMaxStrips;
}

// Block (32 columns, 8 row lanes) for tile blockIdx.x of the columns over strip blockIdx.y of the rows.
__global__ void layer_norm_rows_backward_partials_kernel(LayerNormBackwardArgs a, std::int64_t strips,
                                                         std::int64_t rows_per_strip) {
  FASTNN_SHARED(float, lanes, [2][kRowLanes][kTileCols + 1]);
  const int tx = threadIdx.x % kTileCols, ty = threadIdx.x / kTileCols;
  const std::int64_t c = std::int64_t(blockIdx.x) * kTileCols + tx;
  const std::int64_t strip = blockIdx.y;
  const std::int64_t r0 = strip * rows_per_strip;
  const std::int64_t r1 = r0 + rows_per_strip < a.rows ? r0 + rows_per_strip : a.rows;
  float dw = 0.f, db = 0.f;
  if (c < a.cols) {
    for (std::int64_t r = r0 + ty; r < r1; r += kRowLanes) {
      const float gv = a.g[r * a.cols + c];
      dw += gv * ((a.x[r * a.cols + c] - a.mean[r]) * a.rstd[r]);
      db += gv;
    }
  }
  lanes[0][ty][tx] = dw;
  lanes[1][ty][tx] = db;
  __syncthreads();  // barrier: column partials
  if (ty < 2 && c < a.cols) {
    float s = 0.f;
    for (int l = 0; l < kRowLanes; ++l) s += lanes[ty][l][tx];  // fixed order
    a.scratch[(std::int64_t(ty) * strips + strip) * a.cols + c] = s;
  }
}

__global__ void layer_norm_rows_backward_columns_kernel(LayerNormBackwardArgs a, std::int64_t strips) {
  const std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= a.cols) return;
  float dw = 0.f, db = 0.f;
  for (std::int64_t s = 0; s < strips; ++s) {  // fixed order
    dw += a.scratch[s * a.cols + c];
    db += a.scratch[(strips + s) * a.cols + c];
  }
  if (a.dweight) a.dweight[c] = dw;
  if (a.dbias) a.dbias[c] = db;
}

}  // namespace

std::int64_t layer_norm_rows_backward_scratch(std::int64_t rows, std::int64_t cols) {
  return 2 * strips_for(rows, cols) * cols;
}

void layer_norm_rows_backward_f32(const LayerNormBackwardArgs& a, int device, cudaStream_t stream) {
  if (a.cols == 0) return;
  DeviceGuard guard(device);
  if (a.dx && a.rows > 0) {
    FASTNN_LAUNCH(blocks_for(a.rows, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream,
                  layer_norm_rows_backward_dx_kernel)(a);
    check_launch("layer_norm_rows_backward_f32");
  }
  if (a.dweight || a.dbias) {
    const std::int64_t strips = strips_for(a.rows, a.cols);
    if (strips > 0) {
      const std::int64_t rows_per_strip = (a.rows + strips - 1) / strips;
      const dim3 grid(blocks_for(a.cols, kTileCols), static_cast<unsigned>(strips));
      FASTNN_LAUNCH(grid, kTileCols * kRowLanes, 0, stream, layer_norm_rows_backward_partials_kernel)(a, strips,
                                                                                                      rows_per_strip);
      check_launch("layer_norm_rows_backward_f32");
    }
    FASTNN_LAUNCH(blocks_for(a.cols, 256), 256, 0, stream, layer_norm_rows_backward_columns_kernel)(a, strips);
    check_launch("layer_norm_rows_backward_f32");
  }
}

void layer_norm_rows_f32(const LayerNormArgs& a, int device, cudaStream_t stream) {
  if (a.rows == 0) return;
  DeviceGuard guard(device);
  FASTNN_LAUNCH(blocks_for(a.rows, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream, layer_norm_rows_kernel)(a);
  check_launch("layer_norm_rows_f32");
}

}  // namespace fastnn::FASTNN_CUDA_NS
