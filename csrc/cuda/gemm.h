// The CUDA GEMM family (the twin of csrc/cpu/gemm*.cpp): declarations shared by gemm.cu and its binding.
//
//   C[z] = act(alpha * op(A[z]) @ op(B[z]) + beta * C[z] + bias)    for z in [0, batch)
//
// Operands are row-major matrices with a row stride (ld) and unit column stride, or transposed (stored as
// the transpose, so x @ W.T and g.T @ x read W and g in place). A batch stride of 0 broadcasts an operand.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

enum class GemmDtype : int { f32 = 0, bf16 = 1 };  // bf16: uint16 arrays holding bfloat16 bits
enum class GemmActivation : int { none = 0, relu = 1, gelu = 2 };  // gelu: the erf form
// automatic: the launcher chooses (tensor cores on an sm_80+ GPU for bf16 or allow_tf32, else SIMT; always
// SIMT in the emulator); simt_large / simt_small: the SIMT kernel with a 128x128 / 64x64 tile; mma: the
// tensor-core kernel (TF32 for fp32 inputs, which needs allow_tf32), in the emulator its emulation; wgmma:
// the Hopper kernel for bf16 inputs (sm_90a builds on an sm_90 GPU; opt-in until validated on one).
enum class GemmKernel : int { automatic = 0, simt_large = 1, simt_small = 2, mma = 3, wgmma = 4 };

struct GemmOperand {
  const void* ptr = nullptr;
  std::int64_t ld = 0;            // elements between stored rows
  std::int64_t batch_stride = 0;  // elements between batch entries; 0 broadcasts
  bool trans = false;             // stored as the transpose of op(X): op(A) (m, k) stored as (k, m)
};

struct GemmArgs {
  GemmOperand a, b;  // op(A): (m, k), op(B): (k, n)
  void* c = nullptr;  // (m, n), row stride ldc, unit column stride
  std::int64_t ldc = 0, batch_stride_c = 0;
  std::int64_t m = 0, n = 0, k = 0, batch = 1;
  GemmDtype in_dtype = GemmDtype::f32, out_dtype = GemmDtype::f32;
  float alpha = 1.f, beta = 0.f;  // beta == 0: C is not read (a NaN there does not propagate), as in BLAS
  const float* bias = nullptr;    // (n,) float32 added per column, or nullptr
  GemmActivation act = GemmActivation::none;
  bool allow_tf32 = false;  // fp32 inputs: may run on TF32 tensor cores (sm_80+, never in the emulator)
  GemmKernel kernel = GemmKernel::automatic;
  // Split-K scratch from the caller: gemm_workspace_size() float32 elements, or nullptr (no split).
  float* workspace = nullptr;
  std::int64_t workspace_elems = 0;
  std::int64_t split = 1;  // set by gemm(): k-slices computed in parallel (the SIMT kernel only)
};

// The kernel gemm() runs for these arguments on `device`: "simt_128x128", "simt_64x64", "mma_tf32",
// "mma_bf16", "wgmma_bf16", or "none" (nothing to compute: m, n or batch is 0).
const char* gemm_kernel_name(const GemmArgs& a, int device);

// Split-K for the SIMT kernel when the output tiles alone cannot fill the GPU (a weight gradient: small
// m x n, large k): the float32 workspace gemm() then needs (batch * split * m * n elements: each k-slice's
// partial products, summed in a fixed order by a second kernel, so results stay deterministic); 0 when it
// would not split. gemm() splits only when a.workspace holds at least this much.
std::int64_t gemm_workspace_size(const GemmArgs& a, int device);

// Launches the GEMM on `stream`; `op` names the calling op in launch errors. Checks nothing the binding
// checks (shapes, strides, dtypes).
void gemm(const GemmArgs& a, int device, cudaStream_t stream, const char* op);

}  // namespace fastnn::FASTNN_CUDA_NS
