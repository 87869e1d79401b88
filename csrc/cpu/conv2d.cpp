// conv2d as implicit GEMM on the GEMM's micro-kernel, compiled once per ISA level (FASTNN_ISA_NS).
//
// Forward, per image and group: Y (O/g x P) = W_g (O/g x CKK) . col (CKK x P), P = OH*OW pixels.
//  - W is packed into MR-row panels once per call and shared by every image and thread (the general
//    GEMM re-packed it for each image: 32->64 at 16x16 spent ~15% of its time there).
//  - B is read in place from a zero-bordered copy of the image when each vector of pixels is
//    contiguous there (unit column stride); otherwise the patches are unfolded straight into NR-wide
//    packed B panels, one cache block (KC x NC) at a time: never a full im2col matrix.
//  - The bias is added in the tile store.
// Backward-data, stride 1: dX is the forward convolution of dY with the flipped, transposed weights
// (padding d*(k-1) - p), so it runs on the same path and needs no col2im. Otherwise (stride > 1, or
// few input channels, where that GEMM would be too short) dcol = W^T . dY and col2im.
// Backward-weight and the bias gradient are in conv2d_weight.cpp; the implicit GEMM and the unfolding
// of patches they share are in conv2d_patches.h.
//
// Determinism: an output element is computed by one thread, over k in blocks that depend only on the
// shape and cache sizes; dW's batch sum runs in chunks fixed by the batch size, added in chunk order.
#include "conv2d_patches.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace conv;

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

}  // namespace

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
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
