// The bf16 GEMM's levels: CPUID for the instructions, and on Linux the kernel's permission for the AMX tile
// state, which a process must request before its first tile instruction (otherwise: SIGILL).
#include <cstdlib>
#include <stdexcept>

#include "fastnn/gemm_bf16.h"
#include "fastnn/isa.h"

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace fastnn {

const char* bf16_isa_name(Bf16Isa isa) {
  switch (isa) {
    case Bf16Isa::generic: return "generic";
    case Bf16Isa::avx512_bf16: return "avx512_bf16";
    case Bf16Isa::amx: return "amx";
  }
  return "unknown";
}

Bf16Isa bf16_isa_from_name(const std::string& name) {
  if (name == "generic") return Bf16Isa::generic;
  if (name == "avx512_bf16") return Bf16Isa::avx512_bf16;
  if (name == "amx") return Bf16Isa::amx;
  throw std::invalid_argument("unknown bf16 ISA level '" + name + "' (expected generic, avx512_bf16 or amx)");
}

namespace {

// Linux >= 5.16 enables the 8 KiB tile data state per process on request; older kernels (or a seccomp policy)
// refuse, and then AMX must not be used even where CPUID reports it.
bool amx_permitted() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;  // ARCH_REQ_XCOMP_PERM (asm/prctl.h)
  constexpr long kXfeatureXtiledata = 18;     // XFEATURE_XTILEDATA
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

std::vector<Bf16Isa> detect() {
  std::vector<Bf16Isa> levels{Bf16Isa::generic};
#if defined(__x86_64__) || defined(__i386__)
  // The vdpbf16ps kernel also uses AVX-512F/BW/VL loads and broadcasts; libgcc's checks include XCR0.
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (!(avx512 && __builtin_cpu_supports("avx512bf16"))) return levels;
  levels.push_back(Bf16Isa::avx512_bf16);
  if (__builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") && amx_permitted())
    levels.push_back(Bf16Isa::amx);
#endif
  return levels;
}

Bf16Isa choose() {
  const char* forced = std::getenv("FASTNN_BF16_ISA");
  if (forced == nullptr || *forced == '\0') {
    if (static_cast<int>(isa_active()) < static_cast<int>(Isa::avx512)) return Bf16Isa::generic;
    return bf16_isa_supported();
  }
  try {
    const Bf16Isa isa = bf16_isa_from_name(forced);
    bf16_isa_require(isa);
    return isa;
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("FASTNN_BF16_ISA: ") + e.what());
  }
}

}  // namespace

std::vector<Bf16Isa> bf16_isa_levels_supported() {
  static const std::vector<Bf16Isa> levels = detect();
  return levels;
}

Bf16Isa bf16_isa_supported() { return bf16_isa_levels_supported().back(); }

void bf16_isa_require(Bf16Isa isa) {
  const Bf16Isa best = bf16_isa_supported();
  if (static_cast<int>(isa) > static_cast<int>(best)) {
    throw std::invalid_argument(std::string("bf16 ISA level '") + bf16_isa_name(isa) +
                                "' is not supported by this CPU and OS (best: '" + bf16_isa_name(best) + "')");
  }
}

Bf16Isa bf16_isa_active() {
  static const Bf16Isa active = choose();
  return active;
}

}  // namespace fastnn
