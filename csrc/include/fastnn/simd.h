// The vector types every per-ISA kernel is written in (GCC vector extensions). Include it only from a
// source listed in FASTNN_ISA_SOURCES: the same text becomes 16-float zmm code under -mavx512f, 8-float
// ymm under -mavx2 and 4-float xmm on the x86-64 baseline.
#pragma once
#include <cstring>

#ifndef FASTNN_ISA_NS
#error "fastnn/simd.h is for per-ISA sources (FASTNN_ISA_NS names the level)"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace simd {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX2__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif

typedef float vf32 __attribute__((vector_size(kVecBytes)));
typedef double vf64 __attribute__((vector_size(kVecBytes)));

template <typename T>
struct Traits;
template <>
struct Traits<float> {
  using V = vf32;
};
template <>
struct Traits<double> {
  using V = vf64;
};
template <typename T>
using Vec = typename Traits<T>::V;
template <typename T>
constexpr int lanes = kVecBytes / static_cast<int>(sizeof(T));

template <typename V>
inline V loadu(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V>
inline void storeu(void* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}
// s - V{} is a bare broadcast (s - 0 == s for every s, signed zeros included); V{} + s is not.
template <typename V, typename T>
inline V splat(T s) {
  return s - V{};
}

}  // namespace simd
}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
