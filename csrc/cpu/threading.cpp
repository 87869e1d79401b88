#include "fastnn/threading.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

namespace fastnn {

int max_num_threads() {
  // More threads than CPUs only add context switches and barrier waits: with 10**6 accepted, one large
  // matmul on 2 cores spent 58 s creating and synchronising threads. 4x the CPUs leaves room for
  // deliberate oversubscription; the floor of 256 keeps a script that sets 16 or 64 on a big machine
  // running on a 2-core CI box.
  return std::max(256, 4 * omp_get_num_procs());
}

namespace {

// omp_set_num_threads sets an ICV of the calling OS thread only: a count set from Python's main thread
// was not seen by a threading.Thread (each new thread starts from OMP_NUM_THREADS), and one set in a
// worker changed nothing elsewhere. So the count lives here, process-wide, and reaches OpenMP through
// each region's num_threads clause. Relaxed order: it is a lone value, read once per region.
std::atomic<int>& count() {
  static std::atomic<int> n{std::clamp(omp_get_max_threads(), 1, max_num_threads())};
  return n;
}

}  // namespace

int get_num_threads() { return count().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1 || n > max_num_threads()) {
    throw std::invalid_argument("set_num_threads: expected a thread count in [1, " + std::to_string(max_num_threads()) +
                                "], got " + std::to_string(n));
  }
  count().store(n, std::memory_order_relaxed);
}

int threads_for(double work) {
  // Below ~1 MFLOP per thread, a team wake-up (a few microseconds) costs more than it saves.
  constexpr double kWorkPerThread = 1.0e6;
  const int max_threads = get_num_threads();
  const double useful = work / kWorkPerThread;  // compared as a double: a huge work must not overflow an int
  return !(useful >= 1.0) ? 1 : useful >= max_threads ? max_threads : static_cast<int>(useful);
}

}  // namespace fastnn
