// bf16 dot-product throughput probes (the bench's bf16 peak row): vdpbf16ps chains for avx512_bf16 and
// tdpbf16ps on four independent C tiles for amx, each compiled through its own target pragma and run only
// at a level bf16_isa_require allowed.
#include <omp.h>

#include <immintrin.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "fastnn/gemm_bf16.h"
#include "fastnn/limits_probe_bf16.h"

namespace fastnn {
namespace {

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
// 16 independent accumulator chains: latency 5-6 cycles x up to 2 per cycle needs >= 12 in flight.
double dpbf16_probe(int64_t iters, int nthreads) {
  constexpr int kChains = 16;
  double sink = 0;
#pragma omp parallel num_threads(nthreads) reduction(+ : sink)
  {
    __m512 acc[kChains];
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i + omp_get_thread_num()));
    // Tiny values (bf16 2^-20 squared) keep the sums finite for any iteration count.
    const __m512bh x = (__m512bh)_mm512_set1_epi32(0x35803580), y = (__m512bh)_mm512_set1_epi32(0x35803580);
    for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
    }
    __m512 s = acc[0];
    for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, s);
    for (float v : lanes) sink += v;
  }
  volatile double keep = sink;
  (void)keep;
  return 64.0 * kChains * static_cast<double>(iters) * nthreads;  // 16 lanes x 2 products x 2 flops
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16")
struct alignas(64) TileConfig {
  uint8_t palette_id, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

double tdpbf16_probe(int64_t iters, int nthreads) {
  double sink = 0;
#pragma omp parallel num_threads(nthreads) reduction(+ : sink)
  {
    TileConfig cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; ++t) {
      cfg.colsb[t] = 64;
      cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    alignas(64) uint16_t ones[16 * 32];
    for (auto& v : ones) v = 0x3580;
    alignas(64) float out[16 * 16];
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    _tile_loadd(6, ones, 64);
    _tile_loadd(7, ones, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t it = 0; it < iters; ++it) {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    sink += out[0];
    _tile_release();
  }
  volatile double keep = sink;
  (void)keep;
  return 4.0 * 16 * 16 * 32 * 2 * static_cast<double>(iters) * nthreads;
}
#pragma GCC pop_options

}  // namespace

double peak_gflops_bf16(Bf16Isa isa, int nthreads, int repeats) {
  double (*probe)(int64_t, int) = nullptr;
  int64_t iters = 0;
  switch (isa) {
    case Bf16Isa::avx512_bf16: probe = dpbf16_probe; iters = 1 << 22; break;
    case Bf16Isa::amx: probe = tdpbf16_probe; iters = 1 << 20; break;
    default: throw std::invalid_argument("the generic bf16 level has no bf16 instruction to probe");
  }
  probe(iters / 16, nthreads);  // warm-up: clocks and the team
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double flops = probe(iters, nthreads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (flops / s > best) best = flops / s;
  }
  return best * 1e-9;
}

}  // namespace fastnn
