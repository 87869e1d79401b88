// Tells AddressSanitizer about the emulator's stack switches (swapcontext between a block's scheduler and its
// fibers). Without this ASan believes every access on a fiber stack belongs to the OS thread's stack, and an
// exception thrown on a fiber (unwinding, __asan_handle_no_return) unpoisons the wrong range or aborts. In a build
// without ASan every function here is empty, so the release emulator is unchanged.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define FASTNN_EMU_ASAN 1
#endif

namespace fastnn::emu {

// One stack's bounds, as ASan's fiber API takes and reports them.
struct StackRange {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

// Call right before swapcontext to a context that runs on `to`. `save` keeps the leaving context's fake stack
// (for detect_stack_use_after_return) until it is resumed; nullptr says the leaving context never resumes, so
// ASan may free its fake stack.
inline void before_switch(void** save, const StackRange& to) {
#ifdef FASTNN_EMU_ASAN
  __sanitizer_start_switch_fiber(save, to.bottom, to.size);
#else
  (void)save;
  (void)to;
#endif
}

// Call first thing after a swapcontext returns (or when a fiber starts): `saved` is what before_switch stored for
// this context (nullptr for a fresh fiber); `from`, when not nullptr, receives the stack we came from.
inline void after_switch(void* saved, StackRange* from) {
#ifdef FASTNN_EMU_ASAN
  const void* bottom = nullptr;
  std::size_t size = 0;
  __sanitizer_finish_switch_fiber(saved, &bottom, &size);
  if (from) *from = StackRange{bottom, size};
#else
  (void)saved;
  (void)from;
#endif
}

// A fiber stack is reused by the next block. A fiber abandoned mid-call (the block failed) never ran the
// epilogues that clear its frames' redzones, so the next fiber on that stack would trip over stale poison.
inline void forget_stack_frames(void* stack, std::size_t bytes) {
#ifdef FASTNN_EMU_ASAN
  ASAN_UNPOISON_MEMORY_REGION(stack, bytes);
#else
  (void)stack;
  (void)bytes;
#endif
}

}  // namespace fastnn::emu
