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
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "fastnn/aligned_buffer.h"
#include "fastnn/cache_info.h"
#include "fastnn/gemm.h"
#include "fastnn/simd.h"
#include "fastnn/team_backoff.h"
#include "fastnn/threading.h"
#include "gemm_kernel.h"

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

// Packs B's panels q0..q1 (NR columns each, the last one zero-padded) of the KC block at row pc into
// dst, panel q at dst + (q - q0) * NR * kc. With direct_b the full panels are read in place and only a
// partial last one is packed, for its padding.
template <typename T>
void pack_b_strip(const GemmArgs<T>& g, int64_t pc, int64_t kc, int64_t q0, int64_t q1, bool direct_b, T* dst) {
  constexpr int NR = gemm_kernel::kNR<T>;
  if (g.cs_b == 1 && !direct_b) {
    // Row-major B, packed a k step at a time: each step reads the strip's columns as one run, so long
    // rows are crossed once per k step rather than once per panel (packing 376 x 672 of a 4096-wide B:
    // 12 ms -> 5 ms over the whole matrix).
    const int64_t full = std::min(q1, g.n / NR);
    for (int64_t p = 0; p < kc; ++p) {
      const T* row = g.b + (pc + p) * g.rs_b;
      T* d = dst + p * NR;
      for (int64_t q = q0; q < full; ++q) std::memcpy(d + (q - q0) * NR * kc, row + q * NR, NR * sizeof(T));
      if (full < q1) {
        const int64_t rem = g.n - full * NR;
        T* dl = d + (full - q0) * NR * kc;
        std::memcpy(dl, row + full * NR, rem * sizeof(T));
        std::fill(dl + rem, dl + NR, T(0));
      }
    }
    return;
  }
  for (int64_t q = q0; q < q1; ++q) {
    const int64_t j0 = q * NR;
    if (direct_b && g.n - j0 >= NR) continue;
    pack_panel(g.b + pc * g.rs_b + j0 * g.cs_b, g.cs_b, g.rs_b, std::min<int64_t>(NR, g.n - j0), kc, NR,
               dst + (q - q0) * NR * kc);
  }
}

// One MR x NR tile of C (row panel qi, column panel qj) for the KC block at pc: a_panel is its packed A
// panel, b_panel its packed B panel (unused where direct_b reads the full panel in place).
template <typename T, int MR>
inline void run_tile(const GemmArgs<T>& g, int64_t pc, int64_t kc, TileStore how, bool direct_b, int64_t qi,
                     int64_t qj, const T* a_panel, const T* b_panel) {
  constexpr int NR = gemm_kernel::kNR<T>;
  const int64_t i0 = qi * MR, j0 = qj * NR;
  const bool in_place = direct_b && g.n - j0 >= NR;
  const T* bp = in_place ? g.b + pc * g.rs_b + j0 : b_panel;
  simd::Vec<T> acc[MR][kNV];
  T* ct = g.c + i0 * g.rs_c + j0 * g.cs_c;
  micro_kernel<T, MR>(kc, a_panel, bp, in_place ? g.rs_b : NR, acc, ct, g.rs_c);
  store_tile<T, MR>(acc, ct, g.rs_c, g.cs_c, std::min<int64_t>(MR, g.m - i0), std::min<int64_t>(NR, g.n - j0), g.alpha,
                    g.beta, how, g.bias ? g.bias + j0 : nullptr, g.epilogue);
}

// The large-m path's work units: col_strips strips of B's panels (of equal width to within a panel,
// each at most NC wide so its packed block fits L2) times row_chunks chunks of A's row panels.
struct UnitGrid {
  int64_t col_strips, row_chunks;
};

// Every unit packs its own B block per KC step and its own A blocks, so more units cost more packing:
// each extra row chunk packs B once more (k x n values), each extra column strip packs A once more
// (m x k). One thread takes the fewest strips (the single-thread loop nest, no packing twice); a team
// gets at least kUnitsPerThread units per thread, so a thread that runs at half speed on a shared core
// still ends near its partner, at the grid that packs least.
constexpr int64_t kUnitsPerThread = 3;
// Row panels per piece of a unit, the smallest grab (see gemm_impl): 4 x 12 rows.
constexpr int64_t kPiecePanels = 4;
// B panels per group of the few-rows path, where there are enough of them (see gemm_impl).
constexpr int64_t kMinGroupPanels = 4;

template <typename T, int MR>
UnitGrid choose_units(int64_t m, int64_t n, const Blocking& bl, int nthreads) {
  constexpr int NR = gemm_kernel::kNR<T>;
  const int64_t m_panels = (m + MR - 1) / MR, n_panels = (n + NR - 1) / NR, strip_panels = bl.nc / NR;
  const int64_t min_strips = (n_panels + strip_panels - 1) / strip_panels;
  if (nthreads <= 1) return {min_strips, 1};
  const int64_t target = kUnitsPerThread * nthreads;
  UnitGrid best{min_strips, 1};
  double best_cost = -1.0;
  for (int64_t r = 1; r <= std::min(target, m_panels); ++r) {
    const int64_t c = std::min(n_panels, std::max(min_strips, (target + r - 1) / r));
    const double cost = static_cast<double>(c) * m + static_cast<double>(r) * n;
    if (best_cost < 0.0 || cost < best_cost || (cost == best_cost && c * r > best.col_strips * best.row_chunks)) {
      best = {c, r};
      best_cost = cost;
    }
  }
  return best;
}

// The small-m path's share of B: panels [q0, q1) of the NC strip at jc, for every KC block in order,
// over all of A's row panels (packed into own_a, this thread's copy).
template <typename T, int MR>
void small_m_part(const GemmArgs<T>& g, const Blocking& bl, bool direct_b, int64_t q0, int64_t q1) {
  constexpr int NR = gemm_kernel::kNR<T>;
  thread_local AlignedBuffer own_a_buf, own_b_buf;
  T* own_a = own_a_buf.get<T>(static_cast<size_t>(bl.mc) * bl.kc);
  T* own_b = own_b_buf.get<T>(static_cast<size_t>(bl.nc) * bl.kc);
  const int64_t m_panels = (g.m + MR - 1) / MR;
  for (int64_t pc = 0; pc < g.k; pc += bl.kc) {
    const int64_t kc = std::min(bl.kc, g.k - pc);
    const TileStore how{pc == 0, pc + kc >= g.k};
    pack_b_strip(g, pc, kc, q0, q1, direct_b, own_b);
    for (int64_t q = 0; q < m_panels; ++q) {
      const int64_t i0 = q * MR;
      pack_panel(g.a + i0 * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, std::min<int64_t>(MR, g.m - i0), kc, MR,
                 own_a + q * MR * kc);
    }
    for (int64_t qi = 0; qi < m_panels; ++qi)
      for (int64_t qj = q0; qj < q1; ++qj)
        run_tile<T, MR>(g, pc, kc, how, direct_b, qi, qj, own_a + qi * MR * kc, own_b + (qj - q0) * NR * kc);
  }
}

// The large-m path's piece of work: B panels [q0, q1) times A's row panels [r0, r1), all KC blocks in
// order, packed into this thread's own buffers.
template <typename T, int MR>
void large_m_part(const GemmArgs<T>& g, const Blocking& bl, bool direct_b, int64_t q0, int64_t q1, int64_t r0,
                  int64_t r1) {
  constexpr int NR = gemm_kernel::kNR<T>;
  thread_local AlignedBuffer own_a_buf, own_b_buf;
  T* own_a = own_a_buf.get<T>(static_cast<size_t>(bl.mc) * bl.kc);
  T* own_b = own_b_buf.get<T>(static_cast<size_t>(bl.nc) * bl.kc);
  const int64_t mc_panels = bl.mc / MR;
  for (int64_t pc = 0; pc < g.k; pc += bl.kc) {
    const int64_t kc = std::min(bl.kc, g.k - pc);
    const TileStore how{pc == 0, pc + kc >= g.k};
    pack_b_strip(g, pc, kc, q0, q1, direct_b, own_b);
    for (int64_t ib = r0; ib < r1; ib += mc_panels) {
      const int64_t ie = std::min(r1, ib + mc_panels);
      for (int64_t q = ib; q < ie; ++q) {
        const int64_t i0 = q * MR;
        pack_panel(g.a + i0 * g.rs_a + pc * g.cs_a, g.rs_a, g.cs_a, std::min<int64_t>(MR, g.m - i0), kc, MR,
                   own_a + (q - ib) * MR * kc);
      }
      for (int64_t qi = ib; qi < ie; ++qi)
        for (int64_t qj = q0; qj < q1; ++qj)
          run_tile<T, MR>(g, pc, kc, how, direct_b, qi, qj, own_a + (qi - ib) * MR * kc, own_b + (qj - q0) * NR * kc);
    }
  }
}

// What the back-off needs from a team call: the calling thread's share of the work and when it finished
// it. Only the caller writes these (the chunks it ran itself), so they need no atomics.
struct CallerShare {
  std::thread::id caller = std::this_thread::get_id();
  int64_t t_start = TeamBackoff::now_ns(), t_own = 0, own_work = 0;
  void chunk_done(int64_t work) {
    if (std::this_thread::get_id() != caller) return;
    own_work += work;
    t_own = TeamBackoff::now_ns();
  }
  // One thread alone would have taken about (t_own - t_start) * all_work / own_work. A caller that ran
  // no chunk reports nothing.
  void report(TeamBackoff& backoff, int64_t all_work) const {
    if (own_work <= 0 || t_own <= t_start) return;
    const double solo = static_cast<double>(t_own - t_start) * static_cast<double>(all_work) / own_work;
    backoff.report(TeamBackoff::now_ns() - t_start, static_cast<int64_t>(std::min(solo, 9.0e18)));
  }
};

template <typename T, int MR>
void gemm_impl(const GemmArgs<T>& g) {
  constexpr int NR = gemm_kernel::kNR<T>;
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == T(0)) return scale_c(g);

  const Blocking bl = choose_blocking<T, MR>(g.m, g.n, g.k);
  // A row-major B feeding few rows of A is read in place: packing it would copy every element of B to
  // use it a handful of times (64x784 . 784x256 spent as long packing B as multiplying). Only a partial
  // last panel is packed, for its zero padding. Rows longer than a page are packed anyway: reading them
  // in place touches a new page every k step (64x4096 . 4096x4096 took 34 ms in place, 17 ms packed).
  const bool direct_b = g.cs_b == 1 && g.m <= kDirectBMaxRows &&
                        std::abs(g.rs_b) * static_cast<int64_t>(sizeof(T)) <= kDirectBMaxRowBytes;
  // The work is split into chunks that parallel_chunks hands to whichever thread is free (the caller
  // included), so a partner starved of its core by another process leaves its chunks to the caller and
  // holds nobody up at a region start or end (OpenMP's fork/join did: 16 ms floors at 256^3 beside one
  // busy process). Chunks only group tiles, and a tile always runs every KC block in order, so the
  // thread count and which thread runs a chunk never change the bits.
  TeamBackoff& backoff = gemm_team_backoff();
  // A team only while the back-off allows it (see team_backoff.h).
  const int wanted = threads_for(2.0 * g.m * g.n * g.k);
  const int nthreads = wanted > 1 && backoff.team_allowed() ? wanted : 1;
  CallerShare share;
  // Few rows (one MC block of at most kDirectBMaxRows): a chunk is a contiguous group of B's panels in
  // one NC strip, packed by the thread that runs it, over every row panel of A, so no thread reads B
  // panels packed into the other core's L2 (splitting the tiles over rows did that: dX
  // 64x256.(784x256)T ran at 0.55x torch on 2 threads). Each chunk also packs its own copy of the small
  // A block, so the threads never wait for each other: with a barrier per KC block, a thread descheduled
  // by other work on the machine stalled its partner (64x4096 . 4096x4096 on 2 busy cores: 20 ms ->
  // 600 ms). A team gets one group per thread and strip, more (up to kUnitsPerThread per thread) where
  // each still holds kMinGroupPanels panels, so a partner that runs at half speed takes fewer of them:
  // every group packs A again (64x784 . 784x256 cut into 6 groups of 1-2 panels packed A for about as
  // long as it multiplied, 2 threads 0.20 -> 0.24 ms). One thread takes the whole strip.
  if (g.m <= std::min(bl.mc, kDirectBMaxRows)) {
    const int64_t strips = (g.n + bl.nc - 1) / bl.nc, strip_panels = bl.nc / NR;
    const int64_t groups =
        nthreads > 1 ? std::clamp<int64_t>(strip_panels / kMinGroupPanels, std::min<int64_t>(nthreads, strip_panels),
                                           kUnitsPerThread * nthreads)
                     : 1;
    parallel_chunks(strips * groups, nthreads, [&](int64_t c) {
      const int64_t jc = (c / groups) * bl.nc, grp = c % groups;
      const int64_t n_panels = (std::min(bl.nc, g.n - jc) + NR - 1) / NR;
      const int64_t q0 = jc / NR + n_panels * grp / groups, q1 = jc / NR + n_panels * (grp + 1) / groups;
      if (q0 < q1) small_m_part<T, MR>(g, bl, direct_b, q0, q1);
      if (nthreads > 1) share.chunk_done(q1 - q0);
    });
    if (nthreads > 1) share.report(backoff, (g.n + NR - 1) / NR);
    return;
  }
  // Many rows: C is cut into work units, each a strip of B's panels (at most NC wide) times a chunk of
  // A's row panels, and a thread computes a whole unit alone: all its KC blocks in order, packing its
  // own B block and A blocks into its own buffers. Each unit is one chunk of parallel_chunks, so nobody
  // waits for anybody until the end: a thread descheduled by other work on the machine leaves its
  // remaining units to its partner. (The threads used to share one packed B and one packed A block,
  // with three barriers per block: beside one busy process, 1024^3 on 2 threads took 328 ms against
  // 31.6 ms on 1.) The grid is chosen in choose_units.
  const UnitGrid grid = choose_units<T, MR>(g.m, g.n, bl, nthreads);
  const int64_t m_panels = (g.m + MR - 1) / MR, n_panels = (g.n + NR - 1) / NR;
  // The last nthreads units (the ones claimed when every thread holds about its last) are cut into
  // pieces of about kPiecePanels row panels each, so a partner preempted for a whole time slice of the
  // other process, or given only a sliver of its core, holds up the end by one piece rather than a whole
  // unit. Every piece packs B again, so only the tail pays for the small pieces.
  const int64_t pieces = nthreads > 1 ? std::max<int64_t>(1, m_panels / grid.row_chunks / kPiecePanels) : 1;
  const int64_t units = grid.col_strips * grid.row_chunks;
  const int64_t whole = nthreads > 1 ? std::max<int64_t>(0, units - nthreads) : units;
  const int64_t row_parts = grid.row_chunks * pieces;
  parallel_chunks(whole + (units - whole) * pieces, nthreads, [&](int64_t c) {
    // Unit u's parts [p0, p1) of its strip's row_parts (a whole unit is `pieces` parts).
    const int64_t u = c < whole ? c : whole + (c - whole) / pieces;
    const int64_t s = u / grid.row_chunks, rc = u % grid.row_chunks;
    const int64_t p0 = rc * pieces + (c < whole ? 0 : (c - whole) % pieces);
    const int64_t p1 = c < whole ? p0 + pieces : p0 + 1;
    const int64_t q0 = n_panels * s / grid.col_strips, q1 = n_panels * (s + 1) / grid.col_strips;
    const int64_t r0 = m_panels * p0 / row_parts, r1 = m_panels * p1 / row_parts;
    if (r0 < r1 && q0 < q1) large_m_part<T, MR>(g, bl, direct_b, q0, q1, r0, r1);
    if (nthreads > 1) share.chunk_done((q1 - q0) * (r1 - r0));
  });
  if (nthreads > 1) share.report(backoff, n_panels * m_panels);
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
