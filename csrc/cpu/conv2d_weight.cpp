// conv2d's weight and bias gradients, compiled once per ISA level (FASTNN_ISA_NS); the forward and
// backward-data kernels are in conv2d.cpp, the implicit GEMM and unfolding they share in
// conv2d_patches.h.
#include "conv2d_patches.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using namespace conv;

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
  // A small batch gives few chunks: each is also cut into runs of MR tap rows (disjoint rows of its
  // partial, each tile's sum unchanged), so that a thread slowed by other work on the machine holds up
  // the call by a small item. The split is fixed by the shape and thread count; it moves no arithmetic.
  const int64_t t_tiles = (ckk + MR - 1) / MR;
  const int64_t t_split = std::min<int64_t>(t_tiles, (4 * nthreads + chunks - 1) / chunks);
  const int64_t t_per = (t_tiles + t_split - 1) / t_split * MR;
  parallel_chunks(chunks * t_split, nthreads, [&](int64_t item) {
    const int64_t q = item / t_split, t_lo = item % t_split * t_per, t_hi = std::min(ckk, t_lo + t_per);
    if (t_lo >= t_hi) return;
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
          for (int64_t t0 = t_lo; t0 < t_hi; t0 += MR) {
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
  });
  // Sum the partials in chunk order (contiguous adds), then transpose: dW[g*og + o][t] = sum[g][t][o].
  T* sum = partial.data();
  parallel_range(wsize, 4096, threads_for(double(chunks) * wsize), [&](int64_t lo, int64_t hi) {
    for (int64_t q = 1; q < chunks; ++q) {
      const T* p = partial.data() + q * wsize;
      for (int64_t i = lo; i < hi; ++i) sum[i] += p[i];
    }
  });
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
  parallel_range(o, 1, nthreads, [&](int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
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
  });
}

}  // namespace

void conv2d_backward_weight_f32(const Conv2dShape& s, const float* dy, const float* x, float* dw) {
  backward_weight(s, dy, x, dw);
}
void conv2d_backward_weight_f64(const Conv2dShape& s, const double* dy, const double* x, double* dw) {
  backward_weight(s, dy, x, dw);
}

void conv2d_backward_bias_f32(int64_t n, int64_t o, int64_t pixels, const float* dy, float* db) {
  backward_bias(n, o, pixels, dy, db);
}
void conv2d_backward_bias_f64(int64_t n, int64_t o, int64_t pixels, const double* dy, double* db) {
  backward_bias(n, o, pixels, dy, db);
}
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
