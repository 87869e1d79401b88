// Shared by the two layouts of the batch norm kernels (batchnorm.cpp: rows, batchnorm_columns.cpp:
// columns), both compiled once per ISA level: the scratch carver, the per-channel constants of the
// forward and backward, and the column layout's entry points.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fastnn/aligned_buffer.h"
#include "fastnn/batchnorm.h"

#ifndef FASTNN_ISA_NS
#error "batchnorm_common.h is for the per-ISA batch norm sources"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace batchnorm {

// Typed arrays carved out of one grow-only per-thread buffer, each 64-byte aligned.
class Scratch {
 public:
  template <typename U>
  size_t reserve(int64_t count) {
    const size_t off = bytes_;
    bytes_ += (static_cast<size_t>(count) * sizeof(U) + 63) / 64 * 64;
    return off;
  }
  void allocate() {
    thread_local AlignedBuffer buf;
    base_ = bytes_ ? buf.get<char>(bytes_) : nullptr;
  }
  template <typename U>
  U* at(size_t off) const {
    return reinterpret_cast<U*>(base_ + off);
  }

 private:
  size_t bytes_ = 0;
  char* base_ = nullptr;
};


// The per-channel constants of the forward, from its statistics (training) or the running buffers (eval):
// writes mean / invstd / var and returns the T-rounded (m, scale, shift) of y = (x - m) * scale + shift.
template <typename T>
struct Affine {
  T m, scale, shift;
};
template <typename T>
inline Affine<T> forward_constants(const BatchNormArgs<T>& a, const BatchNormForward<T>& f, int64_t ch, double mean,
                                   double var) {
  const double w = a.weight ? static_cast<double>(a.weight[ch]) : 1.0;
  const double b = f.bias ? static_cast<double>(f.bias[ch]) : 0.0;
  if (f.training) {
    var = std::max(var, 0.0);  // NaN stays NaN (first argument)
    const double invstd = 1.0 / std::sqrt(var + f.eps);
    const T m = static_cast<T>(mean);
    const double resid = mean - static_cast<double>(m), scale = w * invstd;
    f.mean[ch] = mean, f.invstd[ch] = invstd, f.var[ch] = var;
    return {m, static_cast<T>(scale), static_cast<T>(b - resid * scale)};
  }
  mean = static_cast<double>(f.running_mean[ch]);
  const double invstd = 1.0 / std::sqrt(static_cast<double>(f.running_var[ch]) + f.eps), scale = w * invstd;
  f.mean[ch] = mean, f.invstd[ch] = invstd;
  return {T(0), static_cast<T>(scale), static_cast<T>(b - mean * scale)};
}

// The per-channel constants of the backward from its channel sums: writes dweight / dbias and returns the
// T-rounded (m, c1, k, c0 * k) of grad_row.
template <typename T>
struct GradConstants {
  T m, c1, k, c0k;
};
template <typename T>
inline GradConstants<T> backward_constants(const BatchNormArgs<T>& a, const BatchNormGrads<T>& gr, int64_t ch,
                                           double gsum, double gxc) {
  const double count = static_cast<double>(a.n * a.l), mean = gr.mean[ch], invstd = gr.invstd[ch];
  const T m = static_cast<T>(mean);
  const double resid = mean - static_cast<double>(m);
  const double gdot = (gxc - resid * gsum) * invstd;  // sum(g * x-hat)
  if (gr.dweight) gr.dweight[ch] = static_cast<T>(gdot);
  if (gr.dbias) gr.dbias[ch] = static_cast<T>(gsum);
  const double k = (a.weight ? static_cast<double>(a.weight[ch]) : 1.0) * invstd;
  // dx = k * (g - gsum / count - x-hat * gdot / count) = k * ((x - m) * c1 + g + c0).
  const double c1 = count > 0 ? -invstd * gdot / count : 0.0;
  const double c0 = count > 0 ? -gsum / count - resid * c1 : 0.0;
  return {m, static_cast<T>(c1), static_cast<T>(k), static_cast<T>(c0 * k)};
}

// The columns layout (batchnorm_columns.cpp), for rows shorter than 32 values.
template <typename T>
void forward_cols(const BatchNormArgs<T>& a, const BatchNormForward<T>& f);
template <typename T>
void backward_cols(const BatchNormArgs<T>& a, const BatchNormGrads<T>& gr);

}  // namespace batchnorm
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
