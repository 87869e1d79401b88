// float32 <-> bfloat16 (the bits as uint16) conversions, bit for bit as torch's CPU casts and as
// python/fastnn/backend/bf16/convert.py, the NumPy reference: narrowing rounds to nearest even (overflow to
// inf, denormals kept), a NaN becomes `nan_bits`; widening is exact.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

void bf16_from_f32(const float* x, uint16_t* y, int64_t n, uint16_t nan_bits, Isa isa);
void f32_from_bf16(const uint16_t* x, float* y, int64_t n, Isa isa);

}  // namespace fastnn
