// conv2d as implicit GEMM on the GEMM's micro-kernel, compiled once per ISA level (FASTNN_ISA_NS).
//
// Forward, per image and group: Y (O/g x P) = W_g (O/g x CKK) . col (CKK x P), P = OH*OW pixels.
//  - W is packed into MR-row panels once per call and shared by every image and thread (the general
//    GEMM re-packed it for each image: 32->64 at 16x16 spent ~15% of its time there).
//  - The patches are unfolded straight into NR-wide packed B panels, one cache block (KC x NC) at a
//    time: no im2col matrix and no second copy of it into panels.
//  - The bias is added in the tile store.
// Backward-data, stride 1: dX is the forward convolution of dY with the flipped, transposed weights
// (padding d*(k-1) - p), so it runs on the same path and needs no col2im. Otherwise (stride > 1, or
// few input channels, where that GEMM would be too short) dcol = W^T . dY and col2im.
// Backward-weight: dW_g += dY_g (O/g x P) . col^T (P x CKK) per image; the reduction over pixels runs
// along memory in both operands, so both are packed with in-register transposes.
//
// Determinism: an output element is computed by one thread, over k in blocks that depend only on the
// shape and cache sizes; dW's batch sum runs in chunks fixed by the batch size, added in chunk order.
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
namespace {

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
void pack_a_all(const T* a, int64_t rs, int64_t cs, int64_t m, int64_t k, int64_t kc, T* dst) {
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

bool is_pointwise(const Conv2dShape& s) {
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

// Work items over (image, pixel chunk): whole images when the batch feeds every thread, else each
// image's pixels cut into NR-aligned chunks so that a batch of 1 still uses the team.
template <typename T, typename F>
void for_each_item(int64_t n, int64_t pixels, double work_per_image, bool allow_split, F&& body) {
  constexpr int NR = kNR<T>;
  const int nthreads = threads_for(work_per_image * n);
  int64_t split = 1;
  if (allow_split && nthreads > 1 && n < nthreads) split = (nthreads + n - 1) / n;
  const int64_t chunk = ((pixels + split - 1) / split + NR - 1) / NR * NR;
  split = std::max<int64_t>(1, (pixels + chunk - 1) / std::max<int64_t>(chunk, 1));
  const int64_t items = n * split;
  // Handed out one at a time: an item's result does not depend on the thread that computes it, and a
  // thread held up by other work on the machine then delays the call by one item, not by its half.
#pragma omp parallel for schedule(dynamic) num_threads(nthreads) if (nthreads > 1)
  for (int64_t it = 0; it < items; ++it) {
    const int64_t b = it / split, q = it % split;
    body(b, q * chunk, std::min(pixels, (q + 1) * chunk));
  }
}

// The forward convolution with weights already packed (per group, pack_a_all layout, `a_stride` apart).
// One image's pixels [pix0, pix1) of one group with B read in place from the padded image: each
// vector of a tile's NR pixels is one output row's run, contiguous in the image, and tap p shifts it by
// tap_offset[p]. No patch is copied (32->64 at 16x16 spent ~10% of its forward copying them, its
// backward-data ~20%); a partial last panel is gathered as usual for its zero padding.
template <typename T, int MR>
void forward_in_place(const Patches& geo, int64_t m, int64_t k, int64_t kc, const T* a_packed, const T* xp,
                      int64_t pix0, int64_t pix1, T* c, int64_t rs_c, const T* row_bias, T* tail_buf,
                      std::vector<Segment>& segs) {
  constexpr int NR = kNR<T>, VL = simd::lanes<T>;
  const int64_t m_pad = (m + MR - 1) / MR * MR;
  const int64_t tail0 = pix0 + (pix1 - pix0) / NR * NR;
  auto pixel_offset = [&](int64_t pix) {
    const int64_t oy = pix / geo.ow;
    return oy * geo.sh * geo.wp + (pix - oy * geo.ow);
  };
  Im2colPanels<T> tail{geo, xp, segs};
  for (int64_t pc = 0; pc < k; pc += kc) {
    const int64_t kcb = std::min(kc, k - pc);
    if (tail0 < pix1) tail(pc, kcb, tail0, pix1, tail_buf);
    const gemm_kernel::TileStore how{pc == 0, pc + kcb >= k};
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
      const T* ap = a_packed + pc * m_pad + i0 * kcb;
      for (int64_t j0 = pix0; j0 < pix1; j0 += NR) {
        simd::Vec<T> acc[MR][kNV];
        T* ct = c + i0 * rs_c + j0;
        if (j0 < tail0) {
          const T* bases[kNV];
          for (int v = 0; v < kNV; ++v) bases[v] = xp + pixel_offset(j0 + v * VL);
          gemm_kernel::micro_kernel_indirect<T, MR>(kcb, ap, bases, geo.tap_offset.data() + pc, acc, ct, rs_c);
        } else {
          gemm_kernel::micro_kernel<T, MR>(kcb, ap, tail_buf, NR, acc, ct, rs_c);
        }
        gemm_kernel::store_tile<T, MR>(acc, ct, rs_c, 1, std::min<int64_t>(MR, m - i0), std::min<int64_t>(NR, pix1 - j0),
                                       T(1), T(0), how, row_bias ? row_bias + i0 : nullptr, Epilogue::none, true);
      }
    }
  }
}

// The forward convolution with weights already packed (per group, pack_a_all layout, `a_stride` apart).
template <typename T, int MR>
void forward_packed(const Conv2dShape& s, const T* x, const T* a_packed, int64_t a_stride, const T* bias, T* y) {
  constexpr int VL = simd::lanes<T>;
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, pixels = s.oh() * s.ow();
  const Blocking bl = conv_blocking<T, MR>(ckk, pixels);
  const Patches geo(s, cg);
  // In place when every vector of VL pixels is contiguous in the padded image: unit column stride,
  // and output rows a whole number of vectors, or rows that follow each other in the image.
  const bool in_place = geo.sw == 1 && (geo.ow % VL == 0 || geo.sh * geo.wp == geo.ow);
  for_each_item<T>(s.n, pixels, 2.0 * s.o * ckk * pixels, true, [&](int64_t b, int64_t pix0, int64_t pix1) {
    thread_local AlignedBuffer b_buf, pad_buf;
    thread_local std::vector<Segment> segs;
    T* bp = b_buf.get<T>(static_cast<size_t>(bl.kc) * bl.nc);
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* xg = x + (b * s.c + g * cg) * s.h * s.w;
      T* yg = y + (b * s.o + g * og) * pixels;
      const T* xp = geo.padded(xg, pad_buf);
      const T* row_bias = bias ? bias + g * og : nullptr;
      if (in_place) {
        forward_in_place<T, MR>(geo, og, ckk, bl.kc, a_packed + g * a_stride, xp, pix0, pix1, yg, pixels, row_bias, bp,
                                segs);
        continue;
      }
      Im2colPanels<T> panels{geo, xp, segs};
      // Pixels [pix0, pix1) of the image: shift the panels' column origin by pix0.
      auto pack = [&](int64_t pc, int64_t kcb, int64_t j0, int64_t j1, T* dst) {
        panels(pc, kcb, pix0 + j0, pix0 + j1, dst);
      };
      gemm_prepacked<T, MR>(og, pix1 - pix0, ckk, bl, a_packed + g * a_stride, pack, yg + pix0, pixels, row_bias,
                            false, bp);
    }
  });
}

template <typename T, int MR>
void forward_mr(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, pixels = s.oh() * s.ow();
  const Blocking bl = conv_blocking<T, MR>(ckk, pixels);
  const int64_t a_stride = (og + MR - 1) / MR * MR * ckk;
  thread_local AlignedBuffer a_buf;
  T* ap = a_buf.get<T>(static_cast<size_t>(a_stride * s.groups));
  for (int64_t g = 0; g < s.groups; ++g) pack_a_all<T, MR>(w + g * og * ckk, ckk, 1, og, ckk, bl.kc, ap + g * a_stride);
  forward_packed<T, MR>(s, x, ap, a_stride, bias, y);
}

template <typename T>
void forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  if (s.n == 0 || s.o == 0 || s.oh() * s.ow() == 0) return;
  if (s.c == 0) {  // an empty sum: the bias alone
    const int64_t pixels = s.oh() * s.ow();
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t o = 0; o < s.o; ++o) std::fill(y + (b * s.o + o) * pixels, y + (b * s.o + o + 1) * pixels, bias ? bias[o] : T(0));
    return;
  }
  if (gemm_kernel::choose_mr(s.o / s.groups) == gemm_kernel::kMRShort)
    return forward_mr<T, gemm_kernel::kMRShort>(s, x, w, bias, y);
  forward_mr<T, gemm_kernel::kMR>(s, x, w, bias, y);
}

// ---- backward-data -----------------------------------------------------------------------------

// dX as the forward conv of dY with W'[c][o][i][j] = W[o][c][kh-1-i][kw-1-j] (per group), stride 1.
// Worth it unless the GEMM would be much shorter than the col2im route's: few input channels per
// group pad a whole MR tile (1->32 at 5x5: 1 row of 8, against 25 rows of 32 for dcol).
bool transposed_route(const Conv2dShape& s, int mr_t, int mr_c) {
  if (s.sh != 1 || s.sw != 1) return false;
  if (s.ph > s.dh * (s.kh - 1) || s.pw > s.dw * (s.kw - 1)) return false;
  const int64_t cg = s.c / s.groups, kk = s.kh * s.kw;
  const double t = double((cg + mr_t - 1) / mr_t * mr_t) * kk * s.h * s.w;
  const double c = double((cg * kk + mr_c - 1) / mr_c * mr_c) * s.oh() * s.ow();
  return t <= 1.25 * c;
}

template <typename T, int MR>
void backward_data_transposed(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, kk = s.kh * s.kw;
  const Conv2dShape t{s.n, s.o, s.oh(), s.ow(), s.c, s.kh, s.kw, 1, 1, s.dh * (s.kh - 1) - s.ph,
                      s.dw * (s.kw - 1) - s.pw, s.dh, s.dw, s.groups};
  const int64_t k = og * kk;  // the transposed conv's CKK
  const Blocking bl = conv_blocking<T, MR>(k, s.h * s.w);
  const int64_t a_stride = (cg + MR - 1) / MR * MR * k;
  std::vector<T> wt(static_cast<size_t>(cg * k));
  thread_local AlignedBuffer a_buf;
  T* ap = a_buf.get<T>(static_cast<size_t>(a_stride * s.groups));
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t o = 0; o < og; ++o)
        for (int64_t q = 0; q < kk; ++q) wt[(c * og + o) * kk + q] = w[((g * og + o) * cg + c) * kk + (kk - 1 - q)];
    pack_a_all<T, MR>(wt.data(), k, 1, cg, k, bl.kc, ap + g * a_stride);
  }
  forward_packed<T, MR>(t, dy, ap, a_stride, static_cast<const T*>(nullptr), dx);
}

// The adjoint of im2col over all taps: dx[ci, iy, ix] += dcol[(ci, i, j), pixel] for every patch.
template <typename T>
void col2im_add(const Conv2dShape& s, const T* col, int64_t channels, T* dx) {
  const int64_t oh = s.oh(), ow = s.ow();
  for (int64_t ci = 0; ci < channels; ++ci) {
    T* xc = dx + ci * s.h * s.w;
    for (int64_t i = 0; i < s.kh; ++i) {
      for (int64_t j = 0; j < s.kw; ++j) {
        const T* src = col + ((ci * s.kh + i) * s.kw + j) * oh * ow;
        const int64_t off = j * s.dw - s.pw;
        const auto [x0, x1] = columns_inside(s, off, ow);
        for (int64_t oy = 0; oy < oh; ++oy) {
          const int64_t iy = oy * s.sh - s.ph + i * s.dh;
          if (iy < 0 || iy >= s.h) continue;
          T* d = xc + iy * s.w + off;
          const T* sr = src + oy * ow;
          if (s.sw == 1) {
            for (int64_t ox = x0; ox < x1; ++ox) d[ox] += sr[ox];
          } else {
            for (int64_t ox = x0; ox < x1; ++ox) d[ox * s.sw] += sr[ox];
          }
        }
      }
    }
  }
}

template <typename T, int MR>
void backward_data_col2im(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, pixels = s.oh() * s.ow();
  const bool pointwise = is_pointwise(s);
  const Blocking bl = conv_blocking<T, MR>(og, pixels);
  // B = dY_g (og x P): the unfolding of a 1x1 convolution over dY.
  const Patches rows_of_dy(Conv2dShape{1, og, s.oh(), s.ow(), 1, 1, 1, 1, 1, 0, 0, 1, 1, 1}, og);
  const int64_t a_stride = (ckk + MR - 1) / MR * MR * og;
  thread_local AlignedBuffer a_buf;
  T* ap = a_buf.get<T>(static_cast<size_t>(a_stride * s.groups));
  // A = W_g^T (ckk x og): A(r, p) = w[g][p][r].
  for (int64_t g = 0; g < s.groups; ++g) pack_a_all<T, MR>(w + g * og * ckk, 1, ckk, ckk, og, bl.kc, ap + g * a_stride);
  // Patches overlap in dx, so images are the unit of work (no pixel split).
  for_each_item<T>(s.n, pixels, 2.0 * s.o * ckk * pixels, false, [&](int64_t b, int64_t, int64_t) {
    thread_local AlignedBuffer b_buf, col_buf;
    thread_local std::vector<Segment> segs;
    T* bp = b_buf.get<T>(static_cast<size_t>(bl.kc) * bl.nc);
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* dyg = dy + (b * s.o + g * og) * pixels;
      T* dxg = dx + (b * s.c + g * cg) * s.h * s.w;
      T* dcol = pointwise ? dxg : col_buf.get<T>(static_cast<size_t>(ckk) * pixels);
      Im2colPanels<T> pack{rows_of_dy, dyg, segs};
      gemm_prepacked<T, MR>(ckk, pixels, og, bl, ap + g * a_stride, pack, dcol, pixels, static_cast<const T*>(nullptr),
                            false, bp);
      if (!pointwise) {
        std::memset(dxg, 0, sizeof(T) * cg * s.h * s.w);
        col2im_add(s, dcol, cg, dxg);
      }
    }
  });
}

template <typename T>
void backward_data(const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  if (s.n == 0 || s.c == 0 || s.h * s.w == 0) return;
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  if (og == 0 || s.oh() * s.ow() == 0) {
    std::memset(dx, 0, sizeof(T) * s.n * s.c * s.h * s.w);
    return;
  }
  const int mr_t = gemm_kernel::choose_mr(cg), mr_c = gemm_kernel::choose_mr(cg * s.kh * s.kw);
  if (transposed_route(s, mr_t, mr_c)) {
    if (mr_t == gemm_kernel::kMRShort) return backward_data_transposed<T, gemm_kernel::kMRShort>(s, dy, w, dx);
    return backward_data_transposed<T, gemm_kernel::kMR>(s, dy, w, dx);
  }
  if (mr_c == gemm_kernel::kMRShort) return backward_data_col2im<T, gemm_kernel::kMRShort>(s, dy, w, dx);
  backward_data_col2im<T, gemm_kernel::kMR>(s, dy, w, dx);
}

// ---- backward-weight ---------------------------------------------------------------------------
//
// dW_g^T (CKK x O/g) = col (CKK x P) . dY_g^T (P x O/g), summed over the batch. The unfolded patches
// are the A operand, whose elements the micro-kernel broadcasts one at a time: they are read in place
// from the padded image (tap t of pixel (oy, ox) at tap_offset[t] + oy*sh*wp + ox*sw), so col is never
// formed. Only dY is packed (transposed into NR-channel panels). The (im2col + transpose) route spent
// a third of its time building col^T panels.

// acc[i][v] = sum over pixels of tap i's value times dY^T's panel row, pixels visited row by row
// (rows x ow of them; tap i's row r starts at a_rows[i] + r * row_step, columns sw apart).
template <typename T, int MR>
inline void micro_kernel_taps(int64_t rows, int64_t ow, int64_t row_step, int64_t sw, const T* const (&a_rows)[MR],
                              const T* __restrict b, simd::Vec<T> (&acc)[MR][kNV]) {
  using V = simd::Vec<T>;
  constexpr int VL = simd::lanes<T>, NR = kNR<T>;
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < kNV; ++v) acc[i][v] = V{};
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t ro = r * row_step;
#pragma GCC unroll 4
    for (int64_t ox = 0; ox < ow; ++ox) {
      V bv[kNV];
      for (int v = 0; v < kNV; ++v) bv[v] = gemm_kernel::loadu<V>(b + v * VL);
      b += NR;
      for (int i = 0; i < MR; ++i) {
        const V ai = a_rows[i][ro + ox * sw] - V{};
        for (int v = 0; v < kNV; ++v) acc[i][v] += ai * bv[v];
      }
    }
  }
}

// Pixels per KC-like block of whole output rows: the block's dY^T panel (kc x NR) stays near L1.
constexpr int64_t kWeightGradPixels = 512;

template <typename T>
void backward_weight(const Conv2dShape& s, const T* dy, const T* x, T* dw) {
  // 8 tap rows: each has its own base pointer, and 8 of them (with the loop's) still fit the general
  // registers; 12 spilled them and turned every broadcast into two loads.
  constexpr int MR = gemm_kernel::kMRShort, NR = kNR<T>;
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, wsize = s.o * ckk;
  if (wsize == 0) return;
  const int64_t oh = s.oh(), ow = s.ow(), pixels = oh * ow;
  if (s.n == 0 || pixels == 0) {
    std::memset(dw, 0, sizeof(T) * wsize);
    return;
  }
  const int64_t og_panels = (og + NR - 1) / NR;
  const int64_t block_rows = std::max<int64_t>(1, kWeightGradPixels / ow);
  const Patches geo(s, cg);
  // The batch is cut into at most 16 chunks fixed by the batch size alone; each chunk's partial dW^T
  // (groups x CKK x O/g) is accumulated by one thread image after image, then the partials are summed
  // in chunk order (and transposed) into dW.
  const int64_t chunks = std::min<int64_t>(16, s.n);
  const int64_t per_chunk = (s.n + chunks - 1) / chunks;
  std::vector<T> partial(static_cast<size_t>(chunks) * wsize);
  const int nthreads = threads_for(2.0 * s.o * ckk * pixels * s.n);
#pragma omp parallel for schedule(dynamic) num_threads(nthreads) if (nthreads > 1)
  for (int64_t q = 0; q < chunks; ++q) {
    thread_local AlignedBuffer b_buf, pad_buf;
    T* bp = b_buf.get<T>(static_cast<size_t>(og_panels) * NR * pixels);
    T* acc_t = partial.data() + q * wsize;
    for (int64_t b = q * per_chunk; b < std::min(s.n, (q + 1) * per_chunk); ++b) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* xp = geo.padded(x + (b * s.c + g * cg) * s.h * s.w, pad_buf);
        const T* dyg = dy + (b * s.o + g * og) * pixels;
        T* ct = acc_t + g * ckk * og;
        for (int64_t y0 = 0; y0 < oh; y0 += block_rows) {
          const int64_t rows = std::min(block_rows, oh - y0), kcb = rows * ow;
          // dY^T panels for this block's pixels: panel[pix][l] = dY[q0 + l][pix].
          for (int64_t qo = 0; qo < og_panels; ++qo)
            gemm_kernel::pack_panel(dyg + qo * NR * pixels + y0 * ow, pixels, int64_t(1),
                                    std::min<int64_t>(NR, og - qo * NR), kcb, NR, bp + qo * NR * kcb);
          const gemm_kernel::TileStore how{b == q * per_chunk && y0 == 0, false};
          for (int64_t t0 = 0; t0 < ckk; t0 += MR) {
            const T* a_rows[MR];
            for (int i = 0; i < MR; ++i)
              a_rows[i] = xp + geo.tap_offset[std::min(t0 + i, ckk - 1)] + y0 * geo.sh * geo.wp;
            for (int64_t qo = 0; qo < og_panels; ++qo) {
              simd::Vec<T> acc[MR][kNV];
              micro_kernel_taps<T, MR>(rows, ow, geo.sh * geo.wp, geo.sw, a_rows, bp + qo * NR * kcb, acc);
              gemm_kernel::store_tile<T, MR>(acc, ct + t0 * og + qo * NR, og, 1, std::min<int64_t>(MR, ckk - t0),
                                             std::min<int64_t>(NR, og - qo * NR), T(1), T(0), how, nullptr,
                                             Epilogue::none);
            }
          }
        }
      }
    }
  }
  // Sum the partials in chunk order (contiguous adds), then transpose: dW[g*og + o][t] = sum[g][t][o].
  T* sum = partial.data();
  for (int64_t q = 1; q < chunks; ++q) {
    const T* p = partial.data() + q * wsize;
    for (int64_t i = 0; i < wsize; ++i) sum[i] += p[i];
  }
  for (int64_t g = 0; g < s.groups; ++g)
    gemm_kernel::pack_panel(sum + g * ckk * og, og, int64_t(1), ckk, og, ckk, dw + g * og * ckk);
}

// ---- backward-bias -------------------------------------------------------------------------------

// db[o] = sum over images of (sum over pixels of dy[b][o]); pixel sums in VL lanes, images in order.
// Channels are split between threads, so each sum is one thread's and the order is fixed. (NumPy's
// dy.sum(axis=(0, 2, 3)) took 0.11 ms of 32->64's ~6 ms step.)
template <typename T>
void backward_bias(int64_t n, int64_t o, int64_t pixels, const T* dy, T* db) {
  using V = simd::Vec<T>;
  constexpr int VL = simd::lanes<T>;
  const int nthreads = threads_for(double(n) * o * pixels);
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1)
  for (int64_t c = 0; c < o; ++c) {
    T total = T(0);
    for (int64_t b = 0; b < n; ++b) {
      const T* row = dy + (b * o + c) * pixels;
      V acc[4] = {};
      int64_t p = 0;
      for (; p + 4 * VL <= pixels; p += 4 * VL)
        for (int u = 0; u < 4; ++u) acc[u] += gemm_kernel::loadu<V>(row + p + u * VL);
      for (; p + VL <= pixels; p += VL) acc[0] += gemm_kernel::loadu<V>(row + p);
      const V v = (acc[0] + acc[1]) + (acc[2] + acc[3]);
      T sum = T(0);
      for (int l = 0; l < VL; ++l) sum += v[l];
      for (; p < pixels; ++p) sum += row[p];
      total += sum;
    }
    db[c] = total;
  }
}

}  // namespace

void conv2d_backward_bias_f32(int64_t n, int64_t o, int64_t pixels, const float* dy, float* db) {
  backward_bias(n, o, pixels, dy, db);
}
void conv2d_backward_bias_f64(int64_t n, int64_t o, int64_t pixels, const double* dy, double* db) {
  backward_bias(n, o, pixels, dy, db);
}
void conv2d_forward_f32(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y) {
  forward(s, x, w, bias, y);
}
void conv2d_forward_f64(const Conv2dShape& s, const double* x, const double* w, const double* bias, double* y) {
  forward(s, x, w, bias, y);
}
void conv2d_backward_data_f32(const Conv2dShape& s, const float* dy, const float* w, float* dx) {
  backward_data(s, dy, w, dx);
}
void conv2d_backward_data_f64(const Conv2dShape& s, const double* dy, const double* w, double* dx) {
  backward_data(s, dy, w, dx);
}
void conv2d_backward_weight_f32(const Conv2dShape& s, const float* dy, const float* x, float* dw) {
  backward_weight(s, dy, x, dw);
}
void conv2d_backward_weight_f64(const Conv2dShape& s, const double* dy, const double* x, double* dw) {
  backward_weight(s, dy, x, dw);
}

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
