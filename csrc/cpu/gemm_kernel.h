// The GEMM's building blocks, shared by the per-ISA sources that drive them (gemm.cpp, conv2d.cpp):
// the register-blocked micro-kernel, the tile store with its epilogue, and panel packing. Include only
// from a source listed in FASTNN_ISA_SOURCES (FASTNN_ISA_NS names the level).
//
// A packed A panel is MR rows wide and k-major: panel[p * MR + r] = A(i0 + r, p); a packed B panel is
// NR columns wide: panel[p * NR + l] = B(p, j0 + l). Both are zero-padded to full width, so the
// micro-kernel always runs full tiles.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fastnn/gemm.h"
#include "fastnn/simd.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace gemm_kernel {

#if defined(__AVX512F__)
constexpr int kMR = 12;  // 12 x 2 zmm accumulators + 2 B vectors + broadcasts (14 rows measured ~5% slower)
// The short tile, for m a multiple of 8 where 12-row panels would pad (conv's 32 and 64 channels,
// 64-row GEMMs): 16 accumulators still hide the FMA latency, and 10 loads per 16 FMAs fit the ports.
constexpr int kMRShort = 8;
#else
constexpr int kMR = 6;  // 6 x 2 ymm (or xmm) accumulators + 2 B vectors + 1 broadcast = 15 of 16 registers
constexpr int kMRShort = 4;
#endif
constexpr int kNV = 2;  // vectors per tile row

template <typename T>
constexpr int kNR = kNV * simd::lanes<T>;

// The tile height for m rows: the short tile when it saves over 1/16 of the rows (64 rows: 8 x 8
// instead of 6 x 12 = 72); large m keeps the long tile, whose loads are fewer per FMA.
inline int choose_mr(int64_t m) {
  const int64_t pad_long = (m + kMR - 1) / kMR * kMR, pad_short = (m + kMRShort - 1) / kMRShort * kMRShort;
  return (pad_long - pad_short) * 16 > m ? kMRShort : kMR;
}

using simd::loadu;
using simd::storeu;

// Clears the accumulators and prefetches the C tile they will update, so its cache misses overlap the
// k loop that follows.
template <typename T, int MR>
inline void start_tile(simd::Vec<T> (&acc)[MR][kNV], const T* c, int64_t rs_c) {
  constexpr int NR = kNR<T>;
  for (int i = 0; i < MR; ++i) {
    __builtin_prefetch(c + i * rs_c, 1);
    __builtin_prefetch(c + i * rs_c + NR - 1, 1);
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < kNV; ++v) acc[i][v] = simd::Vec<T>{};
}

// acc[i][v] = sum_p a[p * MR + i] * b[p * ldb + v * VL : ...] (ldb = NR for a packed panel)
template <typename T, int MR>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t ldb,
                         simd::Vec<T> (&acc)[MR][kNV], const T* c, int64_t rs_c) {
  using V = simd::Vec<T>;
  constexpr int VL = simd::lanes<T>, NR = kNR<T>;
  start_tile<T, MR>(acc, c, rs_c);
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

// micro_kernel with B's rows found through a table instead of a packed panel: vector v of row p is
// at bases[v] + offset[p]. An implicit-GEMM convolution reads its patches straight from the (padded)
// image this way: offset[p] is tap p's shift, bases[v] the pixels' position, and nothing is packed.
template <typename T, int MR>
inline void micro_kernel_indirect(int64_t kc, const T* __restrict a, const T* const (&bases)[kNV],
                                  const int64_t* __restrict offset, simd::Vec<T> (&acc)[MR][kNV], const T* c,
                                  int64_t rs_c) {
  using V = simd::Vec<T>;
  start_tile<T, MR>(acc, c, rs_c);
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    V bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = loadu<V>(bases[v] + offset[p]);
    for (int i = 0; i < MR; ++i) {
      const V ai = a[p * MR + i] - V{};
      for (int v = 0; v < kNV; ++v) acc[i][v] += ai * bv[v];
    }
  }
}

// Scalar epilogue for one element (edge tiles and GELU, whose erf has no vector form here).
template <typename T>
inline T apply_epilogue(T x, Epilogue e) {
  switch (e) {
    case Epilogue::relu: return x < T(0) ? T(0) : x;  // NaN < 0 is false: NaN stays NaN, as torch.relu
    case Epilogue::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    default: return x;
  }
}

struct TileStore {
  bool overwrite;  // first KC block: C = alpha*acc + beta*C; later blocks: C += alpha*acc
  bool finalize;   // last KC block: add the bias and apply the epilogue
};

// Stores an MR x NR tile (mr x nr of it inside C). With finalize, `bias` (when not null) is added per
// column (bias[j], a Linear layer's) or, with bias_per_row, per row (bias[i], a convolution's).
template <typename T, int MR>
inline void store_tile(const simd::Vec<T> (&acc)[MR][kNV], T* c, int64_t rs_c, int64_t cs_c, int64_t mr, int64_t nr,
                       T alpha, T beta, TileStore how, const T* bias, Epilogue epilogue, bool bias_per_row = false) {
  using V = simd::Vec<T>;
  constexpr int VL = simd::lanes<T>, NR = kNR<T>;
  const bool fin = how.finalize;
  if (cs_c == 1 && mr == MR && nr == NR && (!fin || epilogue != Epilogue::gelu)) {
    V bv[kNV];
    for (int v = 0; v < kNV; ++v) bv[v] = (fin && bias && !bias_per_row) ? loadu<V>(bias + v * VL) : V{};
    for (int i = 0; i < MR; ++i) {
      T* row = c + i * rs_c;
      const V brow = (fin && bias && bias_per_row) ? bias[i] - V{} : V{};
      for (int v = 0; v < kNV; ++v) {
        V r = alpha * acc[i][v];
        if (!how.overwrite) r += loadu<V>(row + v * VL);
        else if (beta != T(0)) r += beta * loadu<V>(row + v * VL);
        if (fin) {
          r += bias_per_row ? brow : bv[v];
          if (epilogue == Epilogue::relu) r = r < V{} ? V{} : r;  // keeps NaN (torch.relu(NaN) = NaN)
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
      if (fin) r = apply_epilogue(bias ? r + bias[bias_per_row ? i : j] : r, epilogue);
      dst = r;
    }
  }
}

// Copies a rows x kc block whose k index runs along memory (stride 1) into k-major rows of `width`
// values: dst[p * width + r] = src[r * ld + p]. A transpose, done in 16-deep k strips so each source
// row is read in whole cache lines and the strip of dst stays in L1.
template <typename T>
inline void transpose_into_panel(const T* src, int64_t ld, int64_t rows, int64_t kc, int64_t width, T* dst) {
  constexpr int64_t kStrip = 16;
  for (int64_t p0 = 0; p0 < kc; p0 += kStrip) {
    const int64_t p1 = std::min(kc, p0 + kStrip);
    for (int64_t r = 0; r < rows; ++r) {
      const T* s = src + r * ld;
      for (int64_t p = p0; p < p1; ++p) dst[p * width + r] = s[p];
    }
  }
}

// float: 8x8 and 4x4 blocks transposed in registers (rounds of shuffles), so a block costs a load and a
// store per row instead of one per element; the odd rows and k steps go through the scalar loop.
typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));

__attribute__((always_inline)) inline void transpose_4x4(const float* s, int64_t ld, float* d, int64_t width) {
  const v4f a = loadu<v4f>(s), b = loadu<v4f>(s + ld), c = loadu<v4f>(s + 2 * ld), e = loadu<v4f>(s + 3 * ld);
  const v4f ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const v4f ce_lo = __builtin_shufflevector(c, e, 0, 4, 1, 5), ce_hi = __builtin_shufflevector(c, e, 2, 6, 3, 7);
  storeu(d, __builtin_shufflevector(ab_lo, ce_lo, 0, 1, 4, 5));
  storeu(d + width, __builtin_shufflevector(ab_lo, ce_lo, 2, 3, 6, 7));
  storeu(d + 2 * width, __builtin_shufflevector(ab_hi, ce_hi, 0, 1, 4, 5));
  storeu(d + 3 * width, __builtin_shufflevector(ab_hi, ce_hi, 2, 3, 6, 7));
}

// Three rounds of 8 shuffles (unpack 32-bit, unpack 64-bit, swap 128-bit halves): 24 shuffles for 64
// values where the 4x4 route takes 32.
__attribute__((always_inline)) inline void transpose_8x8(const float* s, int64_t ld, float* d, int64_t width) {
  v8f r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = loadu<v8f>(s + i * ld);
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4) {
    for (int h = 0; h < 2; ++h) {
      r[i + h] = __builtin_shufflevector(t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      r[i + h + 2] = __builtin_shufflevector(t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  }
  // r[0..3] hold rows {0,1,2,3} x columns {0,4}, {2,6}... in 128-bit halves; pair them with r[4..7].
  const int order[4] = {0, 2, 1, 3};
  for (int q = 0; q < 4; ++q) {
    const v8f lo = r[order[q]], hi = r[order[q] + 4];
    storeu(d + q * width, __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11));
    storeu(d + (q + 4) * width, __builtin_shufflevector(lo, hi, 4, 5, 6, 7, 12, 13, 14, 15));
  }
}

inline void transpose_into_panel(const float* src, int64_t ld, int64_t rows, int64_t kc, int64_t width, float* dst) {
  constexpr int64_t kStrip = 16;
  for (int64_t p0 = 0; p0 < kc; p0 += kStrip) {
    const int64_t p1 = std::min(kc, p0 + kStrip);
    int64_t r = 0;
    for (; r + 8 <= rows; r += 8) {
      int64_t p = p0;
      for (; p + 8 <= p1; p += 8) transpose_8x8(src + r * ld + p, ld, dst + p * width + r, width);
      for (; p + 4 <= p1; p += 4) {
        transpose_4x4(src + r * ld + p, ld, dst + p * width + r, width);
        transpose_4x4(src + (r + 4) * ld + p, ld, dst + p * width + r + 4, width);
      }
      for (; p < p1; ++p)
        for (int64_t i = r; i < r + 8; ++i) dst[p * width + i] = src[i * ld + p];
    }
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
void pack_panel(const T* src, int64_t line_stride, int64_t k_stride, int64_t lines, int64_t kc, int64_t width, T* dst) {
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

}  // namespace gemm_kernel
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
