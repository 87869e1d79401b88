// The kernels' thread count: one process-wide value that every parallel region sizes its team from,
// and parallel_chunks, the work-grabbing loop the kernels split their work with.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

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
// because waking a team costs more than they take. Every `omp parallel` and parallel_chunks sizes its
// team with this: OpenMP's own nthreads-var is per OS thread, so a region without num_threads() would
// ignore set_num_threads in every thread but the one that called it. Inside a parallel_chunks chunk it
// is 1: a kernel called from a chunk runs on that thread alone (no team inside a team).
int threads_for(double work);

namespace detail {
using ChunkFn = void (*)(void* ctx, int64_t chunk);
// Runs fn(ctx, i) for every i in [0, n_chunks) on the caller and up to nthreads - 1 pool threads.
void run_chunks(int64_t n_chunks, int nthreads, ChunkFn fn, void* ctx);
}  // namespace detail

// Calls fn(i) once for each chunk i in [0, n_chunks), on up to `nthreads` threads (the caller included),
// each thread grabbing the next unclaimed chunk from a shared counter. Why not an OpenMP region: a
// region ends at a barrier where every thread of the team must check in, so on a busy machine the
// caller waited a whole scheduler slice (~4 ms) for a partner that another process kept off its core,
// even when that partner had no work left to do. Here the call returns once every chunk is done: a
// thread that never got to run misses nothing and holds nobody up, and one held up mid-chunk delays
// the call by the rest of that chunk. Which thread runs a chunk must not change its result: the
// caller fixes the chunks' boundaries (from the shape, never from the thread count) when results
// are combined across chunks. fn must not throw (as in an OpenMP region, it would terminate).
template <typename F>
void parallel_chunks(int64_t n_chunks, int nthreads, F&& fn) {
  if (n_chunks <= 0) return;
  if (nthreads <= 1 || n_chunks == 1) {
    for (int64_t i = 0; i < n_chunks; ++i) fn(i);
    return;
  }
  using Fn = std::remove_reference_t<F>;
  detail::run_chunks(
      n_chunks, nthreads, [](void* ctx, int64_t i) { (*static_cast<Fn*>(ctx))(i); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// fn(lo, hi) over [0, n) in chunks of `grain` items (the last one shorter) on up to nthreads threads:
// for loops whose items are independent, where any chunk size gives the same bits. Chunks are at
// least `grain` and at most n / (8 * nthreads) items long, so a thread slowed by the machine leaves
// at most an eighth of its share for the others to wait on.
template <typename F>
void parallel_range(int64_t n, int64_t grain, int nthreads, F&& fn) {
  if (n <= 0) return;
  if (nthreads <= 1) {
    fn(int64_t(0), n);
    return;
  }
  const int64_t chunk = std::max<int64_t>({grain, int64_t(1), n / (8 * int64_t(nthreads))});
  parallel_chunks((n + chunk - 1) / chunk, nthreads,
                  [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
}

}  // namespace fastnn
