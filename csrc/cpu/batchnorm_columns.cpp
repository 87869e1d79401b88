// BatchNorm's columns layout (rows shorter than 32 values), compiled once per ISA level: x is n rows of
// w = c * l columns; (row block, column chunk) units add per-column double sums, vectorised across the
// columns by GCC (plain loops, the conversions to double included), then the row blocks are folded in
// block order and each channel totals its l columns. The variance takes a second pass about the mean
// rounded to T: var = sum((x - m)^2) / count - resid^2, as the composite reference computes it.
#include <omp.h>

#include <algorithm>

#include "batchnorm_common.h"
#include "fastnn/threading.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace batchnorm {
namespace {

// Row blocks as layernorm's backward sizes them (at most 64, each at least 16 rows), and column chunks of
// 1024 so that a few wide rows still split into parallel units.
constexpr int64_t kMaxRowBlocks = 64;
constexpr int64_t kMinRowsPerBlock = 16;
constexpr int64_t kColChunk = 1024;

struct ColPlan {
  int64_t w, rows_per_block, nblocks, nchunks;
  explicit ColPlan(int64_t n, int64_t w_)
      : w(w_),
        rows_per_block(std::max(kMinRowsPerBlock, (n + kMaxRowBlocks - 1) / kMaxRowBlocks)),
        nblocks(std::max<int64_t>(1, (n + rows_per_block - 1) / rows_per_block)),  // one, empty, when n = 0
        nchunks((w_ + kColChunk - 1) / kColChunk) {}
};

// Adds f(row i, column j) in double into acc[b * w + j] for every unit (row block b, column chunk), then
// folds the row blocks into acc[0, w) in block order (vectorised across columns; a per-channel walk down
// the blocks would be a strided scalar chain, 90 us at (1024, 512)).
template <typename F>
inline void column_sums(const ColPlan& p, int64_t n, double* acc, int nt, F&& f) {
  parallel_range(p.nblocks * p.nchunks, 1, nt, [&](int64_t u_begin, int64_t u_end) {
    for (int64_t u = u_begin; u < u_end; ++u) {
      const int64_t b = u / p.nchunks, j0 = u % p.nchunks * kColChunk, j1 = std::min(p.w, j0 + kColChunk);
      double* __restrict dst = acc + b * p.w;
      for (int64_t j = j0; j < j1; ++j) dst[j] = 0.0;
      const int64_t i1 = std::min(n, (b + 1) * p.rows_per_block);
      for (int64_t i = b * p.rows_per_block; i < i1; ++i) f(i, j0, j1, dst);
    }
  });
  parallel_range(p.nchunks, 1, nt, [&](int64_t q_begin, int64_t q_end) {
    for (int64_t q = q_begin; q < q_end; ++q) {
      const int64_t j0 = q * kColChunk, j1 = std::min(p.w, j0 + kColChunk);
      double* __restrict dst = acc;
      for (int64_t b = 1; b < p.nblocks; ++b) {
        const double* __restrict src = acc + b * p.w;
        for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
      }
    }
  });
}

// Channel ch's total of the folded column sums acc[0, w): its l columns in order.
inline double channel_total(const double* acc, int64_t ch, int64_t l) {
  double t = 0.0;
  for (int64_t j = ch * l; j < (ch + 1) * l; ++j) t += acc[j];
  return t;
}

}  // namespace

template <typename T>
void forward_cols(const BatchNormArgs<T>& a, const BatchNormForward<T>& f) {
  const int64_t n = a.n, c = a.c, l = a.l;
  const ColPlan p(n, c * l);
  Scratch s;
  const size_t o_acc = s.reserve<double>(f.training ? p.nblocks * p.w : 0), o_m = s.reserve<T>(p.w),
               o_a = s.reserve<T>(p.w), o_b = s.reserve<T>(p.w);
  s.allocate();
  double* acc = s.at<double>(o_acc);
  T *cm = s.at<T>(o_m), *ca = s.at<T>(o_a), *cb = s.at<T>(o_b);  // per-column m, scale, shift
  const double count = static_cast<double>(n * l);
  const int nt = threads_for((f.training ? 12.0 : 3.0) * n * p.w);
  {
    if (f.training) {
      column_sums(p, n, acc, nt, [&](int64_t i, int64_t j0, int64_t j1, double* __restrict dst) {
        const T* __restrict x = a.x + i * p.w;
        for (int64_t j = j0; j < j1; ++j) dst[j] += static_cast<double>(x[j]);
      });
      parallel_range(c, 1, nt, [&](int64_t ch_begin, int64_t ch_end) {
        for (int64_t ch = ch_begin; ch < ch_end; ++ch) {
          f.mean[ch] = channel_total(acc, ch, l) / count;
          std::fill(cm + ch * l, cm + (ch + 1) * l, static_cast<T>(f.mean[ch]));
        }
      });
      column_sums(p, n, acc, nt, [&](int64_t i, int64_t j0, int64_t j1, double* __restrict dst) {
        const T* __restrict x = a.x + i * p.w;
        for (int64_t j = j0; j < j1; ++j) {
          const double e = static_cast<double>(x[j] - cm[j]);
          dst[j] += e * e;
        }
      });
    }
    parallel_range(c, 1, nt, [&](int64_t ch_begin, int64_t ch_end) {
      for (int64_t ch = ch_begin; ch < ch_end; ++ch) {
        double mean = 0.0, var = 0.0;
        if (f.training) {
          mean = f.mean[ch];
          const double resid = mean - static_cast<double>(cm[ch * l]);
          var = channel_total(acc, ch, l) / count - resid * resid;
        }
        const Affine<T> k = forward_constants(a, f, ch, mean, var);
        for (int64_t j = ch * l; j < (ch + 1) * l; ++j) cm[j] = k.m, ca[j] = k.scale, cb[j] = k.shift;
      }
    });
    parallel_range(n * p.nchunks, 1, nt, [&](int64_t u_begin, int64_t u_end) {
      for (int64_t u = u_begin; u < u_end; ++u) {
        const int64_t i = u / p.nchunks, j0 = u % p.nchunks * kColChunk, j1 = std::min(p.w, j0 + kColChunk);
        const T* __restrict x = a.x + i * p.w;
        T* __restrict y = f.y + i * p.w;
        for (int64_t j = j0; j < j1; ++j) y[j] = (x[j] - cm[j]) * ca[j] + cb[j];
      }
    });
  }
}

template <typename T>
void backward_cols(const BatchNormArgs<T>& a, const BatchNormGrads<T>& gr) {
  const int64_t n = a.n, c = a.c, l = a.l;
  const ColPlan p(n, c * l);
  const bool stats = gr.training || gr.dweight || gr.dbias;
  Scratch s;
  const size_t o_acc = s.reserve<double>(stats ? 2 * p.nblocks * p.w : 0), o_m = s.reserve<T>(p.w),
               o_1 = s.reserve<T>(p.w), o_k = s.reserve<T>(p.w), o_0 = s.reserve<T>(p.w);
  s.allocate();
  // acc holds, per row block, w sums of g then w sums of g * (x - m): one unit fills both halves of its chunk.
  double* acc = s.at<double>(o_acc);
  T *cm = s.at<T>(o_m), *c1 = s.at<T>(o_1), *ck = s.at<T>(o_k), *c0 = s.at<T>(o_0);
  const ColPlan p2(n, 2 * p.w);  // the same row blocks over the doubled width
  const int nt = threads_for((stats ? 8.0 : 2.0) * n * p.w);
  {
    parallel_range(c, 1, nt, [&](int64_t c0, int64_t c1) {
      for (int64_t ch = c0; ch < c1; ++ch) std::fill(cm + ch * l, cm + (ch + 1) * l, static_cast<T>(gr.mean[ch]));
    });
    if (stats) {
      column_sums(p2, n, acc, nt, [&](int64_t i, int64_t j0, int64_t j1, double* __restrict dst) {
        const T* __restrict x = a.x + i * p.w;
        const T* __restrict g = gr.grad_output + i * p.w;
        const int64_t w = p.w;
        for (int64_t j = j0; j < std::min(j1, w); ++j) dst[j] += static_cast<double>(g[j]);
        for (int64_t j = std::max(j0, w); j < j1; ++j)
          dst[j] += static_cast<double>(g[j - w]) * static_cast<double>(x[j - w] - cm[j - w]);
      });
    }
    parallel_range(c, 1, nt, [&](int64_t ch_begin, int64_t ch_end) {
      for (int64_t ch = ch_begin; ch < ch_end; ++ch) {
        double gsum = 0.0, gxc = 0.0;
        if (stats) {
          gsum = channel_total(acc, ch, l);
          gxc = channel_total(acc + p.w, ch, l);
        }
        const GradConstants<T> k = backward_constants(a, gr, ch, gsum, gxc);
        for (int64_t j = ch * l; j < (ch + 1) * l; ++j) cm[j] = k.m, c1[j] = k.c1, ck[j] = k.k, c0[j] = k.c0k;
      }
    });
    if (gr.dx) {
      parallel_range(n * p.nchunks, 1, nt, [&](int64_t u_begin, int64_t u_end) {
        for (int64_t u = u_begin; u < u_end; ++u) {
          const int64_t i = u / p.nchunks, j0 = u % p.nchunks * kColChunk, j1 = std::min(p.w, j0 + kColChunk);
          const T* __restrict x = a.x + i * p.w;
          const T* __restrict g = gr.grad_output + i * p.w;
          T* __restrict dx = gr.dx + i * p.w;
          if (gr.training) {
            for (int64_t j = j0; j < j1; ++j) dx[j] = ((x[j] - cm[j]) * c1[j] + g[j]) * ck[j] + c0[j];
          } else {
            for (int64_t j = j0; j < j1; ++j) dx[j] = g[j] * ck[j];
          }
        }
      });
    }
  }
}

template void forward_cols(const BatchNormArgs<float>&, const BatchNormForward<float>&);
template void forward_cols(const BatchNormArgs<double>&, const BatchNormForward<double>&);
template void backward_cols(const BatchNormArgs<float>&, const BatchNormGrads<float>&);
template void backward_cols(const BatchNormArgs<double>&, const BatchNormGrads<double>&);

}  // namespace batchnorm
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
