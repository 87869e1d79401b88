// Deliberately faulty: .ci/sanitize loads this library (built only with FASTNN_SANITIZE, with the same flags as
// the native modules) into the same preloaded Python the tests run in, and expects each fault to kill it with a
// sanitizer report. If the flags, the runtime preload or the options ever stop catching these, the run fails.
#include <climits>
#include <cstdlib>

extern "C" {

// Reads one element past a heap array: ASan's heap-buffer-overflow.
int canary_heap_overflow(int n) {
  int* a = static_cast<int*>(std::malloc(sizeof(int) * static_cast<unsigned>(n)));
  for (int i = 0; i < n; ++i) a[i] = i;
  volatile int past = a[n];
  std::free(a);
  return past;
}

// INT_MAX + 1: UBSan's signed integer overflow, which must abort rather than be reported and passed over.
int canary_signed_overflow(int x) {
  volatile int big = INT_MAX;
  return big + x;
}

}
