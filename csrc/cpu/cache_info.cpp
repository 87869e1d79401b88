#include "fastnn/cache_info.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace fastnn {

// Parses sysfs sizes such as "48K", "2048K" or "480M".
static int64_t read_sysfs_size(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return 0;
  char buf[64] = {0};
  const bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  if (!ok) return 0;
  char* end = nullptr;
  long long v = std::strtoll(buf, &end, 10);
  if (v <= 0) return 0;
  if (*end == 'K') v <<= 10;
  else if (*end == 'M') v <<= 20;
  else if (*end == 'G') v <<= 30;
  return v;
}

static std::string read_sysfs_text(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return {};
  char buf[64] = {0};
  const bool ok = std::fgets(buf, sizeof buf, f) != nullptr;
  std::fclose(f);
  if (!ok) return {};
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

static CacheInfo probe() {
  CacheInfo info{0, 0, 0};
  for (int idx = 0; idx < 8; ++idx) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/";
    const std::string level = read_sysfs_text(dir + "level");
    if (level.empty()) break;
    const std::string type = read_sysfs_text(dir + "type");
    const int64_t size = read_sysfs_size(dir + "size");
    if (level == "1" && type == "Data") info.l1d = size;
    if (level == "2") info.l2 = size;
    if (level == "3") info.l3 = size;
  }
#ifdef _SC_LEVEL1_DCACHE_SIZE
  if (info.l1d <= 0) info.l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  if (info.l2 <= 0) info.l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (info.l3 <= 0) info.l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
  // Conservative defaults (the smallest caches of the x86-64 parts we expect) when nothing answers.
  if (info.l1d <= 0) info.l1d = 32 << 10;
  if (info.l2 <= 0) info.l2 = 256 << 10;
  if (info.l3 <= 0) info.l3 = 4 << 20;
  return info;
}

const CacheInfo& cache_info() {
  static const CacheInfo info = probe();
  return info;
}

}  // namespace fastnn
