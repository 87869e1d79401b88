// General matrix multiply over strided operands:
//   C[i, j] = alpha * sum_p A[i, p] * B[p, j] + beta * C[i, j]
// with A(i, p) at a[i * rs_a + p * cs_a], B(p, j) at b[p * rs_b + j * cs_b], C(i, j) at c[i * rs_c + j * cs_c].
// Transposed operands are just swapped strides. Strides are in elements and may be any value
// (including negative) as long as C's elements do not overlap. beta == 0 ignores C's old contents
// (NaN included), as BLAS does.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

// Applied to each finished element after the optional bias, in the GEMM's last pass over C (the fused
// epilogue of a Linear layer: no extra sweep over the output).
enum class Epilogue : int { none = 0, relu = 1, gelu = 2 };

template <typename T>
struct GemmArgs {
  int64_t m, n, k;
  T alpha;
  const T* a;
  int64_t rs_a, cs_a;
  const T* b;
  int64_t rs_b, cs_b;
  T beta;
  T* c;
  int64_t rs_c, cs_c;
  const T* bias = nullptr;  // length n, added to every row of C when not null
  Epilogue epilogue = Epilogue::none;
};

#define FASTNN_DECLARE_GEMM(ns)                 \
  namespace ns {                                \
  void gemm_f32(const GemmArgs<float>& args);   \
  void gemm_f64(const GemmArgs<double>& args);  \
  }
FASTNN_DECLARE_GEMM(generic)
FASTNN_DECLARE_GEMM(avx2)
FASTNN_DECLARE_GEMM(avx512)
#undef FASTNN_DECLARE_GEMM

// Dispatch on `isa` (which the caller has checked with isa_require).
void gemm(Isa isa, const GemmArgs<float>& args);
void gemm(Isa isa, const GemmArgs<double>& args);

// A batch of GEMMs that share sizes; operand i starts at base + i * batch_stride (0 broadcasts).
template <typename T>
struct BatchedGemmArgs {
  int64_t batch;
  int64_t stride_a, stride_b, stride_c;
  GemmArgs<T> gemm;
};
void gemm_batched(Isa isa, const BatchedGemmArgs<float>& args);
void gemm_batched(Isa isa, const BatchedGemmArgs<double>& args);

}  // namespace fastnn
