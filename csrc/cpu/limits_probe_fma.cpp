// FMA throughput probe, compiled per ISA level like the kernels it measures.
#include <omp.h>

#include "fastnn/limits_probe.h"
#include "fastnn/simd.h"

#ifndef FASTNN_ISA_NS
#error "FASTNN_ISA_NS must name the ISA level this translation unit is compiled for"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {

using simd::kVecBytes;
// 2 FMA ports x 4 cycles latency need 8 chains in flight; 16 leaves margin for either.
constexpr int kChains = 16;
using vf = simd::vf32;

double fma_probe_f32(int64_t iters, int nthreads) {
  constexpr int VL = kVecBytes / sizeof(float);
  double sink = 0;
#pragma omp parallel num_threads(nthreads) reduction(+ : sink)
  {
    vf acc[kChains];
    const vf mul = vf{} + 0.9999999f;
    const vf add = vf{} + 1e-7f;
    for (int i = 0; i < kChains; ++i) acc[i] = vf{} + static_cast<float>(omp_get_thread_num() + i);
    for (int64_t it = 0; it < iters; ++it) {
      // Each chain is a true dependency (no -ffast-math, so no reassociation): nothing can be folded.
      for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * mul + add;
    }
    float s = 0;
    for (int i = 0; i < kChains; ++i)
      for (int j = 0; j < VL; ++j) s += acc[i][j];
    sink += s;
  }
  volatile double keep = sink;
  (void)keep;
  return 2.0 * VL * kChains * static_cast<double>(iters) * nthreads;
}

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
