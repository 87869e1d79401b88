// The implicit GEMM under conv2d's kernels (conv2d.cpp: forward and backward-data; conv2d_weight.cpp:
// backward-weight): blocking, weights packed once per call, a GEMM over those packed weights whose B
// panels a callback makes, and the unfolding of patches (im2col) from a zero-bordered copy of the image.
// Include only from per-ISA sources (FASTNN_ISA_NS names the level).
#pragma once
#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "fastnn/aligned_buffer.h"
#include "fastnn/cache_info.h"
#include "fastnn/conv2d.h"
#include "fastnn/threading.h"
#include "gemm_kernel.h"

#ifndef FASTNN_ISA_NS
#error "FASTNN_ISA_NS must name the ISA level this translation unit is compiled for"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace conv {

using gemm_kernel::kNR;
using gemm_kernel::kNV;

struct Blocking {
  int64_t kc, nc;
};

// KC as the GEMM chooses it (half of L1 for an MR x KC row of A, k split into equal blocks); NC so the
// packed KC x NC block of B fills half of L2.
template <typename T, int MR>
Blocking conv_blocking(int64_t k, int64_t n) {
  constexpr int NR = kNR<T>;
  const CacheInfo& ci = cache_info();
  int64_t kc = (ci.l1d / 2) / (MR * static_cast<int64_t>(sizeof(T)));
  // The cap keeps the A row near 18 KiB whatever its height (384 deep at 12 rows, 576 at 8): the
  // flipped-weight GEMM of 32->64's backward-data (k = 576) then runs in one block, not two.
  kc = std::clamp<int64_t>(kc, 128, 384 * gemm_kernel::kMR / MR) / 8 * 8;
  const int64_t k_blocks = std::max<int64_t>(1, (k + kc - 1) / kc);
  kc = std::min(kc + 7, ((k + k_blocks - 1) / k_blocks + 7) / 8 * 8);
  kc = std::max<int64_t>(1, std::min(kc, k));
  int64_t nc = (ci.l2 / 2) / (kc * static_cast<int64_t>(sizeof(T)));
  nc = std::max<int64_t>(NR, nc / NR * NR);
  return {kc, std::min(nc, (n + NR - 1) / NR * NR)};
}

// Packs an m x k matrix A(i, p) = a[i * rs + p * cs] into MR-row panels for every KC block:
// block pc holds its panels at dst + pc * m_pad, panel qi at + qi * MR * kcb.
template <typename T, int MR>
inline void pack_a_all(const T* a, int64_t rs, int64_t cs, int64_t m, int64_t k, int64_t kc, T* dst) {
  const int64_t m_pad = (m + MR - 1) / MR * MR;
  for (int64_t pc = 0; pc < k; pc += kc) {
    const int64_t kcb = std::min(kc, k - pc);
    for (int64_t i0 = 0; i0 < m; i0 += MR)
      gemm_kernel::pack_panel(a + i0 * rs + pc * cs, rs, cs, std::min<int64_t>(MR, m - i0), kcb, MR,
                              dst + pc * m_pad + i0 * kcb);
  }
}

// C (m x n, row stride rs_c) = or += A . B with A packed by pack_a_all and B's panels made by
// pack_b(pc, kcb, j0, j1, dst) for k in [pc, pc + kcb) and columns [j0, j1) (zero-padded to NR).
// With row_bias, bias[i] is added to row i at the end. One thread; b_buf holds kc x nc values.
template <typename T, int MR, typename PackB>
void gemm_prepacked(int64_t m, int64_t n, int64_t k, const Blocking& bl, const T* a_packed, PackB&& pack_b, T* c,
                    int64_t rs_c, const T* row_bias, bool accumulate, T* b_buf) {
  constexpr int NR = kNR<T>;
  const int64_t m_pad = (m + MR - 1) / MR * MR;
  for (int64_t jc = 0; jc < n; jc += bl.nc) {
    const int64_t ncb = std::min(bl.nc, n - jc);
    const int64_t n_panels = (ncb + NR - 1) / NR;
    for (int64_t pc = 0; pc < k; pc += bl.kc) {
      const int64_t kcb = std::min(bl.kc, k - pc);
      pack_b(pc, kcb, jc, jc + ncb, b_buf);
      const gemm_kernel::TileStore how{pc == 0 && !accumulate, pc + kcb >= k};
      for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const T* ap = a_packed + pc * m_pad + i0 * kcb;
        for (int64_t q = 0; q < n_panels; ++q) {
          const int64_t j0 = jc + q * NR;
          simd::Vec<T> acc[MR][kNV];
          T* ct = c + i0 * rs_c + j0;
          gemm_kernel::micro_kernel<T, MR>(kcb, ap, b_buf + q * NR * kcb, NR, acc, ct, rs_c);
          gemm_kernel::store_tile<T, MR>(acc, ct, rs_c, 1, std::min<int64_t>(MR, m - i0),
                                         std::min<int64_t>(NR, n - j0), T(1), T(0), how,
                                         row_bias ? row_bias + i0 : nullptr, Epilogue::none, true);
        }
      }
    }
  }
}

// Output columns ox in [x0, x1) whose input column ox * sw + off lies inside the image.
inline std::pair<int64_t, int64_t> columns_inside(const Conv2dShape& s, int64_t off, int64_t ow) {
  int64_t x0 = off >= 0 ? 0 : (-off + s.sw - 1) / s.sw;
  int64_t x1 = s.w - off <= 0 ? 0 : (s.w - off + s.sw - 1) / s.sw;
  x0 = std::min(x0, ow);
  return {x0, std::clamp(x1, x0, ow)};
}

inline bool is_pointwise(const Conv2dShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

// A run of at most one vector of consecutive output pixels inside one output row (and one B panel):
// dst[dst + l] = image[src + l * sw] for l < len.
struct Segment {
  int64_t src, dst;
  int64_t len;
};

// The unfolding (im2col) of one image, worked out once per call. The image is first copied with its
// zero border (when padded), so every patch row is a plain strided read: no edge tests per tap and
// row. Pixel runs are planned once per block of output columns and replayed for every tap (at its
// offset in the padded image): 32->64 at 16x16 spent more time unfolding than multiplying when each
// tap and row worked out its own edges.
struct Patches {
  int64_t c, h, w, hp, wp, ph, pw, oh, ow, sh, sw;
  std::vector<int64_t> tap_offset;  // tap (ci, i, j) -> offset of its pixel (0, 0) in the padded image

  Patches(const Conv2dShape& s, int64_t channels)
      : c(channels), h(s.h), w(s.w), hp(s.h + 2 * s.ph), wp(s.w + 2 * s.pw), ph(s.ph), pw(s.pw), oh(s.oh()),
        ow(s.ow()), sh(s.sh), sw(s.sw) {
    tap_offset.reserve(static_cast<size_t>(channels * s.kh * s.kw));
    for (int64_t ci = 0; ci < channels; ++ci)
      for (int64_t i = 0; i < s.kh; ++i)
        for (int64_t j = 0; j < s.kw; ++j) tap_offset.push_back((ci * hp + i * s.dh) * wp + j * s.dw);
  }

  // The image with its zero border (the image itself when unpadded); buf is the calling thread's.
  template <typename T>
  const T* padded(const T* x, AlignedBuffer& buf) const {
    if (ph == 0 && pw == 0) return x;
    T* xp = buf.get<T>(static_cast<size_t>(c * hp * wp));
    for (int64_t ci = 0; ci < c; ++ci) {
      T* dc = xp + ci * hp * wp;
      std::fill(dc, dc + ph * wp, T(0));
      for (int64_t iy = 0; iy < h; ++iy) {
        T* d = dc + (iy + ph) * wp;
        std::fill(d, d + pw, T(0));
        std::memcpy(d + pw, x + (ci * h + iy) * w, w * sizeof(T));
        std::fill(d + pw + w, d + wp, T(0));
      }
      std::fill(dc + (ph + h) * wp, dc + hp * wp, T(0));
    }
    return xp;
  }

  // Runs for pixels [pix0, pix1): pixel pix lands at dst_of(pix - pix0); a run never crosses an output
  // row, a multiple of `split` in pix - pix0 (a panel edge), or `vl` values.
  template <typename DstOf>
  void plan(int64_t pix0, int64_t pix1, int64_t split, int64_t vl, DstOf dst_of, std::vector<Segment>& out) const {
    out.clear();
    int64_t oy = pix0 / ow, ox = pix0 - oy * ow;
    for (int64_t pix = pix0; pix < pix1;) {
      const int64_t r = pix - pix0;
      const int64_t len = std::min({ow - ox, pix1 - pix, vl, split - r % split});
      out.push_back({oy * sh * wp + ox * sw, dst_of(r), len});
      pix += len;
      ox += len;
      if (ox == ow) {
        ox = 0;
        ++oy;
      }
    }
  }
};

// Replays the runs from `src` (a tap's pixel (0, 0) in the padded image) into dst. AVX-512 moves a
// run with one masked load and one masked store; unit stride is the common case.
template <typename T>
inline void gather(const T* src, const std::vector<Segment>& segs, int64_t sw, T* dst) {
#if defined(__AVX512F__)
  if (sw == 1) {
    for (const Segment& g : segs) {
      if constexpr (sizeof(T) == 4) {
        const __mmask16 m = static_cast<__mmask16>((1u << g.len) - 1);
        _mm512_mask_storeu_ps(dst + g.dst, m, _mm512_maskz_loadu_ps(m, src + g.src));
      } else {
        const __mmask8 m = static_cast<__mmask8>((1u << g.len) - 1);
        _mm512_mask_storeu_pd(dst + g.dst, m, _mm512_maskz_loadu_pd(m, src + g.src));
      }
    }
    return;
  }
#endif
  for (const Segment& g : segs) {
    const T* s = src + g.src;
    T* d = dst + g.dst;
    if (sw == 1) {
      for (int64_t l = 0; l < g.len; ++l) d[l] = s[l];
    } else {
      for (int64_t l = 0; l < g.len; ++l) d[l] = s[l * sw];
    }
  }
}

constexpr int64_t kRunMax = 64 / 4;  // one zmm of floats; double runs are cut at 8 below

// B panels of the forward GEMM: rows of col (CKK x P) for the image/group whose padded copy is xp.
template <typename T>
struct Im2colPanels {
  const Patches& geo;
  const T* xp;
  std::vector<Segment>& segs;
  void operator()(int64_t pc, int64_t kcb, int64_t j0, int64_t j1, T* dst) {
    constexpr int NR = kNR<T>;
    geo.plan(j0, j1, NR, kRunMax * 4 / int64_t(sizeof(T)),
             [kcb](int64_t r) { return r / NR * NR * kcb + r % NR; }, segs);
    for (int64_t p = pc; p < pc + kcb; ++p) gather(xp + geo.tap_offset[p], segs, geo.sw, dst + (p - pc) * NR);
    const int64_t rem = (j1 - j0) % NR;
    if (rem != 0) {  // zero lanes of the last panel
      T* last = dst + (j1 - j0) / NR * NR * kcb;
      for (int64_t p = 0; p < kcb; ++p) std::fill(last + p * NR + rem, last + (p + 1) * NR, T(0));
    }
  }
};

// Items per thread the pixels of a small batch are cut into.
constexpr int64_t kItemsPerThread = 4;

// Work items over (image, pixel chunk): whole images when the batch feeds every thread, else each
// image's pixels cut into NR-aligned chunks so that a batch of 1 still uses the team.

template <typename T, typename F>
void for_each_item(int64_t n, int64_t pixels, double work_per_image, bool allow_split, F&& body) {
  constexpr int NR = kNR<T>;
  const int nthreads = threads_for(work_per_image * n);
  int64_t split = 1;
  // Several items per thread (not one): on a busy machine a thread that another process keeps off its
  // core for a while then holds up the call by one small item, while the others take the rest.
  if (allow_split && nthreads > 1 && n < kItemsPerThread * nthreads) split = (kItemsPerThread * nthreads + n - 1) / n;
  const int64_t chunk = ((pixels + split - 1) / split + NR - 1) / NR * NR;
  split = std::max<int64_t>(1, (pixels + chunk - 1) / std::max<int64_t>(chunk, 1));
  const int64_t items = n * split;
  // Grabbed one at a time (parallel_chunks): an item's result does not depend on the thread that
  // computes it (a pixel split leaves each output's k order as it was), and the call waits for no
  // thread that has nothing left to do.
  parallel_chunks(items, nthreads, [&](int64_t it) {
    const int64_t b = it / split, q = it % split;
    body(b, q * chunk, std::min(pixels, (q + 1) * chunk));
  });
}

}  // namespace conv
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
