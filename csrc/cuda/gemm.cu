// GEMM on the GPU: C = act(alpha * op(A) @ op(B) + beta * C + bias), batched, fp32 or bf16 inputs.
//
// The portable SIMT kernel (fp32 FMA; bf16 inputs are widened to float as they are loaded) is the one the
// emulator runs and the fallback everywhere: a BM x BN block tile (128x128 with 256 threads, or 64x64 with
// 64 threads for small and skinny problems), BK = 8, each thread an 8x8 register tile made of 4x4 quarters
// half a tile apart (conflict-free float4 reads of shared memory), both operands staged through
// registers into double-buffered shared tiles stored k-major (one barrier per k-step: the next tile's
// global loads are in flight while the current one is multiplied). Global loads are 16-byte (8 for bf16)
// vectors where the operand is aligned for them and the four elements are inside, scalar and
// bounds-checked at the edges, so any m, n, k (k = 0 gives beta * C) works.
//
// The tensor-core kernels (TF32 m16n8k8 and BF16 m16n8k16 mma.sync, sm_80+) are in gemm_tensor_core.cuh;
// the launcher takes them on its own only on a real GPU, when the dtype (bf16) or allow_tf32 asks for them
// (kernel="mma" asks for them anywhere: the emulator then runs its emulation of mma.sync). The Hopper
// wgmma kernel (gemm_wgmma.cuh, sm_90a) runs only when asked for (kernel="wgmma") until a GPU validates it.
#include "gemm.h"

#include <stdexcept>
#include <string>

#include "fastnn/cuda/device.h"
#include "gemm_common.cuh"
#include "gemm_tensor_core.cuh"
#include "gemm_wgmma.cuh"
#include "launch.h"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

using namespace gemm_detail;

constexpr int kBK = 8;
constexpr std::int64_t kMaxGridYZ = 65535;
// The 128x128 tile is used when it alone fills the GPU: at least one block per SM of an H100/H200 (132).
constexpr std::int64_t kLargeTileMinBlocks = 132;

// One operand of one batch entry as a kernel reads it: element (o, k) of op(X), o the row of op(A) (m)
// or the column of op(B) (n).
template <class T>
struct Source {
  const T* p;
  std::int64_t ld, outer;
  bool k_contig;  // element (o, k) at p[o * ld + k]; else at p[k * ld + o]
  bool vec;       // 4-element vector loads along the contiguous dim are aligned
};

template <class T>
__device__ __forceinline__ bool aligned4(const T* p, std::int64_t ld, std::int64_t batch_stride) {
  return reinterpret_cast<std::uintptr_t>(p) % (4 * sizeof(T)) == 0 && ld % 4 == 0 && batch_stride % 4 == 0;
}

// A thread's share of one BO x BK operand tile: kChunks runs of 4 elements along the contiguous dim,
// loaded from global memory into registers, then stored k-major into shared memory.
template <class T, int BO, int kThreads>
struct TileLoader {
  static constexpr int kChunks = BO * kBK / 4 / kThreads;
  static_assert(kChunks >= 1 && (BO * kBK / 4) % kThreads == 0, "the tile splits evenly over the threads");
  float r[kChunks][4];

  // Tile-relative position of chunk c.
  __device__ __forceinline__ static void place(bool k_contig, int c, int& o, int& k) {
    if (k_contig) {
      o = c / (kBK / 4);
      k = (c % (kBK / 4)) * 4;
    } else {
      k = c / (BO / 4);
      o = (c % (BO / 4)) * 4;
    }
  }

  __device__ __forceinline__ void load(const Source<T>& s, std::int64_t o0, std::int64_t k0, std::int64_t K, int tid) {
    FASTNN_UNROLL
    for (int i = 0; i < kChunks; ++i) {
      int o, k;
      place(s.k_contig, tid + i * kThreads, o, k);
      const std::int64_t go = o0 + o, gk = k0 + k;
      if (s.k_contig) {
        if (go < s.outer && s.vec && gk + 3 < K) {
          load4(s.p + go * s.ld + gk, r[i]);
        } else {
          for (int j = 0; j < 4; ++j) r[i][j] = (go < s.outer && gk + j < K) ? to_float(s.p[go * s.ld + gk + j]) : 0.f;
        }
      } else {
        if (gk < K && s.vec && go + 3 < s.outer) {
          load4(s.p + gk * s.ld + go, r[i]);
        } else {
          for (int j = 0; j < 4; ++j) r[i][j] = (gk < K && go + j < s.outer) ? to_float(s.p[gk * s.ld + go + j]) : 0.f;
        }
      }
    }
  }

  // S: the kBK rows (k) of BO / 4 + 1 float4s (o, padded by 4 floats: conflict-free transposing stores).
  __device__ __forceinline__ void store(bool k_contig, Float4 (*S)[BO / 4 + 1], int tid) const {
    FASTNN_UNROLL
    for (int i = 0; i < kChunks; ++i) {
      int o, k;
      place(k_contig, tid + i * kThreads, o, k);
      if (k_contig) {
        for (int j = 0; j < 4; ++j) S[k + j][o / 4].x[o % 4] = r[i][j];
      } else {
        S[k][o / 4] = Float4{{r[i][0], r[i][1], r[i][2], r[i][3]}};
      }
    }
  }
};

// Two blocks per SM for the 128 tile (<= 128 registers per thread: 16 warps to hide latency); the
// 64-thread 64 tile gets many blocks per SM anyway.
// kSplit: the split-K variant (its own instantiation, so the plain kernel keeps its registers).
template <class TIn, class TOut, int BM, bool kSplit>
__global__ void __launch_bounds__((BM / 8) * (BM / 8), BM == 128 ? 2 : 8) gemm_simt_kernel(GemmArgs a) {
  constexpr int BN = BM, kThreads = (BM / 8) * (BN / 8);
  // k-major tiles, 4 floats of padding per k row; [buffer][k][o / 4]
  FASTNN_SHARED(Float4, As, [2][kBK][BM / 4 + 1]);
  FASTNN_SHARED(Float4, Bs, [2][kBK][BN / 4 + 1]);
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % (BN / 8), ty = tid / (BN / 8);
  const std::int64_t m0 = std::int64_t(blockIdx.x) * BM, n0 = std::int64_t(blockIdx.y) * BN;
  const std::int64_t split = kSplit ? a.split : 1;
  const std::int64_t per_slice = kSplit ? ((a.k + kBK - 1) / kBK + split - 1) / split * kBK : a.k;
  const TIn* A = static_cast<const TIn*>(a.a.ptr);
  const TIn* B = static_cast<const TIn*>(a.b.ptr);
  TOut* C = static_cast<TOut*>(a.c);
  const bool vec_a = aligned4(A, a.a.ld, a.a.batch_stride), vec_b = aligned4(B, a.b.ld, a.b.batch_stride);
  const bool vec_c = aligned4(C, a.ldc, a.batch_stride_c);
  const Epilogue e{a.alpha, a.beta, a.bias, a.act, a.m, a.n, a.ldc};

  for (std::int64_t zs = blockIdx.z; zs < a.batch * split; zs += gridDim.z) {
    const std::int64_t z = kSplit ? zs / split : zs, k_lo = kSplit ? (zs % split) * per_slice : 0;
    const std::int64_t K = !kSplit || a.k < k_lo + per_slice ? a.k : k_lo + per_slice;  // this slice: [k_lo, K)
    const std::int64_t nk = K > k_lo ? (K - k_lo + kBK - 1) / kBK : 0;
    const Source<TIn> sa{A + z * a.a.batch_stride, a.a.ld, a.m, !a.a.trans, vec_a};
    const Source<TIn> sb{B + z * a.b.batch_stride, a.b.ld, a.n, a.b.trans, vec_b};
    TileLoader<TIn, BM, kThreads> la;
    TileLoader<TIn, BN, kThreads> lb;
    float acc[8][2][4];
    FASTNN_UNROLL
    for (int i = 0; i < 8; ++i)
      FASTNN_UNROLL
      for (int j = 0; j < 8; ++j) acc[i][j / 4][j % 4] = 0.f;

    if (nk > 0) {
      la.load(sa, m0, k_lo, K, tid);
      lb.load(sb, n0, k_lo, K, tid);
      la.store(sa.k_contig, As[0], tid);
      lb.store(sb.k_contig, Bs[0], tid);
      __syncthreads();  // gemm-simt-first-tile
    }
    for (std::int64_t kt = 0; kt < nk; ++kt) {
      const int cur = static_cast<int>(kt & 1);
      const bool more = kt + 1 < nk;
      if (more) {  // the next tile's global loads overlap this tile's FMAs
        la.load(sa, m0, k_lo + (kt + 1) * kBK, K, tid);
        lb.load(sb, n0, k_lo + (kt + 1) * kBK, K, tid);
      }
      FASTNN_UNROLL
      for (int kk = 0; kk < kBK; ++kk) {
        const Float4 a_lo = As[cur][kk][ty], a_hi = As[cur][kk][BM / 8 + ty];
        const Float4 b_lo = Bs[cur][kk][tx], b_hi = Bs[cur][kk][BN / 8 + tx];
        float af[8], bf[8];
        for (int i = 0; i < 4; ++i) {
          af[i] = a_lo.x[i];
          af[4 + i] = a_hi.x[i];
          bf[i] = b_lo.x[i];
          bf[4 + i] = b_hi.x[i];
        }
        FASTNN_UNROLL
        for (int i = 0; i < 8; ++i)
          FASTNN_UNROLL
          for (int j = 0; j < 8; ++j) acc[i][j / 4][j % 4] = fmaf(af[i], bf[j], acc[i][j / 4][j % 4]);
      }
      if (more) {  // the other buffer: every thread finished reading it before the previous barrier
        la.store(sa.k_contig, As[cur ^ 1], tid);
        lb.store(sb.k_contig, Bs[cur ^ 1], tid);
      }
      __syncthreads();  // gemm-simt-kstep: the stored tile is complete before anyone reads it
    }

    if constexpr (kSplit) {
      // A k-slice's partial products go to the workspace as they are; the reduction applies the epilogue.
      const Epilogue partial{1.f, 0.f, nullptr, GemmActivation::none, a.m, a.n, a.n};
      const bool vec_w = aligned4(a.workspace, a.n, a.m * a.n);
      float* w = a.workspace + zs * a.m * a.n;
      FASTNN_UNROLL
      for (int i = 0; i < 8; ++i) {
        const std::int64_t row = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + (i - 4));
        write_four(partial, w, vec_w, row, n0 + tx * 4, acc[i][0]);
        write_four(partial, w, vec_w, row, n0 + BN / 2 + tx * 4, acc[i][1]);
      }
      continue;
    }
    TOut* c = C + z * a.batch_stride_c;
    FASTNN_UNROLL
    for (int i = 0; i < 8; ++i) {
      const std::int64_t row = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + (i - 4));
      write_four(e, c, vec_c, row, n0 + tx * 4, acc[i][0]);
      write_four(e, c, vec_c, row, n0 + BN / 2 + tx * 4, acc[i][1]);
    }
  }
}

// Split-K's second pass: C = epilogue(sum over the k-slices of the workspace), the slices summed in order.
template <class TOut>
__global__ void __launch_bounds__(256) gemm_split_reduce_kernel(GemmArgs a) {
  const std::int64_t mn = a.m * a.n, total = a.batch * mn;
  const Epilogue e{a.alpha, a.beta, a.bias, a.act, a.m, a.n, a.ldc};
  TOut* C = static_cast<TOut*>(a.c);
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t z = i / mn, r = i % mn;
    const float* w = a.workspace + z * a.split * mn + r;
    float sum = 0.f;
    for (std::int64_t s = 0; s < a.split; ++s) sum += w[s * mn];
    write_one(e, C + z * a.batch_stride_c, r / a.n, r % a.n, sum);
  }
}

template <class TIn, class TOut, int BM>
void launch_simt(const GemmArgs& a, cudaStream_t stream) {
  constexpr int kThreads = (BM / 8) * (BM / 8);
  const std::int64_t z = a.batch * a.split;
  const dim3 grid(blocks_for(a.m, BM), blocks_for(a.n, BM), static_cast<unsigned>(z < kMaxGridYZ ? z : kMaxGridYZ));
  if (a.split == 1) {
    FASTNN_LAUNCH(grid, kThreads, 0, stream, gemm_simt_kernel<TIn, TOut, BM, false>)(a);
  } else {
    FASTNN_LAUNCH(grid, kThreads, 0, stream, gemm_simt_kernel<TIn, TOut, BM, true>)(a);
    const std::int64_t blocks = (a.batch * a.m * a.n + 255) / 256;
    FASTNN_LAUNCH(static_cast<unsigned>(blocks < (1 << 20) ? blocks : (1 << 20)), 256, 0, stream,
                  gemm_split_reduce_kernel<TOut>)(a);
  }
}

template <class TIn, class TOut>
void launch_simt_tile(const GemmArgs& a, bool large, cudaStream_t stream) {
  if (large) {
    launch_simt<TIn, TOut, 128>(a, stream);
  } else {
    launch_simt<TIn, TOut, 64>(a, stream);
  }
}

bool simt_large_tile(const GemmArgs& a) {
  if (a.kernel != GemmKernel::automatic) return a.kernel == GemmKernel::simt_large;
  if (a.m < 128 || a.n < 128) return false;
  const std::int64_t blocks = ((a.m + 127) / 128) * ((a.n + 127) / 128) * a.batch;
  return blocks >= kLargeTileMinBlocks;
}

// Split-K when the output's tiles are fewer than half an H100's SMs: enough slices to fill about one
// wave, each at least kMinSliceSteps k-steps (128 of k), at most kMaxSplit.
constexpr std::int64_t kSplitBelowBlocks = 66, kMinSliceSteps = 16, kMaxSplit = 16;

std::int64_t split_for(const GemmArgs& a, bool large) {
  const std::int64_t bm = large ? 128 : 64;
  const std::int64_t blocks = ((a.m + bm - 1) / bm) * ((a.n + bm - 1) / bm) * a.batch;
  if (blocks == 0 || blocks >= kSplitBelowBlocks) return 1;
  std::int64_t split = (kLargeTileMinBlocks + blocks - 1) / blocks;
  const std::int64_t by_k = ((a.k + kBK - 1) / kBK) / kMinSliceSteps;
  if (split > by_k) split = by_k;
  if (split > kMaxSplit) split = kMaxSplit;
  return split > 1 ? split : 1;
}

enum class Path { none, simt_large, simt_small, mma_tf32, mma_bf16, wgmma_bf16 };

Path choose(const GemmArgs& a, int device) {
  if (a.m == 0 || a.n == 0 || a.batch == 0) return Path::none;
  const Path mma = a.in_dtype == GemmDtype::bf16 ? Path::mma_bf16 : Path::mma_tf32;
  if (a.kernel == GemmKernel::mma) return mma;
  if (a.kernel == GemmKernel::wgmma) return Path::wgmma_bf16;
#if !defined(FASTNN_CUDA_EMULATOR)
  // Tensor cores need sm_80+ and k > 0 (k == 0 is beta * C alone, which the SIMT epilogue does).
  if (a.kernel == GemmKernel::automatic && a.k > 0 && (a.in_dtype == GemmDtype::bf16 || a.allow_tf32) &&
      tensor_cores_available(device)) {
    return mma;
  }
#else
  (void)device;  // the emulator's own choice is the SIMT kernel: its mma is an emulation, for tests
#endif
  return simt_large_tile(a) ? Path::simt_large : Path::simt_small;
}

}  // namespace

const char* gemm_kernel_name(const GemmArgs& a, int device) {
  switch (choose(a, device)) {
    case Path::none: return "none";
    case Path::simt_large: return "simt_128x128";
    case Path::simt_small: return "simt_64x64";
    case Path::mma_tf32: return "mma_tf32";
    case Path::mma_bf16: return "mma_bf16";
    case Path::wgmma_bf16: return "wgmma_bf16";
  }
  return "none";
}

std::int64_t gemm_workspace_size(const GemmArgs& a, int device) {
  const Path path = choose(a, device);
  if (path != Path::simt_large && path != Path::simt_small) return 0;
  const std::int64_t split = split_for(a, path == Path::simt_large);
  return split > 1 ? a.batch * split * a.m * a.n : 0;
}

void gemm(const GemmArgs& args, int device, cudaStream_t stream, const char* op) {
  GemmArgs a = args;
  const Path path = choose(a, device);
  a.split = 1;
  if (a.workspace != nullptr && (path == Path::simt_large || path == Path::simt_small)) {
    const std::int64_t split = split_for(a, path == Path::simt_large);
    if (split > 1 && a.workspace_elems >= a.batch * split * a.m * a.n) a.split = split;
  }
  if (path == Path::none) return;
  DeviceGuard guard(device);
  switch (path) {
    case Path::none: break;
    case Path::mma_tf32:
    case Path::mma_bf16:
      if (a.in_dtype == GemmDtype::f32 && !a.allow_tf32) {
        throw std::invalid_argument(std::string(op) + ": the tensor-core kernel runs float32 as TF32: it needs allow_tf32");
      }
      if (!tensor_cores_available(device)) {
        throw std::runtime_error(std::string(op) + ": CUDA device " + std::to_string(device) +
                                 " has no tensor cores for TF32 / BF16 (compute capability 8.0 or newer)");
      }
      launch_mma(a, stream);
      break;
    case Path::wgmma_bf16:
      if (a.in_dtype != GemmDtype::bf16) {
        throw std::invalid_argument(std::string(op) + ": the wgmma kernel takes bfloat16 inputs");
      }
      if (!wgmma_available(device)) {
        throw std::runtime_error(std::string(op) + ": no wgmma on CUDA device " + std::to_string(device) +
                                 " (it needs an sm_90 GPU and a build with sm_90a code: 90a-real in "
                                 "CMAKE_CUDA_ARCHITECTURES)");
      }
      launch_wgmma(a, stream);
      break;
    case Path::simt_large:
    case Path::simt_small: {
      const bool large = path == Path::simt_large;
      if (a.in_dtype == GemmDtype::f32) {
        launch_simt_tile<float, float>(a, large, stream);
      } else if (a.out_dtype == GemmDtype::f32) {
        launch_simt_tile<bf16_bits, float>(a, large, stream);
      } else {
        launch_simt_tile<bf16_bits, bf16_bits>(a, large, stream);
      }
      break;
    }
  }
  check_launch(op);
}

}  // namespace fastnn::FASTNN_CUDA_NS
