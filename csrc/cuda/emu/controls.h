// What tests may change or read about the emulator (fastnn._emu's set_schedule, plant_missing_barrier, ...).
#pragma once

#include <cstdint>
#include <string>

namespace fastnn::emu {

// The order in which the ready threads of a block run between barriers: "forward" (threadIdx order),
// "reverse", or "random" (a fresh seeded permutation at every pass, per block).
void set_schedule(const std::string& name, std::uint64_t seed);
std::string schedule();

// Makes the __syncthreads at `line` of the source file whose path ends with `file_suffix` do nothing, as if
// it had been left out: tests check that the emulator notices a missing barrier. An empty suffix clears it.
void plant_missing_barrier(const std::string& file_suffix, int line);
// How many barrier arrivals the planted site swallowed since it was planted (0: the site never ran).
std::int64_t planted_barrier_hits();

struct Stats {
  std::int64_t launches = 0, blocks = 0, threads = 0, barriers = 0, warp_ops = 0;
};
Stats stats();

}  // namespace fastnn::emu
