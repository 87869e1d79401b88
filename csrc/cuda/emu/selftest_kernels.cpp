// Kernels that test the emulator itself (fastnn._emu.selftest_*): each exercises one rule of the CUDA
// execution model, and tests/test_cuda_emulator.py checks the emulator keeps it (right answers, or the
// error a broken rule must give). They take host NumPy arrays: the emulator runs on host memory.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "fastnn/cuda/device.h"

namespace fastnn::emu_selftest {
namespace py = pybind11;
using farray = py::array_t<float, py::array::c_style | py::array::forcecast>;

constexpr int kTile = 16;

// C = A @ B, (n, n) square, 16x16 tiles through shared memory: two barriers per tile step.
__global__ void tiled_matmul(const float* a, const float* b, float* c, int n) {
  FASTNN_SHARED(float, as, [kTile][kTile]);
  FASTNN_SHARED(float, bs, [kTile][kTile]);
  const int row = blockIdx.y * kTile + threadIdx.y, col = blockIdx.x * kTile + threadIdx.x;
  float acc = 0.f;
  for (int k0 = 0; k0 < n; k0 += kTile) {
    as[threadIdx.y][threadIdx.x] = (row < n && k0 + threadIdx.x < n) ? a[row * n + k0 + threadIdx.x] : 0.f;
    bs[threadIdx.y][threadIdx.x] = (col < n && k0 + threadIdx.y < n) ? b[(k0 + threadIdx.y) * n + col] : 0.f;
    __syncthreads();  // SELFTEST_BARRIER_LOADED
    for (int k = 0; k < kTile; ++k) acc += as[threadIdx.y][k] * bs[k][threadIdx.x];
    __syncthreads();  // SELFTEST_BARRIER_CONSUMED
  }
  if (row < n && col < n) c[row * n + col] = acc;
}

// Per warp: out[0..4] of each lane = xor-butterfly sum, down-shift sum, up-shift value, broadcast of lane 3,
// ballot of odd lanes; lanes split into two half-warp groups for the width-16 xor sum in out[5].
__global__ void warp_ops(const float* x, float* out) {
  const int t = threadIdx.x, lane = t % 32;
  const float v = x[t];
  float s = v;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  float d = v;
  for (int o = 16; o > 0; o >>= 1) d += __shfl_down_sync(0xffffffffu, d, o);
  const float up = __shfl_up_sync(0xffffffffu, v, 1);
  const float b3 = __shfl_sync(0xffffffffu, v, 3);
  const unsigned bal = __ballot_sync(0xffffffffu, lane & 1);
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  float h = v;
  for (int o = 8; o > 0; o >>= 1) h += __shfl_xor_sync(half, h, o, 16);
  float* o = out + t * 6;
  o[0] = s;
  o[1] = d;
  o[2] = up;
  o[3] = b3;
  o[4] = static_cast<float>(bal);
  o[5] = h;
}

// Block-wide sum with warp shuffles and a shared array of warp partials; atomics add the blocks' sums.
__global__ void block_sum(const float* x, float* total, int n) {
  FASTNN_SHARED(float, partial, [32]);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? x[i] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    const int warps = blockDim.x / 32;
    float w = threadIdx.x < static_cast<unsigned>(warps) ? partial[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) w += __shfl_xor_sync(0xffffffffu, w, o);
    if (threadIdx.x == 0) atomicAdd(total, w);
  }
}

// Reads shared memory nobody wrote: must see the poison (NaN), never zeros or an earlier block's data.
__global__ void read_unwritten_shared(float* out) {
  FASTNN_SHARED(float, s, [64]);
  FASTNN_DYNAMIC_SHARED(float, d);
  if (blockIdx.x == 0) {  // block 0 writes; later blocks must not see its values
    s[threadIdx.x] = 1.f;
    d[threadIdx.x] = 2.f;
  }
  __syncthreads();
  out[(blockIdx.x * blockDim.x + threadIdx.x) * 2] = s[threadIdx.x];
  out[(blockIdx.x * blockDim.x + threadIdx.x) * 2 + 1] = d[threadIdx.x];
}

// Broken kernels: each must make the launch raise, not hang and not pass.
__global__ void divergent_barrier(float* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.f;
}

__global__ void exit_before_barrier(float* out, int n) {
  if (static_cast<int>(threadIdx.x) >= n) return;
  __syncthreads();
  out[threadIdx.x] = 1.f;
}

__global__ void shuffle_with_exited_lanes(float* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);
}

__global__ void count_odd(int* out) {
  const int c = __syncthreads_count(threadIdx.x & 1);
  if (threadIdx.x == 0) *out = c;
}

void bind(py::module_& m) {
  m.def("selftest_tiled_matmul", [](farray a, farray b) {
    const int n = static_cast<int>(a.shape(0));
    farray c({n, n});
    const float *pa = a.data(), *pb = b.data();
    float* pc = c.mutable_data();
    py::gil_scoped_release release;
    const dim3 grid((n + kTile - 1) / kTile, (n + kTile - 1) / kTile), block(kTile, kTile);
    FASTNN_LAUNCH(grid, block, 0, nullptr, tiled_matmul)(pa, pb, pc, n);
    return c;
  });
  m.def("selftest_warp_ops", [](farray x) {
    const int n = static_cast<int>(x.shape(0));
    farray out({n, 6});
    const float* px = x.data();
    float* po = out.mutable_data();
    py::gil_scoped_release release;
    FASTNN_LAUNCH(1, n, 0, nullptr, warp_ops)(px, po);
    return out;
  });
  m.def("selftest_block_sum", [](farray x, int threads) {
    const int n = static_cast<int>(x.shape(0));
    farray total(1);
    *total.mutable_data() = 0.f;
    const float* px = x.data();
    float* pt = total.mutable_data();
    py::gil_scoped_release release;
    FASTNN_LAUNCH((n + threads - 1) / threads, threads, 0, nullptr, block_sum)(px, pt, n);
    return total;
  });
  m.def("selftest_read_unwritten_shared", [](int blocks) {
    farray out({blocks * 64, 2});
    float* po = out.mutable_data();
    py::gil_scoped_release release;
    FASTNN_LAUNCH(blocks, 64, 64 * sizeof(float), nullptr, read_unwritten_shared)(po);
    return out;
  });
  m.def("selftest_broken", [](const std::string& which) {
    farray out(64);
    float* po = out.mutable_data();
    py::gil_scoped_release release;
    if (which == "divergent_barrier") FASTNN_LAUNCH(1, 32, 0, nullptr, divergent_barrier)(po);
    else if (which == "exit_before_barrier") FASTNN_LAUNCH(1, 64, 0, nullptr, exit_before_barrier)(po, 40);
    else if (which == "shuffle_with_exited_lanes") FASTNN_LAUNCH(1, 32, 0, nullptr, shuffle_with_exited_lanes)(po);
    else throw std::invalid_argument("selftest_broken: unknown kernel " + which);
    return out;
  });
  m.def("selftest_count_odd", [](int threads) {
    int result = -1;
    {
      py::gil_scoped_release release;
      FASTNN_LAUNCH(1, threads, 0, nullptr, count_odd)(&result);
    }
    return result;
  });
}

}  // namespace fastnn::emu_selftest
