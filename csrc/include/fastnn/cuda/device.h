// The one header a CUDA kernel source includes: nvcc sees the CUDA runtime, g++ building the emulator
// (FASTNN_CUDA_EMULATOR) sees csrc/cuda/emu/emulator.h. The macros below are the only places
// where kernel code differs from plain CUDA C++; both definitions must keep the same meaning.
#pragma once

#if defined(FASTNN_CUDA_EMULATOR)
#include "../../../cuda/emu/emulator.h"
#else
#include <cuda_runtime.h>
// Block-shared storage: FASTNN_SHARED(float, tile, [2][8][128]);
#define FASTNN_SHARED(T, name, dims) __shared__ T name dims
// The launch's dynamic shared memory as a T*: FASTNN_DYNAMIC_SHARED(float, smem);
#define FASTNN_DYNAMIC_SHARED(T, name)                  \
  extern __shared__ __align__(16) unsigned char name##_raw[]; \
  T* name = reinterpret_cast<T*>(name##_raw)
// Full unrolling of a loop with a compile-time trip count (the register tiles' loops).
#define FASTNN_UNROLL _Pragma("unroll")
// FASTNN_LAUNCH(grid, block, smem_bytes, stream, kernel<...>)(args...);
#define FASTNN_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<(grid), (block), (smem), (stream)>>>
#endif

#ifndef FASTNN_CUDA_NS
#error "FASTNN_CUDA_NS (cuda for the nvcc build, cuda_emu for the emulator) must be defined by the build"
#endif
