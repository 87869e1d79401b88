// BLIS-style GEMM, compiled once per ISA level (FASTNN_ISA_NS names the level's namespace).
//
// Loops, outermost first: jc over NC columns of B/C, pc over KC of the shared dimension (B's KC x NC
// block is packed into NR-wide panels sized for L2), ic over MC rows (A's MC x KC block packed into
// MR-tall panels), then the MR x NR tiles. Each tile row of A (MR x KC, packed) stays in L1 while the
// tile walks along the B panels. Panels are zero-padded, so the micro-kernel always runs full tiles.
//
// The micro-kernel is written with GCC vector extensions: the same source becomes 16-float zmm code
// under -mavx512f, 8-float ymm under -mavx2 and 4-float xmm on the baseline, with the accumulator tile
// sized to each level's register file.
//
// Determinism: threads split tiles, never the k loop, and KC depends only on the cache sizes, so each
// C element's sum is accumulated in the same order for any thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "fastnn/aligned_buffer.h"
#include "fastnn/cache_info.h"
#include "fastnn/gemm.h"
#include "fastnn/simd.h"
#include "fastnn/threading.h"

#ifndef FASTNN_ISA_NS
#error "FASTNN_ISA_NS must name the ISA level this translation unit is compiled for"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int kMR = 12;  // 12 x 2 zmm accumulators + 2 B vectors + broadcasts (14 rows measured ~5% slower)
#else
constexpr int kMR = 6;  // 6 x 2 ymm (or xmm) accumulators + 2 B vectors + 1 broadcast = 15 of 16 registers
#endif
constexpr int kNV = 2;  // vectors per tile row
constexpr int64_t kDirectBMaxRows = 128;  // up to ~10 row panels: too few uses of B to pay for packing it
constexpr int64_t kDirectBMaxRowBytes = 4096;

template <typename T>
struct Tile {
  using V = simd::Vec<T>;
  static constexpr int VL = simd::lanes<T>;
  static constexpr int MR = kMR;
  static constexpr int NR = kNV * VL;
};

using simd::loadu;
using simd::storeu;

// acc[i][v] = sum_p a[p * MR + i] * b[p * ldb + v * VL : ...] (ldb = NR for a packed panel)
// The C tile it will update is prefetched first, so its cache misses overlap the k loop.
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t ldb,
                         typename Tile<T>::V (&acc)[kMR][kNV], const T* c, int64_t rs_c) {
  using V = typename Tile<T>::V;
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR, VL = Tile<T>::VL;
  for (int i = 0; i < MR; ++i) {
    __builtin_prefetch(c + i * rs_c, 1);
    __builtin_prefetch(c + i * rs_c + NR - 1, 1);
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < kNV; ++v) acc[i][v] = V{};
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    V bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = loadu<V>(b + p * ldb + v * VL);
    // B streams from L2 while the A row stays in L1: fetch a few k-steps ahead.
    __builtin_prefetch(b + (p + 6) * ldb);
    __builtin_prefetch(b + (p + 6) * ldb + NR / 2);
    for (int i = 0; i < MR; ++i) {
      // a - 0 is exactly a (signed zeros included), so this folds to a bare broadcast; 0 + a would not.
      const V ai = a[p * MR + i] - V{};
      for (int v = 0; v < kNV; ++v) acc[i][v] += ai * bv[v];
    }
  }
}

// Scalar epilogue for one element (edge tiles and GELU, whose erf has no vector form here).
template <typename T>
inline T apply_epilogue(T x, Epilogue e) {
  switch (e) {
    case Epilogue::relu: return x > T(0) ? x : T(0);
    case Epilogue::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    default: return x;
  }
}

struct TileStore {
  bool overwrite;  // first KC block: C = alpha*acc + beta*C; later blocks: C += alpha*acc
  bool finalize;   // last KC block: add the bias and apply the epilogue
};

template <typename T>
inline void store_tile(const typename Tile<T>::V (&acc)[kMR][kNV], T* c, int64_t rs_c, int64_t cs_c, int64_t mr,
                       int64_t nr, T alpha, T beta, TileStore how, const T* bias, Epilogue epilogue) {
  using V = typename Tile<T>::V;
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR, VL = Tile<T>::VL;
  const bool fin = how.finalize;
  if (cs_c == 1 && mr == MR && nr == NR && (!fin || epilogue != Epilogue::gelu)) {
    V bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = (fin && bias) ? loadu<V>(bias + v * VL) : V{};
    for (int i = 0; i < MR; ++i) {
      T* row = c + i * rs_c;
      for (int v = 0; v < kNV; ++v) {
        V r = alpha * acc[i][v];
        if (!how.overwrite) r += loadu<V>(row + v * VL);
        else if (beta != T(0)) r += beta * loadu<V>(row + v * VL);
        if (fin) {
          r += bv[v];
          if (epilogue == Epilogue::relu) r = r > V{} ? r : V{};
        }
        storeu(row + v * VL, r);
      }
    }
    return;
  }
  alignas(64) T tmp[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < kNV; ++v) storeu(&tmp[i][v * VL], acc[i][v]);
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) {
      T& dst = c[i * rs_c + j * cs_c];
      T r = alpha * tmp[i][j];
      if (!how.overwrite) r += dst;
      else if (beta != T(0)) r += beta * dst;
      if (fin) r = apply_epilogue(bias ? r + bias[j] : r, epilogue);
      dst = r;
    }
  }
}

// Copies a rows x kc block whose k index runs along memory (stride 1) into k-major rows of `width`
// values: dst[p * width + r] = src[r * ld + p]. A transpose, done in 16-deep k strips so each source
// row is read in whole cache lines and the strip of dst stays in L1.
template <typename T>
inline void transpose_into_panel(const T* src, int64_t ld, int64_t rows, int64_t kc, int width, T* dst) {
  constexpr int64_t kStrip = 16;
  for (int64_t p0 = 0; p0 < kc; p0 += kStrip) {
    const int64_t p1 = std::min(kc, p0 + kStrip);
    for (int64_t r = 0; r < rows; ++r) {
      const T* s = src + r * ld;
      for (int64_t p = p0; p < p1; ++p) dst[p * width + r] = s[p];
    }
  }
}

// float: 4x4 blocks transposed in registers (two rounds of shuffles), so each block costs four 16-byte
// loads and stores instead of sixteen scalar ones; the odd rows and k steps go through the scalar loop.
typedef float v4f __attribute__((vector_size(16)));

inline void transpose_4x4(const float* s, int64_t ld, float* d, int64_t width) {
  const v4f a = loadu<v4f>(s), b = loadu<v4f>(s + ld), c = loadu<v4f>(s + 2 * ld), e = loadu<v4f>(s + 3 * ld);
  const v4f ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const v4f ce_lo = __builtin_shufflevector(c, e, 0, 4, 1, 5), ce_hi = __builtin_shufflevector(c, e, 2, 6, 3, 7);
  storeu(d, __builtin_shufflevector(ab_lo, ce_lo, 0, 1, 4, 5));
  storeu(d + width, __builtin_shufflevector(ab_lo, ce_lo, 2, 3, 6, 7));
  storeu(d + 2 * width, __builtin_shufflevector(ab_hi, ce_hi, 0, 1, 4, 5));
  storeu(d + 3 * width, __builtin_shufflevector(ab_hi, ce_hi, 2, 3, 6, 7));
}

inline void transpose_into_panel(const float* src, int64_t ld, int64_t rows, int64_t kc, int width, float* dst) {
  constexpr int64_t kStrip = 16;
  for (int64_t p0 = 0; p0 < kc; p0 += kStrip) {
    const int64_t p1 = std::min(kc, p0 + kStrip);
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
      int64_t p = p0;
      for (; p + 4 <= p1; p += 4) transpose_4x4(src + r * ld + p, ld, dst + p * width + r, width);
      for (; p < p1; ++p)
        for (int64_t i = r; i < r + 4; ++i) dst[p * width + i] = src[i * ld + p];
    }
    for (; r < rows; ++r)
      for (int64_t p = p0; p < p1; ++p) dst[p * width + r] = src[r * ld + p];
  }
}

// Packs `lines` lines (rows of A or columns of B) of a strided block into a k-major panel `width`
// values wide: dst[p * width + l] = src[l * line_stride + p * k_stride], zero-padded up to `width` lines.
// A's MR-row panels and B's NR-column panels are both this; only the strides' roles differ.
template <typename T>
void pack_panel(const T* src, int64_t line_stride, int64_t k_stride, int64_t lines, int64_t kc, int width, T* dst) {
  if (line_stride == 1 && lines == width) {  // the lines are adjacent: each k step is one contiguous copy
    for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * width, src + p * k_stride, width * sizeof(T));
    return;
  }
  if (k_stride == 1 && line_stride != 1) {  // k runs along memory (A row-major, B transposed): a transpose
    transpose_into_panel(src, line_stride, lines, kc, width, dst);
  } else {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t l = 0; l < lines; ++l) dst[p * width + l] = src[l * line_stride + p * k_stride];
  }
  if (lines < width) {
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t l = lines; l < width; ++l) dst[p * width + l] = T(0);
  }
}

struct Blocking {
  int64_t kc, mc, nc;
};

// Sizes follow the caches, never the thread count (KC fixes the summation order).
template <typename T>
Blocking choose_blocking(int64_t m, int64_t n, int64_t k) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  const CacheInfo& ci = cache_info();
  // The MR x KC row of A is reused across a whole B panel: give it half of L1.
  int64_t kc = (ci.l1d / 2) / (MR * static_cast<int64_t>(sizeof(T)));
  kc = std::clamp<int64_t>(kc, 128, 384) / 8 * 8;
  // The packed KC x NC block of B is streamed by every tile row: keep it in half of L2.
  int64_t nc = (ci.l2 / 2) / (kc * static_cast<int64_t>(sizeof(T)));
  nc = std::max<int64_t>(NR, nc / NR * NR);
  // A's MC x KC block is the unit of packing between barriers; a quarter of L2 bounds it.
  int64_t mc = (ci.l2 / 4) / (kc * static_cast<int64_t>(sizeof(T)));
  mc = std::max<int64_t>(MR, mc / MR * MR);
  // Split k into equal blocks (784 = 392 + 392, not 384 + 384 + 16): a short last block would cost a
  // whole extra read-modify-write sweep over C for little arithmetic.
  const int64_t k_blocks = std::max<int64_t>(1, (k + kc - 1) / kc);
  kc = std::min(kc + 7, ((k + k_blocks - 1) / k_blocks + 7) / 8 * 8);
  Blocking bl{std::min(kc, k), std::min(mc, (m + MR - 1) / MR * MR), std::min(nc, (n + NR - 1) / NR * NR)};
  return bl;
}

// k == 0 (or alpha == 0): C = beta*C, then the epilogue; beta == 0 writes zeros even over NaN.
template <typename T>
void scale_c(const GemmArgs<T>& g) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      T& dst = g.c[i * g.rs_c + j * g.cs_c];
      T r = g.beta == T(0) ? T(0) : g.beta * dst;
      if (g.bias) r += g.bias[j];
      dst = apply_epilogue(r, g.epilogue);
    }
}

template <typename T>
void gemm_impl(const GemmArgs<T>& g) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == T(0)) return scale_c(g);

  const Blocking bl = choose_blocking<T>(g.m, g.n, g.k);
  thread_local AlignedBuffer a_buf, b_buf;
  T* a_pack = a_buf.get<T>(static_cast<size_t>(bl.mc) * bl.kc);
  T* b_pack = b_buf.get<T>(static_cast<size_t>(bl.nc) * bl.kc);

  // A row-major B feeding few rows of A is read in place: packing it would copy every element of B to
  // use it a handful of times (64x784 . 784x256 spent as long packing B as multiplying). Only a partial
  // last panel is packed, for its zero padding. Rows longer than a page are packed anyway: reading them
  // in place touches a new page every k step (64x4096 . 4096x4096 took 34 ms in place, 17 ms packed).
  const bool direct_b = g.cs_b == 1 && g.m <= kDirectBMaxRows &&
                        std::abs(g.rs_b) * static_cast<int64_t>(sizeof(T)) <= kDirectBMaxRowBytes;
  const int nthreads = threads_for(2.0 * g.m * g.n * g.k);
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    for (int64_t jc = 0; jc < g.n; jc += bl.nc) {
      const int64_t nc = std::min(bl.nc, g.n - jc);
      const int64_t n_panels = (nc + NR - 1) / NR;
      for (int64_t pc = 0; pc < g.k; pc += bl.kc) {
        const int64_t kc = std::min(bl.kc, g.k - pc);
        const TileStore how{pc == 0, pc + kc >= g.k};
#pragma omp for schedule(static)
        for (int64_t q = 0; q < n_panels; ++q) {
          const int64_t j0 = jc + q * NR;
          if (direct_b && g.n - j0 >= NR) continue;
          pack_panel(g.b + pc * g.rs_b + j0 * g.cs_b, g.cs_b, g.rs_b, std::min<int64_t>(NR, g.n - j0), kc, NR,
                     b_pack + q * NR * kc);
        }
        for (int64_t ic = 0; ic < g.m; ic += bl.mc) {
          const int64_t mc = std::min(bl.mc, g.m - ic);
          const int64_t m_panels = (mc + MR - 1) / MR;
#pragma omp for schedule(static)
          for (int64_t q = 0; q < m_panels; ++q) {
            const int64_t i0 = ic + q * MR;
            pack_panel(g.a + i0 * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, std::min<int64_t>(MR, g.m - i0), kc, MR,
                       a_pack + q * MR * kc);
          }
#pragma omp for collapse(2) schedule(static)
          for (int64_t qi = 0; qi < m_panels; ++qi) {
            for (int64_t qj = 0; qj < n_panels; ++qj) {
              const int64_t i0 = ic + qi * MR, j0 = jc + qj * NR;
              typename Tile<T>::V acc[kMR][kNV];
              const bool in_place = direct_b && g.n - j0 >= NR;
              const T* bp = in_place ? g.b + pc * g.rs_b + j0 : b_pack + qj * NR * kc;
              micro_kernel<T>(kc, a_pack + qi * MR * kc, bp, in_place ? g.rs_b : NR, acc,
                              g.c + i0 * g.rs_c + j0 * g.cs_c, g.rs_c);
              store_tile<T>(acc, g.c + i0 * g.rs_c + j0 * g.cs_c, g.rs_c, g.cs_c, std::min<int64_t>(MR, g.m - i0),
                            std::min<int64_t>(NR, g.n - j0), g.alpha, g.beta, how, g.bias ? g.bias + j0 : nullptr,
                            g.epilogue);
            }
          }
        }
      }
    }
  }
}

}  // namespace

void gemm_f32(const GemmArgs<float>& args) { gemm_impl(args); }
void gemm_f64(const GemmArgs<double>& args) { gemm_impl(args); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
