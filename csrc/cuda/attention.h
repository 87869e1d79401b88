// The CUDA attention family (flash attention forward and backward, float32): declarations shared by
// attention.cu and its binding.
#pragma once

#include <cstdint>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

// A strided 4-D (batch, heads, rows, cols) float32 view; strides in elements, 0 for a broadcast dim.
// `vec`: rows start 16-byte aligned and the cols are contiguous, so 4 consecutive cols load as one float4.
struct AttnTensor {
  const float* ptr;
  std::int64_t s0, s1, s2, s3;
  bool vec;
};

// The mask, (batch, heads, Lq, Lk) with any strides: none, bool (keep where true) or float (added to the scores).
enum class AttnMaskKind : int { none = 0, boolean = 1, additive = 2 };
struct AttnMask {
  const void* ptr;
  AttnMaskKind kind;
  std::int64_t s0, s1, s2, s3;
};

struct AttentionShape {
  int batch, heads, lq, lk, d, dv;  // d, dv <= 128
  bool causal;                       // key j for query i when j <= i (top-left aligned)
  float scale;
};

// Which kernels (forward, or the backward's): automatic (the TF32 tensor-core kernel on an sm_80+ GPU when allow_tf32 and both
// head dims are multiples of 8, else SIMT; always SIMT in the emulator), simt (exact fp32), or mma (the
// tensor-core kernel: needs allow_tf32 and head dims that are multiples of 8; in the emulator its emulation).
enum class AttnKernel : int { automatic = 0, simt = 1, mma = 2 };

struct AttentionForwardArgs {
  AttnTensor q, k, v;
  AttnMask mask;
  float* out;  // (B, H, Lq, Dv), C-contiguous
  float* lse;  // (B, H, Lq), C-contiguous; -inf for a row no key takes part in (its out is 0)
  AttentionShape shape;
  bool allow_tf32 = false;  // the products may round their inputs to TF32 (torch.backends.cuda.matmul.allow_tf32)
  AttnKernel kernel = AttnKernel::automatic;
};

struct AttentionBackwardArgs {
  AttnTensor q, k, v, grad_out, out;
  AttnMask mask;
  const float* lse;  // (B, H, Lq), C-contiguous, from the forward
  float* delta;      // scratch (B, H, Lq): rowsum(grad_out * out)
  float* dq;         // (B, H, Lq, D), C-contiguous
  float* dk;         // (B, H, Lk, D)
  float* dv;         // (B, H, Lk, Dv)
  AttentionShape shape;
  bool allow_tf32 = false;  // as in AttentionForwardArgs
  AttnKernel kernel = AttnKernel::automatic;
};

constexpr int kAttentionMaxHeadDim = 128;

// out = softmax(q k^T * scale + mask) v and lse = logsumexp of those scores, per (batch, head) row.
void attention_forward_f32(const AttentionForwardArgs& a, int device, cudaStream_t stream);
// The forward kernel attention_forward_f32 would run: "none" (nothing to launch), "simt" or "mma_tf32".
const char* attention_forward_kernel_name(const AttentionForwardArgs& a, int device);
// dq, dk, dv of attention_forward_f32 from its out and lse; deterministic (no atomics).
void attention_backward_f32(const AttentionBackwardArgs& a, int device, cudaStream_t stream);

}  // namespace fastnn::FASTNN_CUDA_NS
