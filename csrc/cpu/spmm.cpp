// Sparse (COO) @ dense and its values gradient, compiled once per ISA level (the row loops are plain
// loops the compiler vectorises with the level's flags: a 16-wide feature row is one AVX-512 register).
//
// spmm: a stable counting sort groups the entries by row (row_ptr from a histogram, then each entry
// placed at its row's next free slot in input order), so a COO matrix needs no coalescing or sorting
// first, and duplicates simply add. Each output row is then one thread's: zeroed, then out_row +=
// v * dense[col] for its entries in input order, so the result is bitwise the same at any thread count.
// Rows are grabbed in chunks by whichever thread is free (a graph's degree varies a lot, and a
// descheduled thread on a shared machine then delays only its current chunk).
//
// sddmm: one dot product per entry, each in 16 independent lane sums (vectorisable without
// reassociation) folded in a fixed order at the end.
#include <algorithm>
#include <vector>

#include "fastnn/spmm.h"
#include "fastnn/threading.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

// Output rows [i_begin, i_end): each zeroed, then its entries added in input order.
template <typename T>
void spmm_rows(const SpmmArgs<T>& a, const int64_t* rp, const int64_t* ord, int64_t i_begin, int64_t i_end) {
  const int64_t n = a.n;
  for (int64_t i = i_begin; i < i_end; ++i) {
    T* __restrict o = a.out + i * n;
    std::fill(o, o + n, T(0));
    for (int64_t p = rp[i]; p < rp[i + 1]; ++p) {
      const int64_t e = ord[p];
      const T v = a.vals[e];
      const T* __restrict d = a.dense + a.cols[e] * a.ld;
      for (int64_t j = 0; j < n; ++j) o[j] += v * d[j];
    }
  }
}

template <typename T>
int64_t spmm_impl(const SpmmArgs<T>& a) {
  const int64_t m = a.m, n = a.n;
  for (int64_t e = 0; e < a.nnz; ++e)
    if (a.rows[e] < 0 || a.rows[e] >= m || a.cols[e] < 0 || a.cols[e] >= a.k) return e;
  std::vector<int64_t> row_ptr(static_cast<size_t>(m) + 1, 0);
  for (int64_t e = 0; e < a.nnz; ++e) ++row_ptr[a.rows[e] + 1];
  for (int64_t i = 0; i < m; ++i) row_ptr[i + 1] += row_ptr[i];
  std::vector<int64_t> order(static_cast<size_t>(a.nnz));
  {
    std::vector<int64_t> next(row_ptr.begin(), row_ptr.end() - 1);
    for (int64_t e = 0; e < a.nnz; ++e) order[next[a.rows[e]]++] = e;
  }
  const int64_t* rp = row_ptr.data();
  const int64_t* ord = order.data();
  const int nt = threads_for(2.0 * static_cast<double>(a.nnz + m) * static_cast<double>(n));
  parallel_range(m, 16, nt, [&](int64_t i0, int64_t i1) { spmm_rows(a, rp, ord, i0, i1); });
  return -1;
}

constexpr int kLanes = 16;

template <typename T>
T dot(const T* __restrict x, const T* __restrict y, int64_t n) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[j + l] * y[j + l];
  for (int l = 0; j < n; ++j, ++l) acc[l] += x[j] * y[j];
  T s = T(0);
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

template <typename T>
void sddmm_entries(const SddmmArgs<T>& a, int64_t e_begin, int64_t e_end) {
  for (int64_t e = e_begin; e < e_end; ++e) a.out[e] = dot(a.a + a.rows[e] * a.lda, a.b + a.cols[e] * a.ldb, a.n);
}

template <typename T>
int64_t sddmm_impl(const SddmmArgs<T>& a) {
  for (int64_t e = 0; e < a.nnz; ++e)
    if (a.rows[e] < 0 || a.rows[e] >= a.ra || a.cols[e] < 0 || a.cols[e] >= a.rb) return e;
  const int nt = threads_for(2.0 * static_cast<double>(a.nnz) * static_cast<double>(a.n));
  parallel_range(a.nnz, 64, nt, [&](int64_t e0, int64_t e1) { sddmm_entries(a, e0, e1); });
  return -1;
}

}  // namespace

int64_t spmm_f32(const SpmmArgs<float>& a) { return spmm_impl(a); }
int64_t spmm_f64(const SpmmArgs<double>& a) { return spmm_impl(a); }
int64_t sddmm_f32(const SddmmArgs<float>& a) { return sddmm_impl(a); }
int64_t sddmm_f64(const SddmmArgs<double>& a) { return sddmm_impl(a); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
