// The amx level: the whole product on AMX tiles (Intel Sapphire Rapids and later). Each thread configures
// eight 16-row x 64-byte tiles and computes 32 x 32 blocks of C as four fp32 tiles, fed per 32-deep k step by
// two A tiles (16 rows x 32 bf16, plain rows of A) and two B tiles (16 pairs x 16 columns, the two halves of a
// packed 32-column panel, read with a 128-byte row stride). The tiles hold the sum over all of k, so C is
// written once. Compiled for AMX through the target pragma; the driver calls it only after CPUID and the
// kernel's permission (bf16_isa.cpp) allowed it.
#include <omp.h>

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "fastnn/aligned_buffer.h"
#include "fastnn/cache_info.h"
#include "fastnn/gemm_bf16.h"
#include "fastnn/threading.h"
#include "gemm_bf16_detail.h"

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16")

namespace fastnn::bf16_kernels {
namespace {

constexpr int kTile = 16;      // rows of every tile
constexpr int kBlock = 32;     // C block edge: 2 x 2 tiles

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

void configure_tiles() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = kTile;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace

void gemm_amx(const GemmBf16Args& g, const PackedBf16B& pb) {
  constexpr int NR = kBf16NR;
  static_assert(NR == kBlock, "a packed B panel is one 32-column C block");
  const int64_t ld = pb.kp * 2;  // A rows padded to packed B's depth: a multiple of kKStep
  const int64_t m_pad = (g.m + kBlock - 1) / kBlock * kBlock;
  const CacheInfo& ci = cache_info();
  // A block of B panels (kp pairs x 32 columns x 4 bytes each) stays in half of L2 while the rows pass.
  int64_t nc = std::max<int64_t>(NR, (ci.l2 / 2) / (pb.panel_words * 4) * NR);
  int64_t mc = std::max<int64_t>(kBlock, (ci.l2 / 4) / (ld * 2) / kBlock * kBlock);
  nc = std::min(nc, pb.panels * NR);
  mc = std::min(mc, m_pad);
  const int nthreads = threads_for(2.0 * g.m * g.n * g.k);
  bf16_detail::split_for_threads(g.m, g.n, kBlock, NR, nthreads, mc, nc);
  thread_local AlignedBuffer a_buf;
  uint16_t* a_rows = a_buf.get<uint16_t>(static_cast<size_t>(m_pad) * ld);
  const int64_t mb = (g.m + mc - 1) / mc, nb = (g.n + nc - 1) / nc;
  const int64_t row_blocks = m_pad / kBlock;
  {
    parallel_range(row_blocks, 1, nthreads, [&](int64_t r_begin, int64_t r_end) {
      for (int64_t r = r_begin; r < r_end; ++r) {
        const int64_t i0 = r * kBlock;
        bf16_detail::pack_a_rows(g.a, i0, std::min<int64_t>(kBlock, std::max<int64_t>(0, g.m - i0)), kBlock, g.k, ld,
                                 a_rows + i0 * ld);
      }
    });
    parallel_range(mb * nb, 1, nthreads, [&](int64_t blk_begin, int64_t blk_end) {
      configure_tiles();  // tile configuration is per thread: set for each chunk, released after it
      alignas(64) float acc[kBlock * kBlock];
      for (int64_t blk = blk_begin; blk < blk_end; ++blk) {
        const int64_t ic = (blk / nb) * mc, jc = (blk % nb) * nc;
        const int64_t i_end = std::min(g.m, ic + mc), j_end = std::min(g.n, jc + nc);
        for (int64_t j0 = jc; j0 < j_end; j0 += NR) {
          const uint32_t* panel = pb.panel(j0 / NR);
          for (int64_t i0 = ic; i0 < i_end; i0 += kBlock) {
            const uint16_t* a0 = a_rows + i0 * ld;
            const uint16_t* a1 = a0 + kTile * ld;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int64_t p0 = 0; p0 < pb.kp; p0 += kTile) {
              _tile_loadd(4, a0 + 2 * p0, ld * 2);
              _tile_loadd(5, a1 + 2 * p0, ld * 2);
              _tile_loadd(6, panel + p0 * NR, NR * 4);
              _tile_loadd(7, panel + p0 * NR + kTile, NR * 4);
              _tile_dpbf16ps(0, 4, 6);
              _tile_dpbf16ps(1, 4, 7);
              _tile_dpbf16ps(2, 5, 6);
              _tile_dpbf16ps(3, 5, 7);
            }
            _tile_stored(0, acc, kBlock * 4);
            _tile_stored(1, acc + kTile, kBlock * 4);
            _tile_stored(2, acc + kTile * kBlock, kBlock * 4);
            _tile_stored(3, acc + kTile * kBlock + kTile, kBlock * 4);
            bf16_detail::store_tile(acc, kBlock, g, i0, j0, std::min<int64_t>(kBlock, i_end - i0),
                                    std::min<int64_t>(NR, j_end - j0), true, true);
          }
        }
      }
      _tile_release();
    });
  }
}

}  // namespace fastnn::bf16_kernels

#pragma GCC pop_options
