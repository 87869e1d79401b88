#include "fastnn/isa.h"

#include <cstdlib>
#include <stdexcept>

namespace fastnn {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "unknown";
}

Isa isa_from_name(const std::string& name) {
  if (name == "generic") return Isa::generic;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw std::invalid_argument("unknown ISA level '" + name + "' (expected generic, avx2 or avx512)");
}

Isa isa_supported() {
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's XCR0 state, so a kernel that disabled AVX-512 state is honoured.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx512) return Isa::avx512;
  if (avx2) return Isa::avx2;
#endif
  return Isa::generic;
}

std::vector<Isa> isa_levels_supported() {
  std::vector<Isa> levels;
  for (int i = 0; i <= static_cast<int>(isa_supported()); ++i) levels.push_back(static_cast<Isa>(i));
  return levels;
}

void isa_require(Isa isa) {
  const Isa best = isa_supported();
  if (static_cast<int>(isa) > static_cast<int>(best)) {
    throw std::invalid_argument(std::string("ISA level '") + isa_name(isa) + "' is not supported by this CPU (best: '" +
                                isa_name(best) + "')");
  }
}

static Isa choose_isa() {
  const char* forced = std::getenv("FASTNN_ISA");
  if (forced == nullptr || *forced == '\0') return isa_supported();
  Isa isa;
  try {
    isa = isa_from_name(forced);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("FASTNN_ISA: ") + e.what());
  }
  try {
    isa_require(isa);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("FASTNN_ISA: ") + e.what());
  }
  return isa;
}

Isa isa_active() {
  static const Isa active = choose_isa();
  return active;
}

}  // namespace fastnn
