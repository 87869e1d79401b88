// 2-D max / average pooling, forward and backward, compiled once per ISA level.
//
// The training-network case, 2x2 windows at stride 2 without padding over even sizes, has a vector
// path: per output row, the two input rows are loaded in 2N-wide pieces, split into even and odd
// columns with shuffles (vpermt2ps under AVX-512), and N outputs come out at once; backward
// interleaves the gradient back. The piece width N is the widest vector that fits the row (16
// floats for a 32-wide input under AVX-512, 8 for a 16-wide one), so small planes stay vectorised.
// Every other shape takes a plain per-window loop.
//
// Max pooling follows PyTorch's rule "take v when v > best or v is NaN" in window order (row-major),
// so the forward value and the backward's recomputed argmax agree with torch's indices, NaN included.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "fastnn/pool.h"
#include "fastnn/threading.h"
#include "fastnn/vec_math.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

using vec::loadu;
using vec::storeu;

template <typename T, int N>
struct VecN {
  using I = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  typedef T V __attribute__((vector_size(N * sizeof(T))));
  typedef I M __attribute__((vector_size(N * sizeof(T))));
  static M mask(int start, int step) {
    M m{};
    for (int i = 0; i < N; ++i) m[i] = start + i * step;
    return m;
  }
  // Lane i of the interleave of a and b: a[i/2] or b[i/2], starting at lane `from` of each.
  static M interleave(int from) {
    M m{};
    for (int i = 0; i < N; ++i) m[i] = (i % 2 ? N : 0) + from + i / 2;
    return m;
  }
};

template <int N>
using ic = std::integral_constant<int, N>;

// Calls f(ic<n>, ow) over [0, count) in the widest pieces that fit, then singles.
template <typename T, typename F>
inline void sweep(int64_t count, F&& f) {
  constexpr int VL = vec::lanes<T>;
  int64_t ow = 0;
  for (; ow + VL <= count; ow += VL) f(ic<VL>{}, ow);
  if constexpr (VL / 2 >= 2) {
    if (ow + VL / 2 <= count) f(ic<VL / 2>{}, ow), ow += VL / 2;
  }
  if constexpr (VL / 4 >= 2) {
    if (ow + VL / 4 <= count) f(ic<VL / 4>{}, ow), ow += VL / 4;
  }
  for (; ow < count; ++ow) f(ic<1>{}, ow);
}

// The four values of each 2x2 window of N outputs: v[0] = (0,0), v[1] = (0,1), v[2] = (1,0), v[3] = (1,1).
template <typename T, int N>
inline void load_windows(const T* r0, const T* r1, typename VecN<T, N>::V (&v)[4]) {
  using P = VecN<T, N>;
  using V = typename P::V;
  const auto even = P::mask(0, 2), odd = P::mask(1, 2);
  const V a0 = loadu<V>(r0), a1 = loadu<V>(r0 + N), b0 = loadu<V>(r1), b1 = loadu<V>(r1 + N);
  v[0] = __builtin_shuffle(a0, a1, even);
  v[1] = __builtin_shuffle(a0, a1, odd);
  v[2] = __builtin_shuffle(b0, b1, even);
  v[3] = __builtin_shuffle(b0, b1, odd);
}

// Writes (d0 interleaved with d1) to 2N values at p.
template <typename T, int N>
inline void store_interleaved(T* p, const typename VecN<T, N>::V& d0, const typename VecN<T, N>::V& d1) {
  using P = VecN<T, N>;
  storeu(p, __builtin_shuffle(d0, d1, P::interleave(0)));
  storeu(p + N, __builtin_shuffle(d0, d1, P::interleave(N / 2)));
}

// PyTorch's max rule over the window in order; returns the winning position (0..3) per lane.
template <typename T, int N>
inline typename VecN<T, N>::M window_argmax(const typename VecN<T, N>::V (&v)[4], typename VecN<T, N>::V& best) {
  using M = typename VecN<T, N>::M;
  best = v[0];
  M idx{};
  for (int k = 1; k < 4; ++k) {
    const M take = (v[k] > best) | (v[k] != v[k]);
    best = take ? v[k] : best;
    idx = take ? (k - M{}) : idx;
  }
  return idx;
}

template <typename T>
inline int scalar_argmax(const T (&v)[4], T& best) {
  best = v[0];
  int idx = 0;
  for (int k = 1; k < 4; ++k)
    if (v[k] > best || std::isnan(v[k])) best = v[k], idx = k;
  return idx;
}

bool is_2x2_stride_2(const Pool2dArgs& a) {
  return a.kernel_h == 2 && a.kernel_w == 2 && a.stride_h == 2 && a.stride_w == 2 && a.pad_h == 0 && a.pad_w == 0 &&
         a.dilation_h == 1 && a.dilation_w == 1 && a.in_h == 2 * a.out_h && a.in_w == 2 * a.out_w;
}

int plane_threads(const Pool2dArgs& a) { return threads_for(4.0 * a.planes * a.in_h * a.in_w); }

// ---- 2x2 stride 2 -------------------------------------------------------------------------------

// v / divisor as PyTorch computes it; a power-of-two divisor (4, unless overridden) gives the same
// bits by multiplying with its inverse, which saves a vector division per piece.
template <typename T>
struct Divide {
  T d, inv;
  bool pow2;
  explicit Divide(T divisor) : d(divisor), inv(T(1) / divisor), pow2(std::exp2(std::ilogb(divisor)) == divisor) {}
  template <typename V>
  V operator()(const V& v) const {
    return pow2 ? v * inv : v / d;
  }
};

// Planes [p_begin, p_end), in a function of its own (as OpenMP's outlined region body was) that the
// parallel_range lambda calls: with the loops written inside the lambda, the 2x2 forward measured ~35%
// slower at 1 thread than the OpenMP version (interleaved runs, loaded host); this way ~10-15%, still
// open (see the issue 15 report).
template <typename T, bool kMax>
__attribute__((noinline)) void forward_2x2_planes(const Pool2dArgs& a, const T* x, T* y, T divisor, int64_t p_begin, int64_t p_end) {
  const int64_t H = a.in_h, W = a.in_w, OH = a.out_h, OW = a.out_w;
  const Divide<T> div(divisor);
  for (int64_t p = p_begin; p < p_end; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const T* r0 = x + (p * H + 2 * oh) * W;
      const T* r1 = r0 + W;
      T* out = y + (p * OH + oh) * OW;
      sweep<T>(OW, [&](auto n, int64_t ow) {
        constexpr int N = decltype(n)::value;
        if constexpr (N == 1) {
          const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
          T best;
          if (kMax) scalar_argmax(v, best);
          else best = div(((v[0] + v[1]) + v[2]) + v[3]);
          out[ow] = best;
        } else {
          typename VecN<T, N>::V v[4], best;
          load_windows<T, N>(r0 + 2 * ow, r1 + 2 * ow, v);
          if (kMax) window_argmax<T, N>(v, best);
          else best = div(((v[0] + v[1]) + v[2]) + v[3]);
          storeu(out + ow, best);
        }
      });
    }
  }
}

template <typename T, bool kMax>
void forward_2x2(const Pool2dArgs& a, const T* x, T* y, T divisor) {
  parallel_range(a.planes, 1, plane_threads(a),
                 [&](int64_t p_begin, int64_t p_end) { forward_2x2_planes<T, kMax>(a, x, y, divisor, p_begin, p_end); });
}

// Planes [p_begin, p_end), in a function of its own: see forward_2x2_planes.
template <typename T, bool kMax>
__attribute__((noinline)) void backward_2x2_planes(const Pool2dArgs& a, const T* x, const T* gy, T* gx, T divisor, int64_t p_begin, int64_t p_end) {
  const int64_t H = a.in_h, W = a.in_w, OH = a.out_h, OW = a.out_w;
  const Divide<T> div(divisor);
  for (int64_t p = p_begin; p < p_end; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t row = (p * H + 2 * oh) * W;
      T* d0 = gx + row;
      T* d1 = d0 + W;
      const T* g = gy + (p * OH + oh) * OW;
      sweep<T>(OW, [&](auto n, int64_t ow) {
        constexpr int N = decltype(n)::value;
        if constexpr (N == 1) {
          T d[4];
          if (kMax) {
            const T* r0 = x + row;
            const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r0[W + 2 * ow], r0[W + 2 * ow + 1]};
            T best;
            const int k = scalar_argmax(v, best);
            for (int i = 0; i < 4; ++i) d[i] = i == k ? g[ow] : T(0);
          } else {
            for (int i = 0; i < 4; ++i) d[i] = div(g[ow]);
          }
          d0[2 * ow] = d[0], d0[2 * ow + 1] = d[1], d1[2 * ow] = d[2], d1[2 * ow + 1] = d[3];
        } else {
          using P = VecN<T, N>;
          using V = typename P::V;
          const V gv = loadu<V>(g + ow);
          V d[4];
          if (kMax) {
            V v[4], best;
            load_windows<T, N>(x + row + 2 * ow, x + row + W + 2 * ow, v);
            const auto idx = window_argmax<T, N>(v, best);
            for (int k = 0; k < 4; ++k) d[k] = idx == k ? gv : V{};
          } else {
            const V s = div(gv);
            for (int k = 0; k < 4; ++k) d[k] = s;
          }
          store_interleaved<T, N>(d0 + 2 * ow, d[0], d[1]);
          store_interleaved<T, N>(d1 + 2 * ow, d[2], d[3]);
        }
      });
    }
  }
}

template <typename T, bool kMax>
void backward_2x2(const Pool2dArgs& a, const T* x, const T* gy, T* gx, T divisor) {
  parallel_range(a.planes, 1, plane_threads(a),
                 [&](int64_t p_begin, int64_t p_end) { backward_2x2_planes<T, kMax>(a, x, gy, gx, divisor, p_begin, p_end); });
}

// ---- any kernel, stride, padding, dilation --------------------------------------------------------

// Valid window taps [k0, k1) along one dim: start + k * dil in [0, size).
inline void taps(int64_t start, int64_t kernel, int64_t dil, int64_t size, int64_t& k0, int64_t& k1) {
  k0 = start >= 0 ? 0 : (-start + dil - 1) / dil;
  k1 = start >= size ? 0 : std::min(kernel, (size - start + dil - 1) / dil);
  k1 = std::max(k1, k0);
}

template <typename T>
inline int64_t window_argmax_general(const Pool2dArgs& a, const T* xp, int64_t oh, int64_t ow, T& best) {
  const int64_t hs = oh * a.stride_h - a.pad_h, ws = ow * a.stride_w - a.pad_w;
  int64_t i0, i1, j0, j1;
  taps(hs, a.kernel_h, a.dilation_h, a.in_h, i0, i1);
  taps(ws, a.kernel_w, a.dilation_w, a.in_w, j0, j1);
  best = -std::numeric_limits<T>::infinity();
  int64_t arg = -1;
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t h = hs + i * a.dilation_h;
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t idx = h * a.in_w + ws + j * a.dilation_w;
      const T v = xp[idx];
      // The first tap seeds the window even at -inf: a window of only -inf sends its gradient to its first
      // tap inside the input, as PyTorch's argmax does (and the 2x2/2 fast path).
      if (arg < 0 || v > best || std::isnan(v)) best = v, arg = idx;
    }
  }
  return arg;
}

// The average window: rows [h0, h1) and columns [w0, w1) of the input, and its divisor.
template <typename T>
inline T avg_window(const Pool2dArgs& a, int64_t oh, int64_t ow, int64_t& h0, int64_t& h1, int64_t& w0, int64_t& w1) {
  h0 = oh * a.stride_h - a.pad_h, w0 = ow * a.stride_w - a.pad_w;
  h1 = std::min(h0 + a.kernel_h, a.in_h + a.pad_h), w1 = std::min(w0 + a.kernel_w, a.in_w + a.pad_w);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, a.in_h), w1 = std::min(w1, a.in_w);
  if (a.divisor_override) return static_cast<T>(a.divisor_override);
  return static_cast<T>(a.count_include_pad ? padded : std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0));
}

// Planes [p_begin, p_end), in a function of its own: see forward_2x2_planes.
template <typename T, bool kMax>
__attribute__((noinline)) void forward_general_planes(const Pool2dArgs& a, const T* x, T* y, int64_t p_begin, int64_t p_end) {
  for (int64_t p = p_begin; p < p_end; ++p) {
    const T* xp = x + p * a.in_h * a.in_w;
    T* yp = y + p * a.out_h * a.out_w;
    for (int64_t oh = 0; oh < a.out_h; ++oh) {
      for (int64_t ow = 0; ow < a.out_w; ++ow) {
        T r;
        if (kMax) {
          window_argmax_general(a, xp, oh, ow, r);
        } else {
          int64_t h0, h1, w0, w1;
          const T div = avg_window<T>(a, oh, ow, h0, h1, w0, w1);
          T s = 0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) s += xp[h * a.in_w + w];
          r = s / div;
        }
        yp[oh * a.out_w + ow] = r;
      }
    }
  }
}

template <typename T, bool kMax>
void forward_general(const Pool2dArgs& a, const T* x, T* y) {
  parallel_range(a.planes, 1, plane_threads(a),
                 [&](int64_t p_begin, int64_t p_end) { forward_general_planes<T, kMax>(a, x, y, p_begin, p_end); });
}

// Planes [p_begin, p_end), in a function of its own: see forward_2x2_planes.
template <typename T, bool kMax>
__attribute__((noinline)) void backward_general_planes(const Pool2dArgs& a, const T* x, const T* gy, T* gx, int64_t p_begin, int64_t p_end) {
  const int64_t plane = a.in_h * a.in_w;
  for (int64_t p = p_begin; p < p_end; ++p) {
    T* dp = gx + p * plane;
    const T* gp = gy + p * a.out_h * a.out_w;
    std::memset(dp, 0, static_cast<size_t>(plane) * sizeof(T));
    for (int64_t oh = 0; oh < a.out_h; ++oh) {
      for (int64_t ow = 0; ow < a.out_w; ++ow) {
        const T g = gp[oh * a.out_w + ow];
        if (kMax) {
          T best;
          const int64_t arg = window_argmax_general(a, x + p * plane, oh, ow, best);
          if (arg >= 0) dp[arg] += g;
        } else {
          int64_t h0, h1, w0, w1;
          const T s = g / avg_window<T>(a, oh, ow, h0, h1, w0, w1);
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) dp[h * a.in_w + w] += s;
        }
      }
    }
  }
}

template <typename T, bool kMax>
void backward_general(const Pool2dArgs& a, const T* x, const T* gy, T* gx) {
  parallel_range(a.planes, 1, plane_threads(a),
                 [&](int64_t p_begin, int64_t p_end) { backward_general_planes<T, kMax>(a, x, gy, gx, p_begin, p_end); });
}

template <typename T>
T fast_divisor(const Pool2dArgs& a) {
  return static_cast<T>(a.divisor_override ? a.divisor_override : 4);
}

template <typename T>
void max_forward(const Pool2dArgs& a, const T* x, T* y) {
  if (is_2x2_stride_2(a)) return forward_2x2<T, true>(a, x, y, T(1));
  forward_general<T, true>(a, x, y);
}
template <typename T>
void max_backward(const Pool2dArgs& a, const T* x, const T* gy, T* gx) {
  if (is_2x2_stride_2(a)) return backward_2x2<T, true>(a, x, gy, gx, T(1));
  backward_general<T, true>(a, x, gy, gx);
}
template <typename T>
void avg_forward(const Pool2dArgs& a, const T* x, T* y) {
  if (is_2x2_stride_2(a)) return forward_2x2<T, false>(a, x, y, fast_divisor<T>(a));
  forward_general<T, false>(a, x, y);
}
template <typename T>
void avg_backward(const Pool2dArgs& a, const T* gy, T* gx) {
  if (is_2x2_stride_2(a)) return backward_2x2<T, false>(a, nullptr, gy, gx, fast_divisor<T>(a));
  backward_general<T, false>(a, static_cast<const T*>(nullptr), gy, gx);
}

}  // namespace

#define FASTNN_DEFINE_POOL(T, sfx)                                                                                \
  void max_pool2d_forward_##sfx(const Pool2dArgs& a, const T* x, T* y) { max_forward(a, x, y); }                  \
  void max_pool2d_backward_##sfx(const Pool2dArgs& a, const T* x, const T* gy, T* gx) { max_backward(a, x, gy, gx); } \
  void avg_pool2d_forward_##sfx(const Pool2dArgs& a, const T* x, T* y) { avg_forward(a, x, y); }                  \
  void avg_pool2d_backward_##sfx(const Pool2dArgs& a, const T* gy, T* gx) { avg_backward(a, gy, gx); }
FASTNN_DEFINE_POOL(float, f32)
FASTNN_DEFINE_POOL(double, f64)
#undef FASTNN_DEFINE_POOL

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
