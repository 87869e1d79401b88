// The bf16 GEMM's driver: packs B (unless the caller packed it once per weight) and all of A, then runs
// kBf16MR x kBf16NR tiles over cache blocks with the level's micro-kernel, or hands the product to AMX.
//
// Blocking, BLIS-style: a block of C (MC x NC) is one unit of work; inside it, k runs in KC-pair steps, and
// for each step each A micro-panel (MR x KC, in L1) walks along the block's B panels (KC x NC, in L2).
// Both operands are packed whole before the tiles run (one pass over each: A's bf16 copy is half the size of
// its fp32 original), so the blocks need no barriers and are handed out dynamically: a thread that other
// work on the machine delays only takes fewer blocks.
//
// Determinism: a block is computed by one thread, and KC follows from k and the cache sizes alone, so each
// element's sum runs in the same order for any thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fastnn/aligned_buffer.h"
#include "fastnn/cache_info.h"
#include "fastnn/gemm_bf16.h"
#include "fastnn/threading.h"
#include "gemm_bf16_detail.h"

namespace fastnn {

using bf16_detail::pairs_of;

namespace {

void size_packed(int64_t k, int64_t n, PackedBf16B& out) {
  out.k = k;
  out.n = n;
  out.kp = (pairs_of(k) + kBf16PairAlign - 1) / kBf16PairAlign * kBf16PairAlign;
  // Panels a power-of-two distance apart (k = 2048: 128 KiB) put the KC chunks that a block of B keeps in L2
  // into the same cache sets, and they evict each other (2048^3 ran at half the rate of 1024^3): an odd
  // multiple of 2 KiB between panels spreads them over the sets.
  out.panel_words = out.kp * kBf16NR + ((out.kp * kBf16NR * 4) % 4096 == 0 ? 512 : 0);
  out.panels = (n + kBf16NR - 1) / kBf16NR;
}

void fill_packed(const Bf16Operand& b, PackedBf16B& out) {
  const int nthreads = threads_for(static_cast<double>(out.k) * out.n * 8);
  uint32_t* d = out.data.get();
  parallel_range(out.panels, 1, nthreads, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) bf16_detail::pack_b_panel(b, out.k, out.n, q, out.kp, d + q * out.panel_words);
  });
}

}  // namespace

void pack_bf16_b(const Bf16Operand& b, int64_t k, int64_t n, PackedBf16B& out) {
  size_packed(k, n, out);
  const size_t bytes = std::max<size_t>(64, (out.words() * sizeof(uint32_t) + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  out.data = std::unique_ptr<uint32_t[], void (*)(void*)>(static_cast<uint32_t*>(p), std::free);
  fill_packed(b, out);
}

namespace bf16_detail {

void store_tile(const float* acc, int64_t ld, const GemmBf16Args& g, int64_t i0, int64_t j0, int64_t mr, int64_t nr,
                bool overwrite, bool finalize) {
  const float alpha = g.alpha, beta = g.beta;
  const float* bias = finalize && g.bias ? g.bias + j0 : nullptr;
  for (int64_t i = 0; i < mr; ++i) {
    const float* a = acc + i * ld;
    float* row = g.c + (i0 + i) * g.rs_c + j0 * g.cs_c;
    if (g.cs_c == 1) {  // the common case, in a loop the compiler vectorises
      if (!overwrite) for (int64_t j = 0; j < nr; ++j) row[j] += alpha * a[j];
      else if (beta == 0.0f) for (int64_t j = 0; j < nr; ++j) row[j] = alpha * a[j];
      else for (int64_t j = 0; j < nr; ++j) row[j] = alpha * a[j] + beta * row[j];
      if (bias) for (int64_t j = 0; j < nr; ++j) row[j] += bias[j];
      continue;
    }
    for (int64_t j = 0; j < nr; ++j) {
      float& dst = row[j * g.cs_c];
      float r = alpha * a[j];
      if (!overwrite) r += dst;
      else if (beta != 0.0f) r += beta * dst;
      if (bias) r += bias[j];
      dst = r;
    }
  }
}

}  // namespace bf16_detail

namespace {

using Micro = void (*)(int64_t, const uint32_t*, const uint32_t*, float*);
using MicroStore = void (*)(int64_t, const uint32_t*, const uint32_t*, float*, int64_t, float, float, bool, const float*);

// k == 0 (or alpha == 0): C = beta * C + bias; beta == 0 writes zeros even over NaN.
void scale_c(const GemmBf16Args& g) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      float& dst = g.c[i * g.rs_c + j * g.cs_c];
      float r = g.beta == 0.0f ? 0.0f : g.beta * dst;
      if (g.bias) r += g.bias[j];
      dst = r;
    }
}

// `fused` (may be null) updates full tiles of a unit-stride C from the registers.
void gemm_tiles(Micro micro, MicroStore fused, const GemmBf16Args& g, const PackedBf16B& pb) {
  constexpr int MR = kBf16MR, NR = kBf16NR;
  const int64_t kp = pairs_of(g.k);
  const CacheInfo& ci = cache_info();
  // The MR x KC micro-panel of A (words of 4 bytes) stays in 5/8 of L1 while it walks along the B panels; up to
  // 400 pairs, so k = 784 runs as one step (two cost a second pass over C: 1.07 -> 1.03 ms at 256x784x512).
  int64_t kcp = std::clamp<int64_t>((ci.l1d * 5 / 8) / (MR * 4), 64, 400);
  const int64_t k_blocks = (kp + kcp - 1) / kcp;
  kcp = (kp + k_blocks - 1) / k_blocks;  // equal steps: a short last one would cost a sweep over C
  // The KC x NC block of B in half of L2, streamed by each A micro-panel; MC rows of A share it.
  int64_t nc = std::max<int64_t>(NR, (ci.l2 / 2) / (kcp * 4) / NR * NR);
  int64_t mc = std::max<int64_t>(MR, (ci.l2 / 4) / (kcp * 4) / MR * MR);
  nc = std::min(nc, (g.n + NR - 1) / NR * NR);
  mc = std::min(mc, (g.m + MR - 1) / MR * MR);
  const int nthreads = threads_for(2.0 * g.m * g.n * g.k);
  bf16_detail::split_for_threads(g.m, g.n, MR, NR, nthreads, mc, nc);

  const int64_t m_panels = (g.m + MR - 1) / MR;
  thread_local AlignedBuffer a_buf;
  uint32_t* a_pack = a_buf.get<uint32_t>(static_cast<size_t>(m_panels) * kp * MR);
  const int64_t mb = (g.m + mc - 1) / mc, nb = (g.n + nc - 1) / nc;
  {
    parallel_range(m_panels, 1, nthreads, [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q)
        bf16_detail::pack_a_pairs(g.a, q * MR, std::min<int64_t>(MR, g.m - q * MR), g.k, a_pack + q * kp * MR);
    });
    parallel_range(mb * nb, 1, nthreads, [&](int64_t blk_begin, int64_t blk_end) {
      for (int64_t blk = blk_begin; blk < blk_end; ++blk) {
        const int64_t ic = (blk / nb) * mc, jc = (blk % nb) * nc;
        const int64_t i_end = std::min(g.m, ic + mc), j_end = std::min(g.n, jc + nc);
        alignas(64) float acc[MR * NR];
        for (int64_t p0 = 0; p0 < kp; p0 += kcp) {
          const int64_t kc = std::min(kcp, kp - p0);
          const bool first = p0 == 0, last = p0 + kc >= kp;
          for (int64_t i0 = ic; i0 < i_end; i0 += MR) {
            const uint32_t* ap = a_pack + (i0 / MR) * kp * MR + p0 * MR;
            const int64_t mr = std::min<int64_t>(MR, i_end - i0);
            for (int64_t j0 = jc; j0 < j_end; j0 += NR) {
              // The C tile's lines arrive while the micro-kernel runs (thousands of cycles before the store).
              const int64_t nr = std::min<int64_t>(NR, j_end - j0);
              const float* ct = g.c + i0 * g.rs_c + j0 * g.cs_c;
              for (int64_t i = 0; i < mr; ++i) {
                __builtin_prefetch(ct + i * g.rs_c, 1);
                __builtin_prefetch(ct + i * g.rs_c + (nr - 1) * g.cs_c, 1);
              }
              const uint32_t* bp = pb.panel(j0 / NR) + p0 * NR;
              if (fused != nullptr && mr == MR && nr == NR && g.cs_c == 1) {
                fused(kc, ap, bp, g.c + i0 * g.rs_c + j0, g.rs_c, g.alpha, g.beta, first,
                      last && g.bias ? g.bias + j0 : nullptr);
                continue;
              }
              micro(kc, ap, bp, acc);
              bf16_detail::store_tile(acc, NR, g, i0, j0, mr, nr, first, last);
            }
          }
        }
      }
    });
  }
}

}  // namespace

void gemm_bf16(Bf16Isa isa, const GemmBf16Args& g) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.0f) return scale_c(g);
  PackedBf16B local;  // B packed for this call only, in the calling thread's reused scratch
  const PackedBf16B* pb = g.packed_b;
  if (pb == nullptr) {
    thread_local AlignedBuffer b_buf;
    size_packed(g.k, g.n, local);
    local.data = std::unique_ptr<uint32_t[], void (*)(void*)>(b_buf.get<uint32_t>(local.words()), [](void*) {});
    fill_packed(g.b, local);
    pb = &local;
  }
  switch (isa) {
    case Bf16Isa::amx: return bf16_kernels::gemm_amx(g, *pb);
    case Bf16Isa::avx512_bf16:
      return gemm_tiles(bf16_kernels::micro_avx512_bf16, bf16_kernels::micro_store_avx512_bf16, g, *pb);
    default: return gemm_tiles(bf16_kernels::micro_generic, nullptr, g, *pb);
  }
}

namespace bf16_kernels {

// Plain C++: each pair's two exact products are added to the fp32 sum high half first, as vdpbf16ps's
// definition orders them (Intel SDM), so this level can stand in for it on any CPU.
void micro_generic(int64_t kp, const uint32_t* a, const uint32_t* b, float* acc) {
  constexpr int MR = kBf16MR, NR = kBf16NR;
  auto as_float = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  float c[MR][NR] = {};
  for (int64_t p = 0; p < kp; ++p) {
    float b_lo[NR], b_hi[NR];
    for (int j = 0; j < NR; ++j) {
      b_lo[j] = as_float(b[p * NR + j] << 16);
      b_hi[j] = as_float(b[p * NR + j] & 0xffff0000u);
    }
    for (int i = 0; i < MR; ++i) {
      const float a_lo = as_float(a[p * MR + i] << 16), a_hi = as_float(a[p * MR + i] & 0xffff0000u);
      for (int j = 0; j < NR; ++j) c[i][j] = (c[i][j] + a_hi * b_hi[j]) + a_lo * b_lo[j];
    }
  }
  std::memcpy(acc, c, sizeof c);
}

}  // namespace bf16_kernels
}  // namespace fastnn
