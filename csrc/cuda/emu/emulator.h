// A CUDA execution model on the CPU, so that CI executes our kernels without a GPU.
//
// Kernel sources are ordinary CUDA C++; under g++ with FASTNN_CUDA_EMULATOR they see this header instead
// of <cuda_runtime.h>. A launch runs each block on one OS thread (blocks in parallel over OpenMP), and
// each CUDA thread of the block as a fiber with its own stack. Fibers run until they block: at
// __syncthreads (released when every thread of the block waits at the same call site), at a warp
// operation (released when exactly the lanes of its mask arrived with that mask), or at their end. The
// order in which ready fibers run is the schedule (forward, reverse or seeded random), because a missing
// barrier shows only under some orders. Shared memory is per block and starts as all-ones bytes (NaN as
// float or double), so a read before any write shows. Any rule broken (a barrier some threads skip or
// reach from another line, a warp mask naming lanes that exited or wait elsewhere) stops the launch with
// a std::runtime_error naming the kernel: the emulator reports, it never hangs.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

struct uint3 {
  unsigned x, y, z;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

using cudaStream_t = struct CUstream_st*;

// CUDA's built-in vector types, with the alignment that makes nvcc move each in one instruction.
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) ushort4 {
  unsigned short x, y, z, w;
};
struct alignas(16) double2 {
  double x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

constexpr int warpSize = 32;

namespace fastnn::emu {

const uint3& thread_idx();
const uint3& block_idx();
const dim3& block_dim();
const dim3& grid_dim();

void syncthreads(const char* file, int line);
int syncthreads_count(int predicate, const char* file, int line);

// The warp operations all meet in one rendezvous; `kind` tells them apart.
enum class WarpOp : int { sync, shfl, shfl_xor, shfl_up, shfl_down, ballot };
// Returns the value this lane receives (the source lane's `bits` for shuffles, the ballot for ballots).
std::uint64_t warp_op(WarpOp kind, unsigned mask, std::uint64_t bits, int arg, int width);

// Block-shared storage for the call site `key` (fresh and poisoned in every block).
void* block_shared(const void* key, std::size_t bytes);
void* dynamic_shared();

void launch(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const char* kernel,
            const std::function<void()>& body);

template <class... P>
struct Launcher {
  dim3 grid, block;
  std::size_t smem;
  const char* name;
  void (*kernel)(P...);
  template <class... A>
  void operator()(A&&... args) const {
    std::tuple<std::decay_t<P>...> held(std::forward<A>(args)...);
    auto* k = kernel;
    launch(grid, block, smem, name, [&held, k] { std::apply(k, held); });
  }
};

template <class... P>
Launcher<P...> launcher(dim3 grid, dim3 block, std::size_t smem, const char* name, void (*kernel)(P...)) {
  return Launcher<P...>{grid, block, smem, name, kernel};
}

template <class T>
std::uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp shuffles move up to 8 bytes");
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}

template <class T>
T from_bits(std::uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

}  // namespace fastnn::emu

#define threadIdx (::fastnn::emu::thread_idx())
#define blockIdx (::fastnn::emu::block_idx())
#define blockDim (::fastnn::emu::block_dim())
#define gridDim (::fastnn::emu::grid_dim())
#define __syncthreads() ::fastnn::emu::syncthreads(__FILE__, __LINE__)
#define __syncthreads_count(p) ::fastnn::emu::syncthreads_count((p), __FILE__, __LINE__)
#define __syncthreads_or(p) (::fastnn::emu::syncthreads_count((p), __FILE__, __LINE__) != 0)
#define __syncthreads_and(p) \
  (::fastnn::emu::syncthreads_count(!!(p), __FILE__, __LINE__) == static_cast<int>(blockDim.x * blockDim.y * blockDim.z))

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  ::fastnn::emu::warp_op(::fastnn::emu::WarpOp::sync, mask, 0, 0, 32);
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  using namespace ::fastnn::emu;
  return from_bits<T>(warp_op(WarpOp::shfl, mask, to_bits(v), src, width));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  using namespace ::fastnn::emu;
  return from_bits<T>(warp_op(WarpOp::shfl_xor, mask, to_bits(v), lane_mask, width));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  using namespace ::fastnn::emu;
  return from_bits<T>(warp_op(WarpOp::shfl_up, mask, to_bits(v), static_cast<int>(delta), width));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  using namespace ::fastnn::emu;
  return from_bits<T>(warp_op(WarpOp::shfl_down, mask, to_bits(v), static_cast<int>(delta), width));
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  using namespace ::fastnn::emu;
  return static_cast<unsigned>(warp_op(WarpOp::ballot, mask, pred != 0, 0, 32));
}
inline int __any_sync(unsigned mask, int pred) { return (__ballot_sync(mask, pred) & mask) != 0; }
inline int __all_sync(unsigned mask, int pred) { return (__ballot_sync(mask, pred) & mask) == mask; }

// ---- atomics: real ones, since blocks run on several OS threads ----------------------------------------
template <class T>
inline T emu_atomic_update(T* addr, T (*op)(T, T), T v) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics on 4- or 8-byte values");
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  U* word = reinterpret_cast<U*>(addr);
  U seen = __atomic_load_n(word, __ATOMIC_RELAXED);
  for (;;) {
    T old;
    std::memcpy(&old, &seen, sizeof(T));
    const T next = op(old, v);
    U want;
    std::memcpy(&want, &next, sizeof(T));
    if (__atomic_compare_exchange_n(word, &seen, want, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return old;
  }
}
inline float atomicAdd(float* a, float v) {
  return emu_atomic_update<float>(a, [](float x, float y) { return x + y; }, v);
}
inline double atomicAdd(double* a, double v) {
  return emu_atomic_update<double>(a, [](double x, double y) { return x + y; }, v);
}
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_ACQ_REL); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_ACQ_REL); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return __atomic_fetch_add(a, v, __ATOMIC_ACQ_REL);
}
inline int atomicMax(int* a, int v) {
  return emu_atomic_update<int>(a, [](int x, int y) { return x > y ? x : y; }, v);
}
inline int atomicMin(int* a, int v) {
  return emu_atomic_update<int>(a, [](int x, int y) { return x < y ? x : y; }, v);
}
inline unsigned atomicMax(unsigned* a, unsigned v) {
  return emu_atomic_update<unsigned>(a, [](unsigned x, unsigned y) { return x > y ? x : y; }, v);
}
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_ACQ_REL); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return __atomic_exchange_n(a, v, __ATOMIC_ACQ_REL); }
inline float atomicExch(float* a, float v) {
  return emu_atomic_update<float>(a, [](float, float y) { return y; }, v);
}
template <class T>
inline T atomicCAS(T* a, T compare, T v) {
  __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
  return compare;
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- the device math library's names ----------------------------------------------------------------------
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<std::uint64_t>(a) * b) >> 32);
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
template <class T>
inline T __ldg(const T* p) { return *p; }
using std::max;
using std::min;

// Shared memory. The key is a static local of the declaring function, so each call site of each
// template instantiation has its own storage, shared by the threads of a block.
#define FASTNN_SHARED(T, name, dims)                                                      \
  static const char name##_emu_key = 0;                                                   \
  T(&name) dims = *reinterpret_cast<T(*) dims>(::fastnn::emu::block_shared(&name##_emu_key, sizeof(T dims)))
// g++ spells nvcc's `#pragma unroll` differently (and -Werror rejects the unknown one).
#define FASTNN_UNROLL _Pragma("GCC unroll 16")
#define FASTNN_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::fastnn::emu::dynamic_shared())
#define FASTNN_LAUNCH(grid, block, smem, stream, ...) \
  ((void)(stream), ::fastnn::emu::launcher((grid), (block), (smem), #__VA_ARGS__, __VA_ARGS__))
