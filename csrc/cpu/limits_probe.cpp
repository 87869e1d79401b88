#include <omp.h>

#include <algorithm>
#include <memory>

#include "fastnn/aligned_buffer.h"
#include "fastnn/limits_probe.h"

namespace fastnn {

double peak_gflops_f32(Isa isa, int nthreads, int repeats) {
  auto run = [&](int64_t iters) {
    switch (isa) {
      case Isa::avx512: return avx512::fma_probe_f32(iters, nthreads);
      case Isa::avx2: return avx2::fma_probe_f32(iters, nthreads);
      default: return generic::fma_probe_f32(iters, nthreads);
    }
  };
  run(1 << 16);  // wakes the team and raises the clock before timing
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = omp_get_wtime();
    const double flops = run(int64_t(1) << 24);
    const double dt = omp_get_wtime() - t0;
    best = std::max(best, flops / dt / 1e9);
  }
  return best;
}

Bandwidth memory_bandwidth(int64_t n, int nthreads, int repeats) {
  AlignedBuffer ba, bb, bc;
  float* a = ba.get<float>(n);
  float* b = bb.get<float>(n);
  float* c = bc.get<float>(n);
  // First touch from the same static schedule places pages near the threads that stream them.
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t i = 0; i < n; ++i) {
    a[i] = 0.f;
    b[i] = 1.f;
    c[i] = 2.f;
  }
  Bandwidth bw{0, 0};
  const double bytes = static_cast<double>(n) * sizeof(float);
  for (int r = 0; r < repeats; ++r) {
    double t0 = omp_get_wtime();
#pragma omp parallel for simd schedule(static) num_threads(nthreads)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i];
    double dt = omp_get_wtime() - t0;
    bw.copy_gbs = std::max(bw.copy_gbs, 2 * bytes / dt / 1e9);
    const float s = 3.f;
    t0 = omp_get_wtime();
#pragma omp parallel for simd schedule(static) num_threads(nthreads)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    dt = omp_get_wtime() - t0;
    bw.triad_gbs = std::max(bw.triad_gbs, 3 * bytes / dt / 1e9);
  }
  return bw;
}

}  // namespace fastnn
