// Building blocks of the fused attention kernels (attention_forward.cpp, attention_backward.cpp), compiled
// once per ISA level inside fastnn::<level>::attn.
//
// Every product of the forward and backward is a small GEMM on tiles that sit in L1/L2: a register-blocked
// MR x NR micro-kernel (NR = 2 vectors) whose A operand has compile-time row and column strides, so each
// broadcast is one load at a fixed offset from a single moving pointer, and whose B operand is rows of NR
// contiguous values (zero-padded buffers or the caller's rows).
// Scores are kept in log2 units (q is pre-scaled by scale * log2(e)) so the softmax needs exp2 only.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "fastnn/attention.h"
#include "fastnn/simd.h"
#include "fastnn/vec_exp.h"

#ifndef FASTNN_ISA_NS
#error "FASTNN_ISA_NS must name the ISA level this translation unit is compiled for"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace attn {

#if defined(__AVX512F__)
constexpr int kMR = 12;  // 12 x 2 zmm accumulators + 2 B vectors + a broadcast, as in the GEMM
#else
constexpr int kMR = 6;  // 6 x 2 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16 registers
#endif
constexpr int kNV = 2;  // vectors per micro-tile row

using simd::kVecBytes;
using simd::Vec;
using simd::vf32;
using simd::vf64;
template <typename T>
constexpr int kVL = simd::lanes<T>;
template <typename T>
constexpr int kNR = kNV * kVL<T>;

// Tile sizes. Keys per K/V tile: a 64-deep k^T tile of 256 keys is 64 KiB and the V tile the same, both
// streamed from L2. Query rows per tile: forward 48 (48 x 256 scores = 48 KiB near L1), backward 96 (the
// dK/dV products run over the tile's rows, so a taller tile halves their accumulator traffic). Measured
// on the 2-core Xeon at L = 2048 (1 thread): forward (BQ, BK) = (48|96, 128|256|512) and backward
// BQ = 96|144|192 all land within 3% of each other; the micro-kernel, not the blocking, sets the pace.
constexpr int64_t kBK = 256;
// Row stride of the score/probability tiles: not a power of two (12 rows 1 KiB apart would crowd a few
// L1 sets) and wide enough that the transposed reads of a last MR-block (up to 264 columns) stay inside.
constexpr int64_t kLdS = kBK + 16;
constexpr int64_t kFwdBQ = 48;
constexpr int64_t kFwdBK = kBK;
constexpr int64_t kFwdLdS = kLdS;
constexpr int64_t kBwdBQ = 96;
static_assert(kFwdBQ % kMR == 0 && kBwdBQ % kMR == 0, "query tiles hold whole micro-tiles");
static_assert(kBK % kNR<float> == 0 && kBK % kNR<double> == 0, "key tiles hold whole micro-tiles");

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

using simd::loadu;
using simd::storeu;

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();
template <typename T>
constexpr T kLog2e = T(1.4426950408889634074);

// acc[i][v] += sum_{p < kc} A(i, p) * B(p, v*VL .. v*VL+VL), with A(i, p) = a[i * RSA + p * CSA] and
// B(p, :) starting at b + p * ldb.
template <typename T, int64_t RSA, int64_t CSA>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, int64_t ldb,
                         Vec<T> (&acc)[kMR][kNV]) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const V b0 = loadu<V>(b + p * ldb);
    const V b1 = loadu<V>(b + p * ldb + VL);
    const T* ap = a + p * CSA;
    for (int i = 0; i < kMR; ++i) {
      const V ai = ap[i * RSA] - V{};  // a bare broadcast (a - 0 is exactly a; 0 + a is not, for -0)
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
}

enum class Init { zero, load, scale_rows };

// The part of a tile product a causal mask leaves nonzero, relative to the first row i of each row block:
// column panels starting before col_end + i, inner indices in [k_begin + i, k_end + i). The default
// covers everything. Skipped column panels leave C untouched (callers overwrite or ignore them).
struct Band {
  static constexpr int64_t kFar = int64_t(1) << 60;
  int64_t col_end = kFar, k_begin = -kFar, k_end = kFar;
};

// C[0:m, 0:n] = A B (zero), C + A B (load) or diag(row_scale) C + A B (scale_rows), with A m x k and B
// k x n as in micro_kernel and C of row stride ldc. Row block r (MR rows) of A starts at a + r * a_blk;
// column panel q (NR columns) of B at b + q * b_pnl, its rows ldb apart: row-major operands pass
// a_blk = MR * RSA or b_pnl = NR, packed panels the panel size. m is a multiple of MR and n of NR:
// callers pad their buffers so whole micro-tiles always fit. Column panels outermost: a k x NR panel of B
// stays in L1 while it meets every row block.
template <typename T, int64_t RSA, int64_t CSA, Init kInit>
inline void block_gemm(int64_t m, int64_t n, int64_t k, const T* a, int64_t a_blk, const T* b, int64_t b_pnl,
                       int64_t ldb, T* c, int64_t ldc, const T* row_scale = nullptr, const Band& band = Band{}) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>, NR = kNR<T>;
  for (int64_t j = 0; j < n; j += NR) {
    const T* bp = b + (j / NR) * b_pnl;
    for (int64_t i = 0; i < m; i += kMR) {
      if (j >= band.col_end + i) continue;
      const int64_t k0 = std::clamp<int64_t>(band.k_begin + i, 0, k), k1 = std::clamp<int64_t>(band.k_end + i, 0, k);
      V acc[kMR][kNV];
      T* ct = c + i * ldc + j;
      for (int r = 0; r < kMR; ++r) {
        for (int v = 0; v < kNV; ++v) {
          if constexpr (kInit == Init::zero) acc[r][v] = V{};
          else if constexpr (kInit == Init::load) acc[r][v] = loadu<V>(ct + r * ldc + v * VL);
          else acc[r][v] = loadu<V>(ct + r * ldc + v * VL) * (row_scale[i + r] - V{});
        }
      }
      micro_kernel<T, RSA, CSA>(k1 - k0, a + (i / kMR) * a_blk + k0 * CSA, bp + k0 * ldb, ldb, acc);
      for (int r = 0; r < kMR; ++r)
        for (int v = 0; v < kNV; ++v) storeu(ct + r * ldc + v * VL, acc[r][v]);
    }
  }
}

// Applies the user mask, the causal mask and the key padding to a score tile (log2 units, row stride
// kLdS): rows [0, qb) are queries i0.., columns [0, kb) keys j0..; columns [kb, kb_pad) are padding and
// become -inf in all qb_pad rows (rows past qb are padding queries, never written out).
template <typename T>
void mask_tile(const AttentionShape& s, int64_t b, int64_t h, T* S, int64_t ld, int64_t i0, int64_t qb,
               int64_t qb_pad, int64_t j0, int64_t kb, int64_t kb_pad) {
  const T ninf = kNegInf<T>;
  if (s.mask_kind != AttentionMask::none) {
    const int64_t sj = s.mask_sj;
    for (int64_t r = 0; r < qb; ++r) {
      T* row = S + r * ld;
      const int64_t off = b * s.mask_sb + h * s.mask_sh + (i0 + r) * s.mask_si + j0 * sj;
      if (s.mask_kind == AttentionMask::boolean) {
        const uint8_t* m = static_cast<const uint8_t*>(s.mask) + off;
        if (sj == 1) {
          for (int64_t c = 0; c < kb; ++c) row[c] = m[c] ? row[c] : ninf;
        } else if (sj == 0) {
          if (!m[0])
            for (int64_t c = 0; c < kb; ++c) row[c] = ninf;
        } else {
          for (int64_t c = 0; c < kb; ++c) row[c] = m[c * sj] ? row[c] : ninf;
        }
      } else {
        const T* m = static_cast<const T*>(s.mask) + off;
        if (sj == 1) {
          for (int64_t c = 0; c < kb; ++c) row[c] += m[c] * kLog2e<T>;
        } else {
          for (int64_t c = 0; c < kb; ++c) row[c] += m[c * sj] * kLog2e<T>;
        }
      }
    }
  }
  if (s.causal && j0 + kb - 1 > i0) {  // the tile reaches above the diagonal: key j takes part in row i iff j <= i
    // Padding rows too: the causal products skip the micro-tiles above the diagonal, and this overwrites
    // whatever those left in the tile.
    for (int64_t r = 0; r < qb_pad; ++r) {
      T* row = S + r * ld;
      for (int64_t c = std::max<int64_t>(0, i0 + r - j0 + 1); c < kb; ++c) row[c] = ninf;
    }
  }
  if (kb < kb_pad) {
    for (int64_t r = 0; r < qb_pad; ++r)
      for (int64_t c = kb; c < kb_pad; ++c) S[r * ld + c] = ninf;
  }
}

// The maximum of v's lanes, in every lane: log2(VL) steps that compare lanes i and i ^ w (w = VL/2 .. 1).
// A scalar chain over 16 lanes costs ~4x the latency, once per row per key tile.
template <typename VI, int W, size_t... Is>
constexpr VI xor_lanes(std::index_sequence<Is...>) {
  return VI{static_cast<std::remove_reference_t<decltype(VI{}[0])>>(Is ^ W)...};
}
template <typename T, int W>
inline Vec<T> allmax_step(Vec<T> v) {
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> I;
  typedef I VI __attribute__((vector_size(kVecBytes)));
  constexpr VI idx = xor_lanes<VI, W>(std::make_index_sequence<kVL<T>>{});  // lane i takes lane i ^ W
  const Vec<T> s = __builtin_shuffle(v, idx);
  v = vec_max(s, v);
  if constexpr (W > 1) return allmax_step<T, W / 2>(v);
  else return v;
}
template <typename T>
inline Vec<T> allmax(Vec<T> v) {
  return allmax_step<T, kVL<T> / 2>(v);
}
template <typename T>
inline T hsum(const Vec<T>& v) {
  T s = v[0];
  for (int i = 1; i < kVL<T>; ++i) s += v[i];
  return s;
}

// One stage of an in-register VL x VL transpose: rows i and i + W (i & W == 0) swap their off-diagonal
// blocks of W lanes. Stages W = VL/2, ..., 1 transpose the whole block (two-source shuffles: one
// vpermt2ps each on AVX-512, 4 x 16 of them per 16 x 16 floats).
template <typename VI, int W, bool kHi, size_t... Is>
constexpr VI block_swap_lanes(std::index_sequence<Is...>) {
  constexpr int VL = sizeof...(Is);
  using E = std::remove_reference_t<decltype(VI{}[0])>;
  return VI{static_cast<E>(kHi ? ((Is & W) ? VL + Is : Is + W) : ((Is & W) ? VL + Is - W : Is))...};
}
template <typename T, int W>
inline void transpose_stage(Vec<T> (&r)[kVL<T>]) {
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> I;
  typedef I VI __attribute__((vector_size(kVecBytes)));
  constexpr VI lo = block_swap_lanes<VI, W, false>(std::make_index_sequence<kVL<T>>{});
  constexpr VI hi = block_swap_lanes<VI, W, true>(std::make_index_sequence<kVL<T>>{});
  for (int i = 0; i < kVL<T>; ++i) {
    if (i & W) continue;
    const Vec<T> a = r[i], b = r[i + W];
    r[i] = __builtin_shuffle(a, b, lo);
    r[i + W] = __builtin_shuffle(a, b, hi);
  }
  if constexpr (W > 1) transpose_stage<T, W / 2>(r);
}

// Rows of src (src(r) = src + r * sr, cols values each) transposed into `panels` panels of W rows (W a
// multiple of VL), as a GEMM packs its operands: panel P holds rows [P*W, P*W + W) as cols steps of W
// values, dst[P * (cols * W) + c * W + r % W] = src(r)[c] * mul, rows past `rows` zero. A panel is
// contiguous, so a micro-kernel walks it with one pointer and no two of its steps compete for an L1 set
// (a plain transpose with a row stride of L floats puts them all in one set when L is a power of two).
// VL x VL blocks go through registers: ~5x faster than element-wise copies.
template <typename T>
void pack_panels(const T* src, int64_t sr, int64_t rows, int64_t cols, T mul, T* dst, int64_t W, int64_t panels) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>;
  const V vmul = mul - V{};
  for (int64_t p = 0; p < panels; ++p) {
    T* panel = dst + p * cols * W;
    for (int64_t r0 = p * W; r0 < p * W + W; r0 += VL) {
      const int64_t nr = std::max<int64_t>(0, std::min<int64_t>(VL, rows - r0));
      for (int64_t c0 = 0; c0 < cols; c0 += VL) {
        const int64_t nc = std::min<int64_t>(VL, cols - c0);
        V blk[VL];
        for (int i = 0; i < VL; ++i) {
          if (i >= nr) {
            blk[i] = V{};
          } else if (nc == VL) {
            blk[i] = loadu<V>(src + (r0 + i) * sr + c0) * vmul;
          } else {
            T tmp[VL] = {};
            std::memcpy(tmp, src + (r0 + i) * sr + c0, nc * sizeof(T));
            blk[i] = loadu<V>(tmp) * vmul;
          }
        }
        transpose_stage<T, VL / 2>(blk);
        for (int64_t k = 0; k < nc; ++k) storeu(panel + (c0 + k) * W + (r0 - p * W), blk[k]);
      }
    }
  }
}

// sum_c x[c] * y[c] with lane-wise partial sums (a fixed order, so deterministic, and no serial chain).
template <typename T>
inline T row_dot(const T* x, const T* y, int64_t n) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>;
  V acc = V{};
  int64_t c = 0;
  for (; c + VL <= n; c += VL) acc += loadu<V>(x + c) * loadu<V>(y + c);
  T s = hsum<T>(acc);
  for (; c < n; ++c) s += x[c] * y[c];
  return s;
}

// dst[r * ld + c] = src(r)[c] for c < cols and zero for c in [cols, ld): rows widened to whole micro-tiles.
template <typename T>
void pack_rows(const T* src, int64_t sr, int64_t rows, int64_t cols, T* dst, int64_t ld) {
  for (int64_t r = 0; r < rows; ++r) {
    if (cols > 0) std::memcpy(dst + r * ld, src + r * sr, cols * sizeof(T));
    std::fill(dst + r * ld + cols, dst + r * ld + ld, T(0));
  }
}

// Splits items [0, n) with cumulative work cum[0..n] (cum[0] = 0) into nth contiguous ranges of about
// equal work; returns thread tid's [begin, end). Which thread computes an item never changes its result.
inline void balanced_range(const double* cum, int64_t n, int tid, int nth, int64_t& begin, int64_t& end) {
  auto bound = [&](int t) -> int64_t {
    if (t <= 0) return 0;
    if (t >= nth) return n;
    const double target = cum[n] * t / nth;
    return std::lower_bound(cum, cum + n + 1, target) - cum;
  };
  begin = bound(tid);
  end = bound(tid + 1);
}

}  // namespace attn
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
