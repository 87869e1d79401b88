// The emulator's scheduler: blocks over OpenMP threads, a fiber per CUDA thread, barriers and warp
// rendezvous checked as the hardware requires. See emulator.h for the model.
#include "emulator.h"

#include <omp.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "controls.h"
#include "fiber_sanitizer.h"

namespace fastnn::emu {
namespace {

// 128 KiB per CUDA thread: kernels keep register tiles (e.g. 8x8 accumulators, a head-dim row) on it. ASan
// surrounds every local with redzones and keeps locals it would otherwise hold in registers on the stack, so a
// sanitized build gives each fiber four times as much.
#ifdef FASTNN_EMU_ASAN
constexpr std::size_t kStackBytes = 512 * 1024;
#else
constexpr std::size_t kStackBytes = 128 * 1024;
#endif
constexpr std::size_t kSharedAlign = 128;

enum class State { ready, barrier, warp, done };

struct Fiber {
  ucontext_t ctx;
  char* stack = nullptr;
  void* asan_fake_stack = nullptr;  // this fiber's ASan fake stack while it is switched out
  uint3 tid{0, 0, 0};
  int linear = 0;
  State state = State::ready;
  const char* file = nullptr;  // barrier call site
  int line = 0;
  int pred = 0;
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  std::uint64_t bits = 0, result = 0;
  int src = 0;
};

struct SharedBuffer {
  const void* key;
  std::unique_ptr<unsigned char[]> raw;
  unsigned char* data;
};

struct Block {
  const char* kernel = "";
  dim3 grid, block;
  uint3 index{0, 0, 0};
  std::vector<Fiber>* fibers = nullptr;
  ucontext_t sched;
  StackRange sched_stack;            // the OS thread's stack, which the scheduler runs on (for ASan)
  void* sched_asan_fake_stack = nullptr;
  const std::function<void()>* body = nullptr;
  std::vector<SharedBuffer> shared;
  SharedBuffer dyn{nullptr, nullptr, nullptr};
  std::string error;
  int barrier_count = 0;
  std::int64_t barriers = 0, warp_ops = 0;
};

thread_local Block* t_block = nullptr;
thread_local Fiber* t_fiber = nullptr;

std::atomic<int> g_schedule{0};  // 0 forward, 1 reverse, 2 random
std::atomic<std::uint64_t> g_seed{0};
std::mutex g_plant_mutex;
std::string g_plant_file;
std::atomic<int> g_plant_line{0};
std::atomic<std::int64_t> g_plant_hits{0};
std::mutex g_stats_mutex;
Stats g_stats;

SharedBuffer poisoned(const void* key, std::size_t bytes) {
  SharedBuffer s{key, std::unique_ptr<unsigned char[]>(new unsigned char[bytes + kSharedAlign]), nullptr};
  auto addr = reinterpret_cast<std::uintptr_t>(s.raw.get());
  s.data = reinterpret_cast<unsigned char*>((addr + kSharedAlign - 1) & ~(kSharedAlign - 1));
  // All-ones bytes read as NaN in float and double and as -1 in integers: uninitialised reads show.
  std::memset(s.data, 0xff, bytes);
  return s;
}

// Stops the block: the failing fiber returns to the scheduler and is never resumed.
[[noreturn]] void fail(const std::string& what) {
  Block& b = *t_block;
  if (b.error.empty()) b.error = what;
  before_switch(nullptr, b.sched_stack);
  swapcontext(&t_fiber->ctx, &b.sched);
  __builtin_unreachable();
}

std::string where(const char* file, int line) {
  std::string f = file ? file : "?";
  const auto slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(line);
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string tid_text(const Fiber& f) {
  return "(" + std::to_string(f.tid.x) + "," + std::to_string(f.tid.y) + "," + std::to_string(f.tid.z) + ")";
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::sync: return "__syncwarp";
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::ballot: return "__ballot_sync";
  }
  return "warp op";
}

void fiber_entry() {
  Block& b = *t_block;
  after_switch(nullptr, &b.sched_stack);
  try {
    (*b.body)();
  } catch (const std::exception& e) {
    if (b.error.empty()) b.error = std::string("a thread threw: ") + e.what();
  } catch (...) {
    if (b.error.empty()) b.error = "a thread threw a non-standard exception";
  }
  t_fiber->state = State::done;
  before_switch(nullptr, b.sched_stack);
  // returning resumes uc_link, the scheduler
}

std::vector<char*>& stacks_of_this_thread(std::size_t n) {
  thread_local std::vector<std::unique_ptr<char[]>> owned;
  thread_local std::vector<char*> stacks;
  while (stacks.size() < n) {
    owned.emplace_back(new char[kStackBytes]);
    stacks.push_back(owned.back().get());
  }
  return stacks;
}

// Nothing is ready: the block is finished, a barrier is complete, or the threads are stuck (an error).
bool settle(Block& b) {
  auto& fibers = *b.fibers;
  int done = 0, at_barrier = 0;
  const Fiber* warp_waiter = nullptr;
  const Fiber* first_at_barrier = nullptr;
  for (const Fiber& f : fibers) {
    if (f.state == State::done) ++done;
    if (f.state == State::barrier) {
      ++at_barrier;
      if (!first_at_barrier) first_at_barrier = &f;
    }
    if (f.state == State::warp && !warp_waiter) warp_waiter = &f;
  }
  if (done == static_cast<int>(fibers.size())) return false;
  if (warp_waiter) {
    const Fiber& w = *warp_waiter;
    const int warp0 = (w.linear / 32) * 32;
    std::string missing;
    for (int lane = 0; lane < 32; ++lane) {
      if (!((w.mask >> lane) & 1u)) continue;
      const Fiber& o = fibers[warp0 + lane];
      if (o.state == State::warp) continue;
      missing += " lane " + std::to_string(lane) +
                 (o.state == State::done ? " exited;" : " waits at __syncthreads (" + where(o.file, o.line) + ");");
    }
    b.error = std::string(op_name(w.op)) + " with mask " + hex(w.mask) + " in warp " + std::to_string(w.linear / 32) + " can never complete:" + missing;
    return false;
  }
  // Every live thread waits at a barrier.
  if (done > 0) {
    b.error = std::to_string(done) + " thread(s) exited while " + std::to_string(at_barrier) +
              " wait at __syncthreads (" + where(first_at_barrier->file, first_at_barrier->line) +
              "): every thread of the block must reach each barrier";
    return false;
  }
  int count = 0;
  for (const Fiber& f : fibers) {
    if (f.line != first_at_barrier->line || std::strcmp(f.file, first_at_barrier->file) != 0) {
      b.error = "divergent __syncthreads: thread " + tid_text(*first_at_barrier) + " waits at " +
                where(first_at_barrier->file, first_at_barrier->line) + ", thread " + tid_text(f) + " at " +
                where(f.file, f.line);
      return false;
    }
    count += f.pred != 0;
  }
  b.barrier_count = count;
  ++b.barriers;
  for (Fiber& f : fibers) f.state = State::ready;
  return true;
}

void run_block(Block& b, std::uint64_t linear_block) {
  const int nthreads = static_cast<int>(b.block.x * b.block.y * b.block.z);
  thread_local std::vector<Fiber> fibers;
  fibers.assign(nthreads, Fiber{});
  b.fibers = &fibers;
  auto& stacks = stacks_of_this_thread(nthreads);
  for (int i = 0; i < nthreads; ++i) {
    Fiber& f = fibers[i];
    f.linear = i;
    f.tid = uint3{i % b.block.x, (i / b.block.x) % b.block.y, i / (b.block.x * b.block.y)};
    f.stack = stacks[i];
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = stacks[i];
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = &b.sched;
    makecontext(&f.ctx, fiber_entry, 0);
  }
  const int schedule = g_schedule.load();
  std::mt19937_64 rng(g_seed.load() * 0x9e3779b97f4a7c15ull + linear_block);
  std::vector<int> order(nthreads);
  std::iota(order.begin(), order.end(), 0);
  if (schedule == 1) std::reverse(order.begin(), order.end());
  t_block = &b;
  for (;;) {
    if (schedule == 2) std::shuffle(order.begin(), order.end(), rng);
    bool ran = false;
    for (int i : order) {
      Fiber& f = fibers[i];
      if (f.state != State::ready) continue;
      t_fiber = &f;
      before_switch(&b.sched_asan_fake_stack, StackRange{f.stack, kStackBytes});
      swapcontext(&b.sched, &f.ctx);
      after_switch(b.sched_asan_fake_stack, nullptr);
      ran = true;
      if (!b.error.empty()) break;
    }
    if (!b.error.empty()) break;
    if (!ran && !settle(b)) break;
  }
  // Fibers of a failed block are abandoned mid-call; the next block reuses their stacks.
  for (Fiber& f : fibers) {
    if (f.state != State::done) forget_stack_frames(f.stack, kStackBytes);
  }
  t_block = nullptr;
  t_fiber = nullptr;
}

}  // namespace

const uint3& thread_idx() { return t_fiber->tid; }
const uint3& block_idx() { return t_block->index; }
const dim3& block_dim() { return t_block->block; }
const dim3& grid_dim() { return t_block->grid; }

static bool planted_here(const char* file, int line) {
  if (line != g_plant_line.load(std::memory_order_relaxed)) return false;
  std::lock_guard<std::mutex> lock(g_plant_mutex);
  const std::string f(file);
  if (g_plant_file.empty() || f.size() < g_plant_file.size() ||
      f.compare(f.size() - g_plant_file.size(), g_plant_file.size(), g_plant_file) != 0) {
    return false;
  }
  g_plant_hits.fetch_add(1);
  return true;
}

int syncthreads_count(int predicate, const char* file, int line) {
  if (planted_here(file, line)) return 0;
  Fiber& f = *t_fiber;
  f.state = State::barrier;
  f.file = file;
  f.line = line;
  f.pred = predicate;
  before_switch(&f.asan_fake_stack, t_block->sched_stack);
  swapcontext(&f.ctx, &t_block->sched);
  after_switch(f.asan_fake_stack, &t_block->sched_stack);
  return t_block->barrier_count;
}

void syncthreads(const char* file, int line) { syncthreads_count(1, file, line); }

std::uint64_t warp_op(WarpOp kind, unsigned mask, std::uint64_t bits, int arg, int width) {
  Block& b = *t_block;
  Fiber& f = *t_fiber;
  ++b.warp_ops;
  auto& fibers = *b.fibers;
  const int lane = f.linear % 32, warp0 = f.linear - lane;
  const int lanes_here = std::min(32, static_cast<int>(fibers.size()) - warp0);
  if (!((mask >> lane) & 1u)) fail(std::string(op_name(kind)) + ": the mask does not name the calling lane " +
                                   std::to_string(lane));
  if (lanes_here < 32 && (mask >> lanes_here) != 0) {
    fail(std::string(op_name(kind)) + ": the mask names lanes beyond the block's last thread");
  }
  if (width < 1 || width > 32 || (width & (width - 1)) != 0) {
    fail(std::string(op_name(kind)) + ": width " + std::to_string(width) + " is not a power of two up to 32");
  }
  const int base = lane & ~(width - 1);
  int src = lane;
  switch (kind) {
    case WarpOp::shfl: src = base + (arg & (width - 1)); break;
    case WarpOp::shfl_xor: {
      const int s = lane ^ arg;
      src = (s >= base && s < base + width) ? s : lane;
      break;
    }
    case WarpOp::shfl_up: src = (lane - base) >= arg ? lane - arg : lane; break;
    case WarpOp::shfl_down: src = (lane - base) + arg < width ? lane + arg : lane; break;
    default: break;
  }
  if (src < 0 || src >= 32 || !((mask >> src) & 1u)) {
    fail(std::string(op_name(kind)) + ": lane " + std::to_string(lane) + " reads lane " + std::to_string(src) +
         ", which the mask does not name");
  }
  f.op = kind;
  f.mask = mask;
  f.bits = bits;
  f.src = src;
  f.state = State::warp;
  bool complete = true;
  for (int l = 0; l < 32; ++l) {
    if (!((mask >> l) & 1u)) continue;
    Fiber& o = fibers[warp0 + l];
    if (o.state != State::warp) {
      complete = false;
      continue;
    }
    if (o.mask != mask || o.op != kind) {
      fail(std::string(op_name(kind)) + " with mask " + hex(mask) + " at lane " + std::to_string(lane) + " meets " +
           op_name(o.op) + " with mask " + hex(o.mask) + " at lane " + std::to_string(l));
    }
  }
  if (complete) {
    std::uint64_t ballot = 0;
    for (int l = 0; l < 32; ++l) {
      if ((mask >> l) & 1u) ballot |= (fibers[warp0 + l].bits != 0 ? 1ull : 0ull) << l;
    }
    for (int l = 0; l < 32; ++l) {
      if (!((mask >> l) & 1u)) continue;
      Fiber& o = fibers[warp0 + l];
      o.result = kind == WarpOp::ballot ? ballot : fibers[warp0 + o.src].bits;
      o.state = State::ready;
    }
    return f.result;
  }
  before_switch(&f.asan_fake_stack, b.sched_stack);
  swapcontext(&f.ctx, &b.sched);
  after_switch(f.asan_fake_stack, &b.sched_stack);
  return f.result;
}

void* block_shared(const void* key, std::size_t bytes) {
  Block& b = *t_block;
  for (auto& s : b.shared) {
    if (s.key == key) return s.data;
  }
  b.shared.push_back(poisoned(key, bytes));
  return b.shared.back().data;
}

void* dynamic_shared() { return t_block->dyn.data; }

void launch(dim3 grid, dim3 block, std::size_t smem, const char* kernel, const std::function<void()>& body) {
  const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u) {
    throw std::runtime_error(std::string(kernel) + ": invalid launch configuration (grid " + std::to_string(grid.x) +
                             "x" + std::to_string(grid.y) + "x" + std::to_string(grid.z) + ", block " +
                             std::to_string(block.x) + "x" + std::to_string(block.y) + "x" + std::to_string(block.z) +
                             ")");
  }
  if (smem > 227 * 1024) {
    throw std::runtime_error(std::string(kernel) + ": " + std::to_string(smem) +
                             " bytes of dynamic shared memory exceed the 227 KiB a block can have");
  }
  const std::int64_t nblocks = std::int64_t(grid.x) * grid.y * grid.z;
  std::atomic<bool> failed{false};
  std::string first_error;
  std::mutex error_mutex;
  std::int64_t barriers = 0, warp_ops = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : barriers, warp_ops)
  for (std::int64_t i = 0; i < nblocks; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    Block b;
    b.kernel = kernel;
    b.grid = grid;
    b.block = block;
    b.index = uint3{static_cast<unsigned>(i % grid.x), static_cast<unsigned>((i / grid.x) % grid.y),
                    static_cast<unsigned>(i / (std::int64_t(grid.x) * grid.y))};
    b.body = &body;
    if (smem > 0) b.dyn = poisoned(nullptr, smem);
    run_block(b, static_cast<std::uint64_t>(i));
    barriers += b.barriers;
    warp_ops += b.warp_ops;
    if (!b.error.empty()) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!failed.exchange(true)) {
        first_error = std::string(kernel) + ": block (" + std::to_string(b.index.x) + "," + std::to_string(b.index.y) +
                      "," + std::to_string(b.index.z) + "): " + b.error;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(g_stats_mutex);
    g_stats.launches += 1;
    g_stats.blocks += nblocks;
    g_stats.threads += nblocks * static_cast<std::int64_t>(threads);
    g_stats.barriers += barriers;
    g_stats.warp_ops += warp_ops;
  }
  if (failed.load()) throw std::runtime_error("fastnn CUDA emulator: " + first_error);
}

void set_schedule(const std::string& name, std::uint64_t seed) {
  int s;
  if (name == "forward") s = 0;
  else if (name == "reverse") s = 1;
  else if (name == "random") s = 2;
  else throw std::invalid_argument("set_schedule: schedule must be 'forward', 'reverse' or 'random', not '" + name + "'");
  g_schedule.store(s);
  g_seed.store(seed);
}

std::string schedule() {
  static const char* names[] = {"forward", "reverse", "random"};
  return names[g_schedule.load()];
}

void plant_missing_barrier(const std::string& file_suffix, int line) {
  std::lock_guard<std::mutex> lock(g_plant_mutex);
  g_plant_file = file_suffix;
  g_plant_line.store(file_suffix.empty() ? 0 : line);
  g_plant_hits.store(0);
}

std::int64_t planted_barrier_hits() { return g_plant_hits.load(); }

Stats stats() {
  std::lock_guard<std::mutex> lock(g_stats_mutex);
  return g_stats;
}

}  // namespace fastnn::emu
