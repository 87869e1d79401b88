// Sparse (COO) times dense, the products graph networks run: out = A @ D with A an m x k matrix given as
// nnz (row, col, value) entries in any order (duplicates add), D a dense (k, n) matrix with contiguous
// rows; and the gradient of such a product with respect to A's values, gv[e] = dot(G[row[e]], D[col[e]]).
//
// spmm orders the entries by row with a stable counting sort (O(nnz + m), no comparison sort), then each
// output row sums its entries in their input order, one thread per row: the bits never depend on the
// thread count. The transposed product (the gradient with respect to D, A^T @ G) is the same call with
// rows and cols swapped.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

template <typename T>
struct SpmmArgs {
  const int64_t* rows;  // (nnz,) in [0, m)
  const int64_t* cols;  // (nnz,) in [0, k)
  const T* vals;        // (nnz,)
  int64_t nnz, m, k, n;
  const T* dense;  // (k, n), row i at dense + i * ld
  int64_t ld;
  T* out;  // (m, n) dense, fully written
};

template <typename T>
struct SddmmArgs {
  const int64_t* rows;  // (nnz,) in [0, rows of a)
  const int64_t* cols;  // (nnz,) in [0, rows of b)
  int64_t nnz, ra, rb, n;
  const T* a;  // (ra, n), row stride lda
  int64_t lda;
  const T* b;  // (rb, n), row stride ldb
  int64_t ldb;
  T* out;  // (nnz,)
};

// Both return -1, or the first entry whose row or column is out of range (nothing is read through it;
// out is then unspecified).
#define FASTNN_DECLARE_SPMM(ns, T, sfx)                   \
  namespace ns {                                          \
  int64_t spmm_##sfx(const SpmmArgs<T>& a);               \
  int64_t sddmm_##sfx(const SddmmArgs<T>& a);             \
  }
#define FASTNN_DECLARE_SPMM_LEVEL(ns) \
  FASTNN_DECLARE_SPMM(ns, float, f32) \
  FASTNN_DECLARE_SPMM(ns, double, f64)
FASTNN_DECLARE_SPMM_LEVEL(generic)
FASTNN_DECLARE_SPMM_LEVEL(avx2)
FASTNN_DECLARE_SPMM_LEVEL(avx512)
#undef FASTNN_DECLARE_SPMM_LEVEL
#undef FASTNN_DECLARE_SPMM

int64_t spmm(Isa isa, const SpmmArgs<float>& a);
int64_t spmm(Isa isa, const SpmmArgs<double>& a);
int64_t sddmm(Isa isa, const SddmmArgs<float>& a);
int64_t sddmm(Isa isa, const SddmmArgs<double>& a);

}  // namespace fastnn
