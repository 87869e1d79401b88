// FASTNN_DISPATCH(fn, args...): calls the per-ISA `fn` chosen by a variable `isa` in scope. For the
// <family>_dispatch.cpp files, which each map one public entry point per kernel to its three levels.
#pragma once
#include "fastnn/isa.h"

#define FASTNN_DISPATCH(fn, ...)                      \
  switch (isa) {                                      \
    case Isa::avx512: return avx512::fn(__VA_ARGS__); \
    case Isa::avx2: return avx2::fn(__VA_ARGS__);     \
    default: return generic::fn(__VA_ARGS__);         \
  }
