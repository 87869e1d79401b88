// conv2d as implicit GEMM. Per image and group, the patches of the input are unfolded (im2col) into a
// (C/g * KH * KW) x (OH * OW) buffer private to the thread, and the GEMM kernel multiplies it with the
// weights. Images run in parallel with one thread each when the batch can feed every thread (each GEMM
// then runs single-threaded); otherwise images run one after the other and each GEMM uses the team.
// Either way an output element is computed by one thread in a fixed order: results are bitwise
// reproducible across thread counts.
#include "fastnn/conv2d.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "fastnn/aligned_buffer.h"
#include "fastnn/gemm.h"
#include "fastnn/threading.h"

namespace fastnn {
namespace {

// Output columns ox in [x0, x1) whose input column ox * sw + off lies inside the image.
inline std::pair<int64_t, int64_t> columns_inside(const Conv2dShape& s, int64_t off, int64_t ow) {
  int64_t x0 = off >= 0 ? 0 : (-off + s.sw - 1) / s.sw;
  int64_t x1 = s.w - off <= 0 ? 0 : (s.w - off + s.sw - 1) / s.sw;
  x0 = std::min(x0, ow);
  return {x0, std::clamp(x1, x0, ow)};
}

// col[(ci * KH + i) * KW + j][oy * OW + ox] = x[ci, oy*sh - ph + i*dh, ox*sw - pw + j*dw] (0 outside).
template <typename T>
void im2col(const Conv2dShape& s, const T* x, int64_t channels, T* col) {
  const int64_t oh = s.oh(), ow = s.ow();
  for (int64_t ci = 0; ci < channels; ++ci) {
    const T* xc = x + ci * s.h * s.w;
    for (int64_t i = 0; i < s.kh; ++i) {
      for (int64_t j = 0; j < s.kw; ++j) {
        T* dst = col + ((ci * s.kh + i) * s.kw + j) * oh * ow;
        const int64_t off = j * s.dw - s.pw;
        const auto [x0, x1] = columns_inside(s, off, ow);
        for (int64_t oy = 0; oy < oh; ++oy) {
          T* d = dst + oy * ow;
          const int64_t iy = oy * s.sh - s.ph + i * s.dh;
          if (iy < 0 || iy >= s.h) {
            std::memset(d, 0, ow * sizeof(T));
            continue;
          }
          const T* src = xc + iy * s.w + off;
          for (int64_t ox = 0; ox < x0; ++ox) d[ox] = T(0);
          if (s.sw == 1) {
            std::memcpy(d + x0, src + x0, (x1 - x0) * sizeof(T));
          } else {
            for (int64_t ox = x0; ox < x1; ++ox) d[ox] = src[ox * s.sw];
          }
          for (int64_t ox = x1; ox < ow; ++ox) d[ox] = T(0);
        }
      }
    }
  }
}

// The adjoint of im2col: dx[ci, iy, ix] += dcol[...] over every patch that read it.
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
          for (int64_t ox = x0; ox < x1; ++ox) d[ox * s.sw] += sr[ox];
        }
      }
    }
  }
}

bool is_pointwise(const Conv2dShape& s) {
  return s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0;
}

// Runs body(image, gemm_isa_threads_ok) over the batch: in parallel with single-threaded GEMMs when the
// batch feeds every thread, else serially with GEMMs free to use the team.
template <typename F>
void for_each_image(int64_t n, double work_per_image, F&& body) {
  const int nthreads = threads_for(work_per_image * n);
  if (nthreads > 1 && n >= nthreads) {
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (int64_t b = 0; b < n; ++b) body(b);
  } else {
    for (int64_t b = 0; b < n; ++b) body(b);
  }
}

template <typename T>
GemmArgs<T> gemm_args(int64_t m, int64_t n, int64_t k, const T* a, int64_t rs_a, int64_t cs_a, const T* b,
                      int64_t rs_b, int64_t cs_b, T beta, T* c, int64_t rs_c) {
  GemmArgs<T> g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = T(1);
  g.a = a;
  g.rs_a = rs_a;
  g.cs_a = cs_a;
  g.b = b;
  g.rs_b = rs_b;
  g.cs_b = cs_b;
  g.beta = beta;
  g.c = c;
  g.rs_c = rs_c;
  g.cs_c = 1;
  return g;
}

}  // namespace

template <typename T>
void conv2d_forward(Isa isa, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t oh = s.oh(), ow = s.ow(), cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, pixels = oh * ow;
  const bool pointwise = is_pointwise(s);
  for_each_image(s.n, 2.0 * s.o * ckk * pixels, [&](int64_t b) {
    thread_local AlignedBuffer col_buf;
    T* col = pointwise ? nullptr : col_buf.get<T>(static_cast<size_t>(ckk) * pixels);
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* xg = x + (b * s.c + g * cg) * s.h * s.w;
      T* yg = y + (b * s.o + g * og) * pixels;
      const T* cols = xg;
      if (!pointwise) {
        im2col(s, xg, cg, col);
        cols = col;
      }
      GemmArgs<T> ga = gemm_args<T>(og, pixels, ckk, w + g * og * ckk, ckk, 1, cols, pixels, 1, T(0), yg, pixels);
      gemm(isa, ga);
      if (bias) {
        for (int64_t oc = 0; oc < og; ++oc) {
          const T bv = bias[g * og + oc];
          T* row = yg + oc * pixels;
          for (int64_t p = 0; p < pixels; ++p) row[p] += bv;
        }
      }
    }
  });
}

template <typename T>
void conv2d_backward_data(Isa isa, const Conv2dShape& s, const T* dy, const T* w, T* dx) {
  const int64_t oh = s.oh(), ow = s.ow(), cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, pixels = oh * ow;
  const bool pointwise = is_pointwise(s);
  for_each_image(s.n, 2.0 * s.o * ckk * pixels, [&](int64_t b) {
    thread_local AlignedBuffer col_buf;
    for (int64_t g = 0; g < s.groups; ++g) {
      const T* dyg = dy + (b * s.o + g * og) * pixels;
      T* dxg = dx + (b * s.c + g * cg) * s.h * s.w;
      // dcol = W_g^T @ dy_g: (ckk x og) @ (og x pixels); a pointwise conv writes dx directly.
      T* dcol = pointwise ? dxg : col_buf.get<T>(static_cast<size_t>(ckk) * pixels);
      GemmArgs<T> ga = gemm_args<T>(ckk, pixels, og, w + g * og * ckk, 1, ckk, dyg, pixels, 1, T(0), dcol, pixels);
      gemm(isa, ga);
      if (!pointwise) {
        std::memset(dxg, 0, sizeof(T) * cg * s.h * s.w);
        col2im_add(s, dcol, cg, dxg);
      }
    }
  });
}

template <typename T>
void conv2d_backward_weight(Isa isa, const Conv2dShape& s, const T* dy, const T* x, T* dw) {
  const int64_t oh = s.oh(), ow = s.ow(), cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t ckk = cg * s.kh * s.kw, pixels = oh * ow;
  const bool pointwise = is_pointwise(s);
  const int64_t wsize = s.o * ckk;
  // The batch is cut into at most 16 chunks fixed by the batch size alone; each chunk's partial dW is
  // accumulated by one thread image after image, then the partials are summed in chunk order.
  const int64_t chunks = std::min<int64_t>(16, std::max<int64_t>(1, s.n));
  const int64_t per_chunk = (s.n + chunks - 1) / std::max<int64_t>(1, chunks);
  std::vector<T> partial(static_cast<size_t>(chunks) * wsize, T(0));
  for_each_image(chunks, 2.0 * s.o * ckk * pixels * per_chunk, [&](int64_t q) {
    thread_local AlignedBuffer col_buf;
    T* col = pointwise ? nullptr : col_buf.get<T>(static_cast<size_t>(ckk) * pixels);
    T* acc = partial.data() + q * wsize;
    for (int64_t b = q * per_chunk; b < std::min(s.n, (q + 1) * per_chunk); ++b) {
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* xg = x + (b * s.c + g * cg) * s.h * s.w;
        const T* dyg = dy + (b * s.o + g * og) * pixels;
        const T* cols = xg;
        if (!pointwise) {
          im2col(s, xg, cg, col);
          cols = col;
        }
        // dW_g += dy_g @ col^T: (og x pixels) @ (pixels x ckk)
        GemmArgs<T> ga = gemm_args<T>(og, ckk, pixels, dyg, pixels, 1, cols, 1, pixels, T(1), acc + g * og * ckk, ckk);
        gemm(isa, ga);
      }
    }
  });
  std::memcpy(dw, partial.data(), sizeof(T) * wsize);
  for (int64_t q = 1; q < chunks; ++q) {
    const T* p = partial.data() + q * wsize;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += p[i];
  }
}

#define FASTNN_INSTANTIATE(T)                                                                      \
  template void conv2d_forward<T>(Isa, const Conv2dShape&, const T*, const T*, const T*, T*);      \
  template void conv2d_backward_data<T>(Isa, const Conv2dShape&, const T*, const T*, T*);          \
  template void conv2d_backward_weight<T>(Isa, const Conv2dShape&, const T*, const T*, T*);
FASTNN_INSTANTIATE(float)
FASTNN_INSTANTIATE(double)
#undef FASTNN_INSTANTIATE

}  // namespace fastnn
