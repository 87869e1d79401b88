// Shared by the bf16 GEMM's sources (gemm_bf16*.cpp): operand packing, the tile store and the blocking.
#pragma once
#include <algorithm>
#include <cstdint>

#include "fastnn/gemm_bf16.h"

namespace fastnn::bf16_detail {

// kp_used: the pairs that hold data (ceil(k / 2)); packed B has pb.kp >= kp_used, zero beyond.
inline int64_t pairs_of(int64_t k) { return (k + 1) / 2; }

// Rows [i0, i0 + rows) of A as a kBf16MR-row pair panel: dst[p * kBf16MR + r] = A(i0 + r, 2p) | A(i0 + r, 2p + 1)
// << 16 for p < pairs_of(k), zero for the rows past `rows` and the odd k's missing partner.
void pack_a_pairs(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t k, uint32_t* dst);
// Rows [i0, i0 + rows) of A as row-major bf16 rows `ld` values long (zero past k), and zero rows up to
// `rows_padded`: AMX's A tiles are plain rows.
void pack_a_rows(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t rows_padded, int64_t k, int64_t ld,
                 uint16_t* dst);
// Column panel q of B, kp pairs deep (PackedBf16B's layout).
void pack_b_panel(const Bf16Operand& b, int64_t k, int64_t n, int64_t q, int64_t kp, uint32_t* dst);

// Writes the mr x nr corner of an accumulator tile (row stride ld) into C at (i0, j0):
// overwrite: C = alpha * acc + beta * C (beta 0 ignores C); else C += alpha * acc. finalize adds the bias.
void store_tile(const float* acc, int64_t ld, const GemmBf16Args& g, int64_t i0, int64_t j0, int64_t mr, int64_t nr,
                bool overwrite, bool finalize);

// Shrinks the row/column block sizes (multiples of mr_unit / nr_unit) until there are a few blocks per
// thread, so that dynamic scheduling can even out the work. Block sizes never change a result: only the
// split of k does.
inline void split_for_threads(int64_t m, int64_t n, int64_t mr_unit, int64_t nr_unit, int nthreads, int64_t& mc,
                              int64_t& nc) {
  // Equal blocks first (1024 rows as 4 x 252 + 16 left a block with almost nothing to do): as many as the
  // cache sizes asked for, each as large as an even split makes it.
  auto even = [](int64_t total, int64_t block, int64_t unit) {
    const int64_t count = (total + block - 1) / block;
    return std::max(unit, ((total + count - 1) / count + unit - 1) / unit * unit);
  };
  mc = even(m, mc, mr_unit);
  nc = even(n, nc, nr_unit);
  auto blocks = [&] { return ((m + mc - 1) / mc) * ((n + nc - 1) / nc); };
  while (nthreads > 1 && blocks() < 3 * nthreads) {
    if (nc > nr_unit && (nc >= mc || mc <= mr_unit)) nc = std::max(nr_unit, (nc / 2 + nr_unit - 1) / nr_unit * nr_unit);
    else if (mc > mr_unit) mc = std::max(mr_unit, (mc / 2 + mr_unit - 1) / mr_unit * mr_unit);
    else break;
  }
}

}  // namespace fastnn::bf16_detail
