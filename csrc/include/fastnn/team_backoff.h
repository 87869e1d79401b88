// When a thread team is slower than its first thread alone would have been, run the next calls on
// one thread for a while (exponential back-off), then try the team again.
//
// Why: beside another busy process the partner thread can get almost none of its core (the scheduler
// shares a core between process groups, and a thread that sleeps between calls earns a small share).
// Under OpenMP that held each call at the region's start or end for whole time slices (a 0.6 ms
// 64x784 . 784x256 took 24 ms on 2 threads). parallel_chunks removed those waits (nobody waits for a
// thread that never started), but a team still ran 5-17% slower than one thread beside one busy process
// (512^3, 1024^3, 64x784 . 784x256, 256x1024 . 1024x1024 on 2 cores), where the back-off brings it back
// to the one-thread time: the partner's chunks, packed and run on a core shared with the other process,
// and the tail the caller waits on, cost more than they save. The caller can tell afterwards: it knows
// how long its own chunks took and how much of the work they were, so it estimates the one-thread time
// and compares. Thread counts never change results (the kernels are bitwise identical across them), so
// falling back is invisible except in time. A wrong guess on an idle machine costs at most one back-off
// period.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace fastnn {

class TeamBackoff {
 public:
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Whether a call starting now may use a team (false while backing off).
  bool team_allowed() const { return now_ns() >= solo_until_.load(std::memory_order_relaxed); }

  // After a team call that took call_ns, where one thread alone would have taken about solo_ns. A slow
  // team backs off for kFactor x call_ns (so the calls that probe cost at most ~1/kFactor of the time
  // spent), doubling with each failure in a row up to kMaxShift, at most kMaxNs.
  void report(int64_t call_ns, int64_t solo_ns) {
    if (call_ns <= solo_ns) {
      strikes_.store(0, std::memory_order_relaxed);
      return;
    }
    const int strikes = std::min(strikes_.fetch_add(1, std::memory_order_relaxed), kMaxShift);
    const int64_t period = std::min<int64_t>(kMaxNs, call_ns * (kFactor << strikes));
    solo_until_.store(now_ns() + period, std::memory_order_relaxed);
  }

 private:
  static constexpr int64_t kFactor = 64;
  static constexpr int kMaxShift = 3;
  static constexpr int64_t kMaxNs = 1000000000;  // re-probe at least once a second
  std::atomic<int64_t> solo_until_{0};
  std::atomic<int> strikes_{0};
};

// The GEMM's one back-off state, shared by every ISA level's translation unit (an inline function's
// static is one object program-wide).
inline TeamBackoff& gemm_team_backoff() {
  static TeamBackoff backoff;
  return backoff;
}

}  // namespace fastnn
