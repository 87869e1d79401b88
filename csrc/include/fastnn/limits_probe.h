// Machine limits the benchmark reports every kernel against: peak FMA throughput per ISA level and
// memory bandwidth (STREAM copy and triad).
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

#define FASTNN_DECLARE_PROBE(ns)                                                     \
  namespace ns {                                                                     \
  /* Runs `iters` rounds of independent FMAs on `nthreads` threads; returns flops. */ \
  double fma_probe_f32(int64_t iters, int nthreads);                                 \
  }
FASTNN_DECLARE_PROBE(generic)
FASTNN_DECLARE_PROBE(avx2)
FASTNN_DECLARE_PROBE(avx512)
#undef FASTNN_DECLARE_PROBE

// Peak fp32 GFLOP/s at `isa` on `nthreads` threads: best of `repeats` timed runs.
double peak_gflops_f32(Isa isa, int nthreads, int repeats);

struct Bandwidth {
  double copy_gbs;   // a[i] = b[i]: 2 x 4 bytes per element (STREAM counting)
  double triad_gbs;  // a[i] = b[i] + s * c[i]: 3 x 4 bytes per element
};
// Best of `repeats` passes over float arrays of `n` elements each, on `nthreads` threads.
Bandwidth memory_bandwidth(int64_t n, int nthreads, int repeats);

}  // namespace fastnn
