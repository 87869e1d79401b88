#include "fastnn/threading.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <pthread.h>

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

// ---- parallel_chunks' thread pool -------------------------------------------------------------------
//
// One job at a time. The job's claim counter and its epoch share one 64-bit word (epoch << 32 | next
// chunk): a pool thread claims chunk i of job e with a compare-exchange on that word, so a thread that
// was descheduled while job e ran and wakes after it (or during job e + 1) can never take a chunk of
// the wrong job or read a finished job's function, and nobody waits for it to check in. A finished job
// is closed (next = kClosed) before the next job's fields are written.
namespace {

constexpr uint64_t kClosed = 0xFFFFFFFFull;
thread_local bool t_in_chunk = false;  // inside a chunk: nested kernels run serially

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

struct Pool {
  std::mutex job_mutex;  // held by the caller of a job; a second caller meanwhile runs its chunks alone
  std::atomic<uint64_t> state{kClosed};
  std::atomic<int64_t> n_chunks{0};
  std::atomic<int64_t> done{0};
  std::atomic<detail::ChunkFn> fn{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<int> seats{0};  // pool threads still allowed to join the current job (nthreads - 1)
  std::atomic<int> sleepers{0};
  std::atomic<bool> caller_asleep{false};
  std::mutex done_mutex;
  std::condition_variable done_cv;
  std::mutex sleep_mutex;
  std::condition_variable wake;
  std::vector<std::thread> threads;  // detached: they live as long as the process

  static uint64_t epoch_of(uint64_t s) { return s >> 32; }

  // Claims the next chunk of job `epoch`; false once it has none left (or is not the current job).
  bool claim(uint64_t epoch, int64_t& chunk) {
    uint64_t s = state.load();
    for (;;) {
      if (epoch_of(s) != epoch) return false;
      const uint64_t i = s & kClosed;
      if (i >= static_cast<uint64_t>(n_chunks.load())) return false;
      if (state.compare_exchange_weak(s, s + 1)) {
        chunk = static_cast<int64_t>(i);
        return true;
      }
    }
  }

  void worker() {
    t_in_chunk = true;
    uint64_t seen = epoch_of(state.load());
    for (;;) {
      // Wait for a new job: spin briefly (back-to-back kernel calls find the thread awake), then
      // yield, then sleep until the next job's wake-up.
      uint64_t s = state.load();
      const auto t0 = std::chrono::steady_clock::now();
      for (int spins = 0; epoch_of(s) == seen; ++spins) {
        if (spins < 2000) {
          cpu_relax();
        } else if (std::chrono::steady_clock::now() - t0 < std::chrono::microseconds(200)) {
          std::this_thread::yield();
        } else {
          sleepers.fetch_add(1);
          {
            std::unique_lock<std::mutex> lock(sleep_mutex);
            wake.wait(lock, [&] { return epoch_of(state.load()) != seen; });
          }
          sleepers.fetch_sub(1);
        }
        s = state.load();
      }
      seen = epoch_of(s);
      // Claim a seat first: the job asked for nthreads - 1 helpers, not the whole pool. A stale seat
      // taken from a later job only means that job runs with one helper fewer.
      if (seats.fetch_sub(1) > 0) {
        // f and ctx are those of job `seen` whenever a claim of job `seen` succeeds (see claim()).
        int64_t i;
        while (claim(seen, i)) {
          fn.load()(ctx.load(), i);
          finish_chunk();
        }
      }
    }
  }

  // A pool thread's chunk is done; the last one wakes the caller if it went to sleep waiting for it.
  void finish_chunk() {
    if (done.fetch_add(1) + 1 == n_chunks.load() && caller_asleep.load()) {
      { std::lock_guard<std::mutex> g(done_mutex); }
      done_cv.notify_one();
    }
  }

  // The caller, once every chunk is claimed, waits for those still running on pool threads: it spins
  // for about two of its own chunks' time (on a quiet machine the others end within one), then sleeps.
  // Sleeping, not spinning or yielding, is what makes a busy machine cheap: a pool thread that another
  // process pushed off its core mid-chunk sits runnable in that core's queue, and only an idle core
  // (this one, once the caller sleeps) makes the scheduler pull it over to finish; a caller that kept
  // its core busy waited out the other process's whole time slice (the ~4 ms steps of the old times).
  void wait_done(int64_t n, std::chrono::nanoseconds spin) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int spins = 0; done.load() < n; ++spins) {
      if (spins < 256 || std::chrono::steady_clock::now() - t0 < spin) {
        cpu_relax();
        continue;
      }
      caller_asleep.store(true);
      {
        std::unique_lock<std::mutex> lock(done_mutex);
        // The timeout only guards against a lost wake-up bug; the wake-up itself comes from finish_chunk.
        while (done.load() < n) done_cv.wait_for(lock, std::chrono::milliseconds(50));
      }
      caller_asleep.store(false);
    }
  }

  void ensure_threads(int helpers) {
    while (static_cast<int>(threads.size()) < helpers) {
      threads.emplace_back([this] { worker(); });
      threads.back().detach();
    }
  }

  void run(int64_t n, int nthreads, detail::ChunkFn f, void* c) {
    std::unique_lock<std::mutex> lock(job_mutex, std::try_to_lock);
    if (!lock.owns_lock()) {  // another thread's job is running: share nothing, run alone
      for (int64_t i = 0; i < n; ++i) f(c, i);
      return;
    }
    const int helpers = static_cast<int>(std::min<int64_t>(nthreads - 1, n - 1));
    ensure_threads(helpers);
    const uint64_t epoch = epoch_of(state.load()) + 1;
    n_chunks.store(n);
    fn.store(f);
    ctx.store(c);
    done.store(0);
    seats.store(helpers);
    state.store(epoch << 32);  // publish: from here pool threads may claim
    if (sleepers.load() > 0) {
      { std::lock_guard<std::mutex> g(sleep_mutex); }
      wake.notify_all();
    }
    t_in_chunk = true;
    int64_t i, mine = 0;
    const auto t0 = std::chrono::steady_clock::now();
    while (claim(epoch, i)) {
      f(c, i);
      done.fetch_add(1);
      ++mine;
    }
    t_in_chunk = false;
    if (done.load() < n) {
      // Spin for two of the caller's own chunks (or 30 us at least, 2 ms at most) before sleeping.
      const auto per_chunk = (std::chrono::steady_clock::now() - t0) / std::max<int64_t>(mine, 1);
      wait_done(n, std::clamp<std::chrono::nanoseconds>(2 * per_chunk, std::chrono::microseconds(30),
                                                         std::chrono::milliseconds(2)));
    }
    state.store(epoch << 32 | kClosed);  // close the job before its fields may be reused
  }
};

Pool* g_pool = nullptr;
std::once_flag g_pool_once;

// A forked child has none of the parent's pool threads (and maybe a job mutex some parent thread
// held): it starts a new pool; the old one is leaked, as its threads' objects cannot be destroyed.
void reset_pool_in_child() { g_pool = new Pool; }

Pool& pool() {
  std::call_once(g_pool_once, [] {
    g_pool = new Pool;
    pthread_atfork(nullptr, nullptr, reset_pool_in_child);
  });
  return *g_pool;
}

}  // namespace

namespace detail {
void run_chunks(int64_t n_chunks, int nthreads, ChunkFn fn, void* ctx) {
  if (t_in_chunk || nthreads <= 1 || n_chunks <= 1 || n_chunks >= static_cast<int64_t>(kClosed)) {
    for (int64_t i = 0; i < n_chunks; ++i) fn(ctx, i);
    return;
  }
  pool().run(n_chunks, nthreads, fn, ctx);
}
}  // namespace detail

int get_num_threads() { return count().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1 || n > max_num_threads()) {
    throw std::invalid_argument("set_num_threads: expected a thread count in [1, " + std::to_string(max_num_threads()) +
                                "], got " + std::to_string(n));
  }
  count().store(n, std::memory_order_relaxed);
}

int threads_for(double work) {
  if (t_in_chunk) return 1;
  // Below ~1 MFLOP per thread, a team wake-up (a few microseconds) costs more than it saves.
  constexpr double kWorkPerThread = 1.0e6;
  const int max_threads = get_num_threads();
  const double useful = work / kWorkPerThread;  // compared as a double: a huge work must not overflow an int
  return !(useful >= 1.0) ? 1 : useful >= max_threads ? max_threads : static_cast<int>(useful);
}

}  // namespace fastnn
