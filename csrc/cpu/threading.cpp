#include "fastnn/threading.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

namespace fastnn {

int get_num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: expected a positive thread count, got " + std::to_string(n));
  omp_set_num_threads(n);
}

int threads_for(double work) {
  // Below ~1 MFLOP per thread, a team wake-up (a few microseconds) costs more than it saves.
  constexpr double kWorkPerThread = 1.0e6;
  const int max_threads = omp_get_max_threads();
  const int useful = static_cast<int>(work / kWorkPerThread);
  return std::max(1, std::min(max_threads, useful));
}

}  // namespace fastnn
