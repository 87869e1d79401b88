// Tensor-core GEMM (sm_80+): TF32 mma.sync m16n8k8 for fp32 inputs (allow_tf32) and BF16 mma.sync
// m16n8k16, both accumulating in fp32, with the same epilogue and operand layouts as the SIMT kernel.
//
// A 128x128 block tile, 256 threads = 8 warps as 2 (m) x 4 (n), each warp a 64x32 tile of 4 x 4 mma tiles
// (64 fp32 accumulators per thread). One k-tile is 16 32-bit words per row of op(A) and column of op(B):
// 16 tf32 values or 32 bf16 pairs. Both operands are stored in shared memory as [outer][k] with 4 words of
// padding per row (stride 20 words), so the fragment reads (lane = 4 * group + t reads row `group`, word
// t) hit 32 distinct banks; the word layout of a tf32 m16n8k8 and a bf16 m16n8k16 fragment is the same,
// so one kernel serves both. Tiles are double-buffered through registers with one barrier per k-tile, as
// in the SIMT kernel.
//
// The emulator cannot execute mma.sync / cvt.rna.tf32: under FASTNN_CUDA_EMULATOR those two instructions
// are replaced by mma.cuh's warp-level emulation with the PTX ISA's fragment layouts, so the tiling,
// shared-memory layout, fragment indexing and epilogue of this kernel run in CI when a test asks for it
// (kernel="mma"). The launcher never chooses it there on its own: the emulator's GEMMs run the SIMT kernel.
#pragma once

#include <type_traits>

#include "gemm_common.cuh"
#include "mma.cuh"

// Where the kernel body exists: a device pass for sm_80+, or the emulator.
#define FASTNN_GEMM_MMA_BODY FASTNN_MMA_BODY

namespace fastnn::FASTNN_CUDA_NS::gemm_detail {

constexpr int kTcBM = 128, kTcBN = 128, kTcThreads = 256;
constexpr int kTcWords = 16;   // 32-bit words of k per tile row
constexpr int kTcStride = 20;  // words per shared row: kTcWords + 4 of padding
constexpr int kTcChunks = kTcBM * kTcWords / 4 / kTcThreads;  // 16-byte chunks per thread per operand (2)

struct alignas(16) Word4 {
  std::uint32_t w[4];
};

using mma_detail::tensor_cores_available;

#if FASTNN_GEMM_MMA_BODY

using mma_detail::mma;
using mma_detail::to_tf32;

__device__ __forceinline__ std::uint32_t pack_bf16(bf16_bits lo, bf16_bits hi) {
  return std::uint32_t(lo) | (std::uint32_t(hi) << 16);
}

// One operand of one batch entry: element (o, k) of op(X) at p[o * ld + k] (k_contig) or p[k * ld + o].
template <class T>
struct TcSource {
  const T* p;
  std::int64_t ld, outer;
  bool k_contig, vec;  // vec: 16-byte loads along the contiguous dim are aligned
};

// A thread's two 16-byte chunks of one 128 x kTcWords-word operand tile, staged in registers as the
// 32-bit words they become in shared memory (tf32 bits, or bf16 pairs; for an o-contiguous bf16 operand,
// 8 halves along o).
template <bool kBf16>
struct TcLoader {
  using T = std::conditional_t<kBf16, bf16_bits, float>;
  static constexpr int kPerWord = kBf16 ? 2 : 1;    // elements of k per word
  static constexpr int kPerChunk = kBf16 ? 8 : 4;   // elements per 16-byte chunk
  Word4 r[kTcChunks];

  __device__ __forceinline__ static T at(const TcSource<T>& s, std::int64_t o, std::int64_t k, std::int64_t K) {
    return (o < s.outer && k < K) ? (s.k_contig ? s.p[o * s.ld + k] : s.p[k * s.ld + o]) : T(0);
  }

  __device__ __forceinline__ void load(const TcSource<T>& s, std::int64_t o0, std::int64_t k0, std::int64_t K, int tid) {
    FASTNN_UNROLL
    for (int i = 0; i < kTcChunks; ++i) {
      const int c = tid + i * kTcThreads;
      if (s.k_contig) {  // chunk: row o, kPerChunk consecutive k
        const std::int64_t o = o0 + c / 4, k = k0 + (c % 4) * 4 * kPerWord;
        if (s.vec && o < s.outer && k + kPerChunk - 1 < K) {
          const Word4 v = *reinterpret_cast<const Word4*>(s.p + o * s.ld + k);
          if constexpr (kBf16) {
            r[i] = v;
          } else {
            for (int j = 0; j < 4; ++j) r[i].w[j] = to_tf32(__uint_as_float(v.w[j]));
          }
        } else if constexpr (kBf16) {
          for (int j = 0; j < 4; ++j) r[i].w[j] = pack_bf16(at(s, o, k + 2 * j, K), at(s, o, k + 2 * j + 1, K));
        } else {
          for (int j = 0; j < 4; ++j) r[i].w[j] = to_tf32(at(s, o, k + j, K));
        }
      } else {  // chunk: k row, kPerChunk consecutive o
        const std::int64_t k = k0 + c / (kTcBM / kPerChunk), o = o0 + (c % (kTcBM / kPerChunk)) * kPerChunk;
        if (s.vec && k < K && o + kPerChunk - 1 < s.outer) {
          const Word4 v = *reinterpret_cast<const Word4*>(s.p + k * s.ld + o);
          if constexpr (kBf16) {
            r[i] = v;
          } else {
            for (int j = 0; j < 4; ++j) r[i].w[j] = to_tf32(__uint_as_float(v.w[j]));
          }
        } else if constexpr (kBf16) {
          for (int j = 0; j < 4; ++j) r[i].w[j] = pack_bf16(at(s, o + 2 * j, k, K), at(s, o + 2 * j + 1, k, K));
        } else {
          for (int j = 0; j < 4; ++j) r[i].w[j] = to_tf32(at(s, o + j, k, K));
        }
      }
    }
  }

  // S: kTcBM rows of kTcStride words.
  __device__ __forceinline__ void store(bool k_contig, std::uint32_t* S, int tid) const {
    FASTNN_UNROLL
    for (int i = 0; i < kTcChunks; ++i) {
      const int c = tid + i * kTcThreads;
      if (k_contig) {
        *reinterpret_cast<Word4*>(S + (c / 4) * kTcStride + (c % 4) * 4) = r[i];
      } else if constexpr (kBf16) {
        const int kh = c / (kTcBM / 8), o = (c % (kTcBM / 8)) * 8;  // kh: the bf16 index along k
        bf16_bits* S16 = reinterpret_cast<bf16_bits*>(S);
        for (int j = 0; j < 8; ++j) {
          S16[(o + j) * 2 * kTcStride + kh] = static_cast<bf16_bits>(r[i].w[j / 2] >> (16 * (j % 2)));
        }
      } else {
        const int k = c / (kTcBM / 4), o = (c % (kTcBM / 4)) * 4;
        for (int j = 0; j < 4; ++j) S[(o + j) * kTcStride + k] = r[i].w[j];
      }
    }
  }
};

#endif  // FASTNN_GEMM_MMA_BODY

template <bool kBf16, class TOut>
__global__ void __launch_bounds__(kTcThreads, 2) gemm_mma_kernel(GemmArgs a) {
#if FASTNN_GEMM_MMA_BODY
  using T = std::conditional_t<kBf16, bf16_bits, float>;
  constexpr int kTileK = kBf16 ? 2 * kTcWords : kTcWords;  // elements of k per tile
  FASTNN_SHARED(Word4, As4, [2][kTcBM][kTcStride / 4]);
  FASTNN_SHARED(Word4, Bs4, [2][kTcBN][kTcStride / 4]);
  std::uint32_t* As = &As4[0][0][0].w[0];
  std::uint32_t* Bs = &Bs4[0][0][0].w[0];
  constexpr int kBuffer = kTcBM * kTcStride;  // words per buffer

  const int tid = static_cast<int>(threadIdx.x), lane = tid % 32, warp = tid / 32;
  const int group = lane / 4, t = lane % 4;
  const int wm = warp / 4, wn = warp % 4;  // warp tile: rows wm * 64, columns wn * 32
  const std::int64_t m0 = std::int64_t(blockIdx.x) * kTcBM, n0 = std::int64_t(blockIdx.y) * kTcBN;
  const std::int64_t K = a.k, nk = (K + kTileK - 1) / kTileK;
  const T* A = static_cast<const T*>(a.a.ptr);
  const T* B = static_cast<const T*>(a.b.ptr);
  TOut* C = static_cast<TOut*>(a.c);
  constexpr int kVecElems = 16 / sizeof(T);
  auto aligned16 = [](const T* p, std::int64_t ld, std::int64_t bs) {
    return reinterpret_cast<std::uintptr_t>(p) % 16 == 0 && ld % kVecElems == 0 && bs % kVecElems == 0;
  };
  const bool vec_a = aligned16(A, a.a.ld, a.a.batch_stride), vec_b = aligned16(B, a.b.ld, a.b.batch_stride);
  const Epilogue e{a.alpha, a.beta, a.bias, a.act, a.m, a.n, a.ldc};

  for (std::int64_t z = blockIdx.z; z < a.batch; z += gridDim.z) {
    const TcSource<T> sa{A + z * a.a.batch_stride, a.a.ld, a.m, !a.a.trans, vec_a};
    const TcSource<T> sb{B + z * a.b.batch_stride, a.b.ld, a.n, a.b.trans, vec_b};
    TcLoader<kBf16> la, lb;
    float acc[4][4][4];
    FASTNN_UNROLL
    for (int i = 0; i < 64; ++i) acc[i / 16][(i / 4) % 4][i % 4] = 0.f;

    if (nk > 0) {
      la.load(sa, m0, 0, K, tid);
      lb.load(sb, n0, 0, K, tid);
      la.store(sa.k_contig, As, tid);
      lb.store(sb.k_contig, Bs, tid);
      __syncthreads();  // gemm-mma-first-tile
    }
    for (std::int64_t kt = 0; kt < nk; ++kt) {
      const int cur = static_cast<int>(kt & 1);
      const bool more = kt + 1 < nk;
      if (more) {
        la.load(sa, m0, (kt + 1) * kTileK, K, tid);
        lb.load(sb, n0, (kt + 1) * kTileK, K, tid);
      }
      const std::uint32_t* as = As + cur * kBuffer;
      const std::uint32_t* bs = Bs + cur * kBuffer;
      FASTNN_UNROLL
      for (int ks = 0; ks < kTcWords; ks += 8) {
        std::uint32_t af[4][4], bfr[4][2];
        FASTNN_UNROLL
        for (int mi = 0; mi < 4; ++mi) {
          const std::uint32_t* r0 = as + (wm * 64 + mi * 16 + group) * kTcStride + ks + t;
          af[mi][0] = r0[0];
          af[mi][1] = r0[8 * kTcStride];
          af[mi][2] = r0[4];
          af[mi][3] = r0[8 * kTcStride + 4];
        }
        FASTNN_UNROLL
        for (int ni = 0; ni < 4; ++ni) {
          const std::uint32_t* c0 = bs + (wn * 32 + ni * 8 + group) * kTcStride + ks + t;
          bfr[ni][0] = c0[0];
          bfr[ni][1] = c0[4];
        }
        FASTNN_UNROLL
        for (int mi = 0; mi < 4; ++mi)
          FASTNN_UNROLL
          for (int ni = 0; ni < 4; ++ni) mma<kBf16>(acc[mi][ni], af[mi], bfr[ni]);
      }
      if (more) {
        la.store(sa.k_contig, As + (cur ^ 1) * kBuffer, tid);
        lb.store(sb.k_contig, Bs + (cur ^ 1) * kBuffer, tid);
      }
      __syncthreads();  // gemm-mma-kstep
    }

    TOut* c = C + z * a.batch_stride_c;
    FASTNN_UNROLL
    for (int mi = 0; mi < 4; ++mi) {
      FASTNN_UNROLL
      for (int ni = 0; ni < 4; ++ni) {
        const std::int64_t row = m0 + wm * 64 + mi * 16 + group, col = n0 + wn * 32 + ni * 8 + 2 * t;
        write_one(e, c, row, col, acc[mi][ni][0]);
        write_one(e, c, row, col + 1, acc[mi][ni][1]);
        write_one(e, c, row + 8, col, acc[mi][ni][2]);
        write_one(e, c, row + 8, col + 1, acc[mi][ni][3]);
      }
    }
  }
#else
  (void)a;
#endif
}

// TF32 for fp32 inputs, BF16 for bf16 inputs (fp32 or bf16 output).
inline void launch_mma(const GemmArgs& a, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((a.m + kTcBM - 1) / kTcBM), static_cast<unsigned>((a.n + kTcBN - 1) / kTcBN),
                  static_cast<unsigned>(a.batch < 65535 ? a.batch : 65535));
  if (a.in_dtype == GemmDtype::f32) {
    FASTNN_LAUNCH(grid, kTcThreads, 0, stream, gemm_mma_kernel<false, float>)(a);
  } else if (a.out_dtype == GemmDtype::f32) {
    FASTNN_LAUNCH(grid, kTcThreads, 0, stream, gemm_mma_kernel<true, float>)(a);
  } else {
    FASTNN_LAUNCH(grid, kTcThreads, 0, stream, gemm_mma_kernel<true, bf16_bits>)(a);
  }
}

}  // namespace fastnn::FASTNN_CUDA_NS::gemm_detail
