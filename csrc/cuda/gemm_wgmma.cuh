// Hopper GEMM for bfloat16 inputs: wgmma.mma_async m64n128k16 (fp32 accumulate), both operands read by
// the tensor cores from shared memory through matrix descriptors. sm_90a only (__CUDA_ARCH_FEAT_SM90_ALL:
// the build lists 90a-real), and opt-in (kernel="wgmma"): the launcher does not choose it on its own until
// a GPU run has validated it (see tests/test_cuda_kernels_gemm.py, the cuda parametrisation).
//
// A 128x128 block tile, 256 threads = 2 warpgroups, warpgroup g computing rows 64g..64g+63 with one
// m64n128k16 per 16 of k (64 fp32 accumulators per thread). A k-tile is 32 bf16 wide; both operands are
// stored K-major without swizzle as 8 x 16-byte core matrices: [k chunk of 8][row][8 bf16], so adjacent
// core matrices are 128 bytes apart along M/N (the stride byte offset) and 128 * 16 bytes apart along K
// (the leading byte offset). Global loads are the mma.sync kernel's (TcLoader, staged in registers,
// double-buffered, one barrier per k-tile); each k-tile's wgmma group is waited for before its buffer is
// refilled.
//
// The emulator runs this kernel too (kernel="wgmma"): each thread computes its accumulators from shared
// memory through the same (start, leading, stride) description the descriptor encodes, with the PTX
// accumulator layout (warp w of the warpgroup holds rows 16w + lane / 4 (+ 8), columns 8j + 2 (lane % 4)
// (+ 1)), so the tiling, shared layout and epilogue run in CI; the instruction itself only on a GPU.
#pragma once

#include <atomic>

#include "gemm_tensor_core.cuh"

#if defined(__CUDA_ARCH_FEAT_SM90_ALL) || defined(FASTNN_CUDA_EMULATOR)
#define FASTNN_GEMM_WGMMA_BODY 1
#else
#define FASTNN_GEMM_WGMMA_BODY 0
#endif

namespace fastnn::FASTNN_CUDA_NS::gemm_detail {

constexpr int kWgBM = 128, kWgBN = 128, kWgBK = 32, kWgThreads = 256;
constexpr int kWgChunks = kWgBK / 8;            // 16-byte k chunks per row
constexpr int kWgStage = kWgChunks * 128 * 8;   // bf16 per operand per stage
constexpr std::uint32_t kWgLeading = 128 * 16;  // bytes between core matrices along K
constexpr std::uint32_t kWgStride = 8 * 16;     // bytes between core matrices along M / N
static_assert(kWgThreads == kTcThreads && kWgBM == kTcBM && 2 * kTcWords == kWgBK, "TcLoader's geometry");

// Whether the loaded binary has the sm_90a body: a flag each device compilation sets for itself.
__device__ int g_gemm_wgmma_compiled = FASTNN_GEMM_WGMMA_BODY;

#if !defined(FASTNN_CUDA_EMULATOR)
inline bool wgmma_available(int device) {
  static std::atomic<int> known[64] = {};  // 0 unknown, 1 yes, 2 no (every writer stores the same value)
  if (device < 0 || device >= 64) return false;
  if (known[device].load() == 0) {
    int major = 0, minor = 0, flag = 0;
    const bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
                    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess &&
                    major == 9 && minor == 0 &&
                    cudaMemcpyFromSymbol(&flag, g_gemm_wgmma_compiled, sizeof flag) == cudaSuccess && flag == 1;
    if (!ok) cudaGetLastError();
    known[device].store(ok ? 1 : 2);
  }
  return known[device].load() == 1;
}
#else
inline bool wgmma_available(int) { return true; }
#endif

#if FASTNN_GEMM_WGMMA_BODY

// One warpgroup's K-major operand in shared memory: where its row 0, k 0 is (the strides are kWgLeading
// and kWgStride).
struct SmemMatrix {
  const bf16_bits* start;
};

#if defined(FASTNN_CUDA_EMULATOR)
__device__ __forceinline__ float smem_at(const SmemMatrix& x, int row, int k) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(x.start) + (row / 8) * kWgStride + (row % 8) * 16 +
                           (k / 8) * kWgLeading + (k % 8) * 2;
  return bf16_to_float(*reinterpret_cast<const bf16_bits*>(p));
}

// d += A (64 x 16) @ B^T (B: 128 x 16), the accumulator layout of wgmma m64n128 f32.
__device__ void wgmma_m64n128k16(float (&d)[64], const SmemMatrix& a, const SmemMatrix& b) {
  const int lane = static_cast<int>(threadIdx.x % 32), warp = static_cast<int>((threadIdx.x / 32) % 4);
  for (int i = 0; i < 64; ++i) {
    const int row = 16 * warp + lane / 4 + 8 * ((i / 2) % 2), col = 8 * (i / 4) + 2 * (lane % 4) + i % 2;
    float sum = d[i];
    for (int k = 0; k < 16; ++k) sum = fmaf(smem_at(a, row, k), smem_at(b, col, k), sum);
    d[i] = sum;
  }
}
__device__ __forceinline__ void wgmma_fence() {}
__device__ __forceinline__ void wgmma_commit_and_wait(float (&)[64]) {}
__device__ __forceinline__ void fence_proxy_async() {}
#else
__device__ __forceinline__ std::uint64_t descriptor(const SmemMatrix& x) {
  const auto addr = static_cast<std::uint32_t>(__cvta_generic_to_shared(x.start));
  return std::uint64_t((addr & 0x3FFFF) >> 4) | (std::uint64_t(kWgLeading >> 4) << 16) |
         (std::uint64_t(kWgStride >> 4) << 32);  // base offset 0, no swizzle (bits 62-63 = 0)
}

__device__ __forceinline__ void wgmma_m64n128k16(float (&d)[64], const SmemMatrix& a, const SmemMatrix& b) {
  const std::uint64_t da = descriptor(a), db = descriptor(b);
  asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
        "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
        "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, "
        "%64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(1));
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
// Waits for the committed group; the empty asm on each accumulator keeps the compiler from reading them
// before the wait.
__device__ __forceinline__ void wgmma_commit_and_wait(float (&d)[64]) {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  FASTNN_UNROLL
  for (int i = 0; i < 64; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
// Orders this thread's shared-memory stores before the tensor cores' (async proxy) reads of them.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
#endif

// Stores TcLoader<true>'s staged chunks K-major into S ([chunk][row][8 bf16]).
__device__ __forceinline__ void store_kmajor(const TcLoader<true>& l, bool k_contig, bf16_bits* S, int tid) {
  FASTNN_UNROLL
  for (int i = 0; i < kTcChunks; ++i) {
    const int c = tid + i * kTcThreads;
    if (k_contig) {  // row c / 4, k chunk c % 4
      *reinterpret_cast<Word4*>(S + ((c % 4) * 128 + c / 4) * 8) = l.r[i];
    } else {  // k row kh, rows o..o+7
      const int kh = c / 16, o = (c % 16) * 8;
      FASTNN_UNROLL
      for (int j = 0; j < 8; ++j) {
        S[((kh / 8) * 128 + o + j) * 8 + kh % 8] = static_cast<bf16_bits>(l.r[i].w[j / 2] >> (16 * (j % 2)));
      }
    }
  }
}

#endif  // FASTNN_GEMM_WGMMA_BODY

template <class TOut>
__global__ void __launch_bounds__(kWgThreads) gemm_wgmma_kernel(GemmArgs a) {
#if FASTNN_GEMM_WGMMA_BODY
  FASTNN_SHARED(Word4, As4, [2][kWgStage / 8]);
  FASTNN_SHARED(Word4, Bs4, [2][kWgStage / 8]);
  bf16_bits* As = reinterpret_cast<bf16_bits*>(&As4[0][0]);
  bf16_bits* Bs = reinterpret_cast<bf16_bits*>(&Bs4[0][0]);
  const int tid = static_cast<int>(threadIdx.x), group = tid / 128;
  const std::int64_t m0 = std::int64_t(blockIdx.x) * kWgBM, n0 = std::int64_t(blockIdx.y) * kWgBN;
  const std::int64_t K = a.k, nk = (K + kWgBK - 1) / kWgBK;
  const bf16_bits* A = static_cast<const bf16_bits*>(a.a.ptr);
  const bf16_bits* B = static_cast<const bf16_bits*>(a.b.ptr);
  TOut* C = static_cast<TOut*>(a.c);
  auto aligned16 = [](const bf16_bits* p, std::int64_t ld, std::int64_t bs) {
    return reinterpret_cast<std::uintptr_t>(p) % 16 == 0 && ld % 8 == 0 && bs % 8 == 0;
  };
  const bool vec_a = aligned16(A, a.a.ld, a.a.batch_stride), vec_b = aligned16(B, a.b.ld, a.b.batch_stride);
  const Epilogue e{a.alpha, a.beta, a.bias, a.act, a.m, a.n, a.ldc};

  for (std::int64_t z = blockIdx.z; z < a.batch; z += gridDim.z) {
    const TcSource<bf16_bits> sa{A + z * a.a.batch_stride, a.a.ld, a.m, !a.a.trans, vec_a};
    const TcSource<bf16_bits> sb{B + z * a.b.batch_stride, a.b.ld, a.n, a.b.trans, vec_b};
    TcLoader<true> la, lb;
    float acc[64];
    FASTNN_UNROLL
    for (int i = 0; i < 64; ++i) acc[i] = 0.f;

    if (nk > 0) {
      la.load(sa, m0, 0, K, tid);
      lb.load(sb, n0, 0, K, tid);
      store_kmajor(la, sa.k_contig, As, tid);
      store_kmajor(lb, sb.k_contig, Bs, tid);
      fence_proxy_async();
      __syncthreads();  // gemm-wgmma-first-tile
    }
    for (std::int64_t kt = 0; kt < nk; ++kt) {
      const int cur = static_cast<int>(kt & 1);
      const bool more = kt + 1 < nk;
      if (more) {
        la.load(sa, m0, (kt + 1) * kWgBK, K, tid);
        lb.load(sb, n0, (kt + 1) * kWgBK, K, tid);
      }
      const bf16_bits* as = As + cur * kWgStage + group * 64 * 8;  // this warpgroup's 64 rows
      const bf16_bits* bs = Bs + cur * kWgStage;
      wgmma_fence();
      FASTNN_UNROLL
      for (int s = 0; s < kWgBK / 16; ++s) {  // two k chunks of 8 per m64n128k16
        wgmma_m64n128k16(acc, SmemMatrix{as + 2 * s * 128 * 8}, SmemMatrix{bs + 2 * s * 128 * 8});
      }
      wgmma_commit_and_wait(acc);
      if (more) {
        store_kmajor(la, sa.k_contig, As + (cur ^ 1) * kWgStage, tid);
        store_kmajor(lb, sb.k_contig, Bs + (cur ^ 1) * kWgStage, tid);
        fence_proxy_async();
      }
      __syncthreads();  // gemm-wgmma-kstep
    }

    TOut* c = C + z * a.batch_stride_c;
    const int lane = tid % 32, warp = (tid / 32) % 4;
    FASTNN_UNROLL
    for (int i = 0; i < 64; ++i) {
      const std::int64_t row = m0 + group * 64 + 16 * warp + lane / 4 + 8 * ((i / 2) % 2);
      const std::int64_t col = n0 + 8 * (i / 4) + 2 * (lane % 4) + i % 2;
      write_one(e, c, row, col, acc[i]);
    }
  }
#else
  (void)a;
#endif
}

inline void launch_wgmma(const GemmArgs& a, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((a.m + kWgBM - 1) / kWgBM), static_cast<unsigned>((a.n + kWgBN - 1) / kWgBN),
                  static_cast<unsigned>(a.batch < 65535 ? a.batch : 65535));
  if (a.out_dtype == GemmDtype::f32) {
    FASTNN_LAUNCH(grid, kWgThreads, 0, stream, gemm_wgmma_kernel<float>)(a);
  } else {
    FASTNN_LAUNCH(grid, kWgThreads, 0, stream, gemm_wgmma_kernel<bf16_bits>)(a);
  }
}

}  // namespace fastnn::FASTNN_CUDA_NS::gemm_detail
