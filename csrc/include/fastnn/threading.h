// The kernels' thread count: one process-wide value that every parallel region sizes its team from.
#pragma once
#include <cstdint>

namespace fastnn {

// The thread count kernels use, in every OS thread (PyTorch's set_num_threads semantics). It starts at
// OpenMP's default (OMP_NUM_THREADS, else the CPUs this process may run on), capped at max_num_threads().
int get_num_threads();
// Sets it for the whole process, from any thread (an atomic: kernels running in other threads pick the
// new value at their next parallel region). Throws std::invalid_argument outside [1, max_num_threads()].
void set_num_threads(int n);
// The largest count set_num_threads accepts: max(256, 4 x the CPUs this process may run on).
int max_num_threads();
// Threads worth using for `work` units (roughly flops); small problems run on the caller alone
// because waking a team costs more than they take. Every `omp parallel` sizes its team with this:
// OpenMP's own nthreads-var is per OS thread, so a region without num_threads() would ignore
// set_num_threads in every thread but the one that called it.
int threads_for(double work);

}  // namespace fastnn
