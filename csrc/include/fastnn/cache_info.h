// Cache sizes read at run time, so blocking adapts to the CPU the wheel lands on.
#pragma once
#include <cstdint>

namespace fastnn {

struct CacheInfo {
  int64_t l1d;  // bytes, per core
  int64_t l2;   // bytes, per core
  int64_t l3;   // bytes, shared
};

// Read once (sysfs, then sysconf, then conservative defaults) and cached.
const CacheInfo& cache_info();

}  // namespace fastnn
