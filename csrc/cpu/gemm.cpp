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
#include "gemm_kernel.h"
#include "fastnn/threading.h"

#ifndef FASTNN_ISA_NS
#error "FASTNN_ISA_NS must name the ISA level this translation unit is compiled for"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using gemm_kernel::apply_epilogue;
using gemm_kernel::kNV;
using gemm_kernel::micro_kernel;
using gemm_kernel::pack_panel;
using gemm_kernel::store_tile;
using gemm_kernel::TileStore;
constexpr int64_t kDirectBMaxRows = 128;  // up to ~10 row panels: too few uses of B to pay for packing it
constexpr int64_t kDirectBMaxRowBytes = 4096;

struct Blocking {
  int64_t kc, mc, nc;
};

// Sizes follow the caches, never the thread count (KC fixes the summation order).
template <typename T, int MR>
Blocking choose_blocking(int64_t m, int64_t n, int64_t k) {
  constexpr int NR = gemm_kernel::kNR<T>;
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

template <typename T, int MR>
void gemm_impl(const GemmArgs<T>& g) {
  constexpr int NR = gemm_kernel::kNR<T>;
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == T(0)) return scale_c(g);

  const Blocking bl = choose_blocking<T, MR>(g.m, g.n, g.k);
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
  // Few rows (one MC block of at most kDirectBMaxRows): each thread takes a contiguous share of B's
  // panels, packs them itself and runs every row panel of A over them, so no thread reads B panels
  // packed into the other core's L2 (splitting the tiles over rows did that: dX 64x256.(784x256)T ran
  // at 0.55x torch on 2 threads). Each thread also packs its own copy of the small A block and keeps its
  // panels in its own buffer, so the threads never wait for each other: with a barrier per KC block, a
  // thread descheduled by other work on the machine stalled its partner (64x4096 . 4096x4096 on 2 busy
  // cores: 20 ms -> 600 ms).
  if (g.m <= std::min(bl.mc, kDirectBMaxRows)) {
    const int64_t m_panels = (g.m + MR - 1) / MR;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      thread_local AlignedBuffer own_a_buf, own_b_buf;
      T* own_a = t == 0 ? a_pack : own_a_buf.get<T>(static_cast<size_t>(bl.mc) * bl.kc);
      T* own_b = t == 0 ? b_pack : own_b_buf.get<T>(static_cast<size_t>(bl.nc) * bl.kc);
      for (int64_t jc = 0; jc < g.n; jc += bl.nc) {
        const int64_t n_panels = (std::min(bl.nc, g.n - jc) + NR - 1) / NR;
        const int64_t q0 = n_panels * t / nt, q1 = n_panels * (t + 1) / nt;
        if (q0 == q1) continue;
        for (int64_t pc = 0; pc < g.k; pc += bl.kc) {
          const int64_t kc = std::min(bl.kc, g.k - pc);
          const TileStore how{pc == 0, pc + kc >= g.k};
          if (g.cs_b == 1 && !direct_b) {
            // Row-major B, packed a k step at a time: each step reads this thread's columns as one run,
            // so long rows are crossed once per k step rather than once per panel (packing 376 x 672 of
            // a 4096-wide B: 12 ms -> 5 ms over the whole matrix).
            const int64_t full = std::min(q1, (g.n - jc) / NR);
            for (int64_t p = 0; p < kc; ++p) {
              const T* row = g.b + (pc + p) * g.rs_b + jc;
              T* d = own_b + p * NR;
              for (int64_t q = q0; q < full; ++q) std::memcpy(d + (q - q0) * NR * kc, row + q * NR, NR * sizeof(T));
              if (full < q1) {
                const int64_t rem = g.n - jc - full * NR;
                T* dl = d + (full - q0) * NR * kc;
                std::memcpy(dl, row + full * NR, rem * sizeof(T));
                std::fill(dl + rem, dl + NR, T(0));
              }
            }
          } else {
            for (int64_t q = q0; q < q1; ++q) {
              const int64_t j0 = jc + q * NR;
              if (direct_b && g.n - j0 >= NR) continue;
              pack_panel(g.b + pc * g.rs_b + j0 * g.cs_b, g.cs_b, g.rs_b, std::min<int64_t>(NR, g.n - j0), kc, NR,
                         own_b + (q - q0) * NR * kc);
            }
          }
          for (int64_t q = 0; q < m_panels; ++q) {
            const int64_t i0 = q * MR;
            pack_panel(g.a + i0 * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, std::min<int64_t>(MR, g.m - i0), kc, MR,
                       own_a + q * MR * kc);
          }
          for (int64_t qi = 0; qi < m_panels; ++qi) {
            const int64_t i0 = qi * MR;
            for (int64_t qj = q0; qj < q1; ++qj) {
              const int64_t j0 = jc + qj * NR;
              const bool in_place = direct_b && g.n - j0 >= NR;
              const T* bp = in_place ? g.b + pc * g.rs_b + j0 : own_b + (qj - q0) * NR * kc;
              simd::Vec<T> acc[MR][kNV];
              T* ct = g.c + i0 * g.rs_c + j0 * g.cs_c;
              micro_kernel<T, MR>(kc, own_a + qi * MR * kc, bp, in_place ? g.rs_b : NR, acc, ct, g.rs_c);
              store_tile<T, MR>(acc, ct, g.rs_c, g.cs_c, std::min<int64_t>(MR, g.m - i0), std::min<int64_t>(NR, g.n - j0),
                                g.alpha, g.beta, how, g.bias ? g.bias + j0 : nullptr, g.epilogue);
            }
          }
        }
      }
    }
    return;
  }
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
              simd::Vec<T> acc[MR][kNV];
              const bool in_place = direct_b && g.n - j0 >= NR;
              const T* bp = in_place ? g.b + pc * g.rs_b + j0 : b_pack + qj * NR * kc;
              micro_kernel<T, MR>(kc, a_pack + qi * MR * kc, bp, in_place ? g.rs_b : NR, acc,
                              g.c + i0 * g.rs_c + j0 * g.cs_c, g.rs_c);
              store_tile<T, MR>(acc, g.c + i0 * g.rs_c + j0 * g.cs_c, g.rs_c, g.cs_c, std::min<int64_t>(MR, g.m - i0),
                            std::min<int64_t>(NR, g.n - j0), g.alpha, g.beta, how, g.bias ? g.bias + j0 : nullptr,
                            g.epilogue);
            }
          }
        }
      }
    }
  }
}

// The tile height follows m alone (never the thread count), so it cannot change a result's rounding
// between runs: 64 rows run as 8 x 8 (no padding) instead of 6 x 12 (72 rows, 11% wasted).
template <typename T>
void gemm_select(const GemmArgs<T>& g) {
  if (gemm_kernel::choose_mr(g.m) == gemm_kernel::kMRShort) return gemm_impl<T, gemm_kernel::kMRShort>(g);
  gemm_impl<T, gemm_kernel::kMR>(g);
}

}  // namespace

void gemm_f32(const GemmArgs<float>& args) { gemm_select(args); }
void gemm_f64(const GemmArgs<double>& args) { gemm_select(args); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
