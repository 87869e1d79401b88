// Fused scaled dot-product attention, flash-style, forward and backward:
//   out = softmax(scale * q k^T + mask) v     per (batch, head), row by row over the keys
// q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv), out (B, H, Lq, Dv); lse (B, H, Lq) is the natural
// logsumexp of each row of scale * q k^T + mask, saved for the backward. The Lq x Lk matrix is never
// materialised: tiles of keys are visited with an online softmax (running max and sum).
//
// Every operand is a strided view whose rows are contiguous (element (b, h, r, c) at
// data[b * sb + h * sh + r * sr + c]); batch and head strides may be 0 (broadcast inputs).
// Causal masking is PyTorch's: key j takes part in row i when j <= i (top-left aligned for Lq != Lk).
// A boolean mask keeps the entries that are true (PyTorch's convention); an additive mask is added to
// the scaled scores. A row with no key taking part gets output 0 and lse -inf (and zero gradients),
// as PyTorch 2.x does.
#pragma once
#include <cstdint>

#include "fastnn/isa.h"

namespace fastnn {

enum class AttentionMask : int { none = 0, boolean = 1, additive = 2 };

template <typename T>
struct AttnView {
  T* data;
  int64_t sb, sh, sr;  // element strides of batch, head and row; columns are contiguous
  T* row(int64_t b, int64_t h, int64_t r) const { return data + b * sb + h * sh + r * sr; }
};

struct AttentionShape {
  int64_t batch, heads, lq, lk, d, dv;
  double scale;
  bool causal;
  AttentionMask mask_kind;
  // uint8 (bool) or the operands' float type; element (b, h, i, j) at mask + b*sb + h*sh + i*si + j*sj.
  const void* mask;
  int64_t mask_sb, mask_sh, mask_si, mask_sj;
};

template <typename T>
struct AttentionForwardArgs {
  AttentionShape s;
  AttnView<const T> q, k, v;
  AttnView<T> out;
  T* lse;  // (batch, heads, lq), contiguous
};

template <typename T>
struct AttentionBackwardArgs {
  AttentionShape s;
  AttnView<const T> q, k, v, out, dout;
  const T* lse;  // from the forward, contiguous
  AttnView<T> dq, dk, dv;
};

#define FASTNN_DECLARE_ATTENTION(ns)                                            \
  namespace ns {                                                                \
  void attention_forward_f32(const AttentionForwardArgs<float>& args);         \
  void attention_forward_f64(const AttentionForwardArgs<double>& args);        \
  void attention_backward_f32(const AttentionBackwardArgs<float>& args);       \
  void attention_backward_f64(const AttentionBackwardArgs<double>& args);      \
  void vector_exp_f32(const float* x, float* y, int64_t n, bool base2);         \
  void vector_exp_f64(const double* x, double* y, int64_t n, bool base2);       \
  }
FASTNN_DECLARE_ATTENTION(generic)
FASTNN_DECLARE_ATTENTION(avx2)
FASTNN_DECLARE_ATTENTION(avx512)
#undef FASTNN_DECLARE_ATTENTION

// Dispatch on `isa` (which the caller has checked with isa_require).
void attention_forward(Isa isa, const AttentionForwardArgs<float>& args);
void attention_forward(Isa isa, const AttentionForwardArgs<double>& args);
void attention_backward(Isa isa, const AttentionBackwardArgs<float>& args);
void attention_backward(Isa isa, const AttentionBackwardArgs<double>& args);
// The kernels' vectorised exp (base2: 2^x) over n values, exposed so tests can hold it against np.exp.
void vector_exp(Isa isa, const float* x, float* y, int64_t n, bool base2);
void vector_exp(Isa isa, const double* x, double* y, int64_t n, bool base2);

}  // namespace fastnn
