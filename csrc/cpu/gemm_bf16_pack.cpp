// Packing for the bf16 GEMM: strided bf16 bits or float32 (rounded here, nearest-even) into the kernels'
// layouts. The same code serves every level, so the levels see identical bf16 operands.
#include <cstdlib>
#include <cstring>

#include "gemm_bf16_detail.h"

namespace fastnn::bf16_detail {
namespace {

template <bool F32>
inline uint32_t bits(const void* base, int64_t off) {
  if constexpr (F32) return f32_to_bf16(static_cast<const float*>(base)[off]);
  else return static_cast<const uint16_t*>(base)[off];
}

template <bool F32>
void pack_a_pairs_t(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t k, uint32_t* dst) {
  constexpr int MR = kBf16MR;
  const int64_t kp = pairs_of(k), full = k / 2;
  const int64_t rs = a.rs, cs = a.cs;
  const int64_t base = i0 * rs;
  if (std::llabs(cs) <= std::llabs(rs)) {  // k runs along memory (row-major A): one row at a time
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t row = base + r * rs;
      for (int64_t p = 0; p < full; ++p)
        dst[p * MR + r] = bits<F32>(a.ptr, row + 2 * p * cs) | bits<F32>(a.ptr, row + (2 * p + 1) * cs) << 16;
      if (kp > full) dst[full * MR + r] = bits<F32>(a.ptr, row + 2 * full * cs);
    }
  } else {  // rows run along memory (A transposed): one k pair at a time
    for (int64_t p = 0; p < kp; ++p) {
      const int64_t k0 = base + 2 * p * cs;
      const bool pair = 2 * p + 1 < k;
      for (int64_t r = 0; r < rows; ++r)
        dst[p * MR + r] = bits<F32>(a.ptr, k0 + r * rs) | (pair ? bits<F32>(a.ptr, k0 + cs + r * rs) << 16 : 0u);
    }
  }
  if (rows < MR)
    for (int64_t p = 0; p < kp; ++p)
      for (int64_t r = rows; r < MR; ++r) dst[p * MR + r] = 0;
}

template <bool F32>
void pack_a_rows_t(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t rows_padded, int64_t k, int64_t ld,
                   uint16_t* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t row = (i0 + r) * a.rs;
    uint16_t* d = dst + r * ld;
    for (int64_t p = 0; p < k; ++p) d[p] = static_cast<uint16_t>(bits<F32>(a.ptr, row + p * a.cs));
    std::memset(d + k, 0, (ld - k) * sizeof(uint16_t));
  }
  if (rows_padded > rows) std::memset(dst + rows * ld, 0, (rows_padded - rows) * ld * sizeof(uint16_t));
}

template <bool F32>
void pack_b_panel_t(const Bf16Operand& b, int64_t k, int64_t n, int64_t q, int64_t kp, uint32_t* dst) {
  constexpr int NR = kBf16NR;
  const int64_t j0 = q * NR, cols = std::min<int64_t>(NR, n - j0);
  const int64_t used = pairs_of(k), full = k / 2;
  const int64_t rs = b.rs, cs = b.cs;
  if (std::llabs(cs) <= std::llabs(rs)) {  // row-major B: interleave rows 2p and 2p + 1
    for (int64_t p = 0; p < used; ++p) {
      const int64_t r0 = 2 * p * rs + j0 * cs;
      uint32_t* d = dst + p * NR;
      if (p < full && cs == 1 && cols == NR) {  // the common case, unit stride: a loop the compiler vectorises
        for (int64_t l = 0; l < NR; ++l) d[l] = bits<F32>(b.ptr, r0 + l) | bits<F32>(b.ptr, r0 + rs + l) << 16;
        continue;
      }
      if (p < full) {
        for (int64_t l = 0; l < cols; ++l) d[l] = bits<F32>(b.ptr, r0 + l * cs) | bits<F32>(b.ptr, r0 + rs + l * cs) << 16;
      } else {
        for (int64_t l = 0; l < cols; ++l) d[l] = bits<F32>(b.ptr, r0 + l * cs);
      }
      for (int64_t l = cols; l < NR; ++l) d[l] = 0;
    }
  } else {  // B = W^T with W row-major (a Linear weight): each pair is adjacent in memory
    for (int64_t l = 0; l < cols; ++l) {
      const int64_t c0 = (j0 + l) * cs;
      for (int64_t p = 0; p < full; ++p)
        dst[p * NR + l] = bits<F32>(b.ptr, c0 + 2 * p * rs) | bits<F32>(b.ptr, c0 + (2 * p + 1) * rs) << 16;
      if (used > full) dst[full * NR + l] = bits<F32>(b.ptr, c0 + 2 * full * rs);
    }
    if (cols < NR)
      for (int64_t p = 0; p < used; ++p)
        for (int64_t l = cols; l < NR; ++l) dst[p * NR + l] = 0;
  }
  std::memset(dst + used * NR, 0, (kp - used) * NR * sizeof(uint32_t));
}

}  // namespace

void pack_a_pairs(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t k, uint32_t* dst) {
  if (a.f32) pack_a_pairs_t<true>(a, i0, rows, k, dst);
  else pack_a_pairs_t<false>(a, i0, rows, k, dst);
}

void pack_a_rows(const Bf16Operand& a, int64_t i0, int64_t rows, int64_t rows_padded, int64_t k, int64_t ld,
                 uint16_t* dst) {
  if (a.f32) pack_a_rows_t<true>(a, i0, rows, rows_padded, k, ld, dst);
  else pack_a_rows_t<false>(a, i0, rows, rows_padded, k, ld, dst);
}

void pack_b_panel(const Bf16Operand& b, int64_t k, int64_t n, int64_t q, int64_t kp, uint32_t* dst) {
  if (b.f32) pack_b_panel_t<true>(b, k, n, q, kp, dst);
  else pack_b_panel_t<false>(b, k, n, q, kp, dst);
}

}  // namespace fastnn::bf16_detail
