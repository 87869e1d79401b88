// ISA levels the kernels are compiled for, and the run-time choice among them.
#pragma once
#include <string>
#include <vector>

namespace fastnn {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// Parses "generic" / "avx2" / "avx512"; throws std::invalid_argument otherwise.
Isa isa_from_name(const std::string& name);
// Highest level this CPU (and its OS, via XCR0) can run.
Isa isa_supported();
// Every level this CPU can run, lowest first.
std::vector<Isa> isa_levels_supported();
// The level the kernels use: the CPU's best, or FASTNN_ISA when it names a level the CPU can run.
// A FASTNN_ISA above the CPU's level, or a name that is no level, throws std::runtime_error.
Isa isa_active();
// Checks that `isa` can run here, throwing std::invalid_argument naming both levels if not.
void isa_require(Isa isa);

}  // namespace fastnn
