// bf16 GEMM with fp32 accumulation:
//   C[i, j] = alpha * sum_p bf16(A[i, p]) * bf16(B[p, j]) + beta * C[i, j] (+ bias[j])
// A and B arrive as bf16 bits (uint16) or as float32, rounded to bf16 (nearest-even, NaN kept quiet) while
// they are packed: fp32 master weights, bf16 compute, as autocast wants. C is float32. Every product of two
// bf16 values is exact in fp32, so the levels differ only in how the fp32 sums are ordered and rounded.
//
// The bf16 levels are their own axis (FASTNN_BF16_ISA), not rungs of FASTNN_ISA: every fp32 kernel would run
// the same code at an "avx512_bf16" rung as at "avx512", and CI runs the whole suite once per FASTNN_ISA
// level. A FASTNN_ISA below avx512 caps the bf16 default at generic (it promises no AVX-512 instructions).
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace fastnn {

enum class Bf16Isa : int { generic = 0, avx512_bf16 = 1, amx = 2 };

const char* bf16_isa_name(Bf16Isa isa);
// Parses "generic" / "avx512_bf16" / "amx"; throws std::invalid_argument otherwise.
Bf16Isa bf16_isa_from_name(const std::string& name);
// Levels this CPU and OS can run, lowest first. The first call asks Linux for the AMX tile state
// (arch_prctl ARCH_REQ_XCOMP_PERM); a refusal leaves amx out.
std::vector<Bf16Isa> bf16_isa_levels_supported();
Bf16Isa bf16_isa_supported();
// Throws std::invalid_argument naming the level and the best one when `isa` cannot run here.
void bf16_isa_require(Bf16Isa isa);
// FASTNN_BF16_ISA when set (std::runtime_error if it names no level or one this CPU lacks), else the best
// level (generic when FASTNN_ISA is below avx512). Read once.
Bf16Isa bf16_isa_active();

// Round to nearest even; NaN stays NaN (made quiet, sign kept); overflow gives inf, as torch's conversion.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16, quiet = (u >> 16) | 0x40u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet : rounded);  // a select: vectorises
}

// The register tile of the avx512_bf16 and generic kernels, and the column panel of packed B for all levels
// (AMX reads a 32-column panel as two 16-column tiles).
constexpr int kBf16MR = 12;
constexpr int kBf16NR = 32;
// Packed B pads k to this many pairs (one AMX tile of B is 16 pairs deep).
constexpr int64_t kBf16PairAlign = 16;

// B packed in the VNNI pair layout: for column panel q (kBf16NR columns) and pair p (rows 2p, 2p+1), word
// data[q * panel_words + p * kBf16NR + l] holds bf16 B(2p, j) in its low half and B(2p + 1, j) in its high
// half, j = q * kBf16NR + l; past k or n it is zero.
struct PackedBf16B {
  int64_t k = 0, n = 0;
  int64_t kp = 0;           // pairs per panel: ceil(k / 2) rounded up to kBf16PairAlign
  int64_t panel_words = 0;  // kp * kBf16NR, plus 2 KiB when that is a multiple of 4 KiB (see pack_bf16_b)
  int64_t panels = 0;       // ceil(n / kBf16NR)
  std::unique_ptr<uint32_t[], void (*)(void*)> data{nullptr, [](void*) {}};
  size_t words() const { return static_cast<size_t>(panels) * panel_words; }
  const uint32_t* panel(int64_t q) const { return data.get() + q * panel_words; }
};

struct Bf16Operand {
  const void* ptr = nullptr;
  bool f32 = false;  // float32 values (rounded while packing) instead of bf16 bits
  int64_t rs = 0, cs = 0;
};

struct GemmBf16Args {
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  Bf16Operand a;
  Bf16Operand b;                      // unused when packed_b is set
  const PackedBf16B* packed_b = nullptr;
  float beta = 0.0f;                  // 0 ignores C's old contents (NaN included), as BLAS
  float* c = nullptr;
  int64_t rs_c = 0, cs_c = 0;
  const float* bias = nullptr;        // length n, added to every row when not null
};

// Packs a k x n operand; throws std::bad_alloc when no memory holds it.
void pack_bf16_b(const Bf16Operand& b, int64_t k, int64_t n, PackedBf16B& out);
void gemm_bf16(Bf16Isa isa, const GemmBf16Args& args);

// The per-level pieces (gemm_bf16_<level>.cpp), driven by gemm_bf16.cpp.
namespace bf16_kernels {
// acc[i * kBf16NR + j] = sum_{p < kp} of pair products of a[p * kBf16MR + i] and b[p * kBf16NR + j].
void micro_generic(int64_t kp, const uint32_t* a, const uint32_t* b, float* acc);
void micro_avx512_bf16(int64_t kp, const uint32_t* a, const uint32_t* b, float* acc);
// A full tile of a unit-column-stride C updated straight from the registers, as bf16_detail::store_tile would:
// overwrite: C = alpha * acc + beta * C (beta 0 ignores C), else C += alpha * acc; then + bias[j] if not null.
void micro_store_avx512_bf16(int64_t kp, const uint32_t* a, const uint32_t* b, float* c, int64_t rs_c, float alpha,
                             float beta, bool overwrite, const float* bias);
// The whole product on AMX tiles (its own A layout and blocking).
void gemm_amx(const GemmBf16Args& args, const PackedBf16B& b);
}  // namespace bf16_kernels

}  // namespace fastnn
