// Fused optimizer updates (Adam, AdamW, SGD with momentum): one pass per element over a parameter and
// its state, with PyTorch's single-tensor formulas in PyTorch's operation order (torch/optim/adam.py
// and sgd.py), so float32 results follow torch's step by step. Scalars that torch computes in Python
// (bias corrections, step size) are computed here in double and rounded to T where torch rounds them.
//
// Multi-tensor: one call takes every tensor of a parameter group, cuts them into fixed-size chunks and
// updates all chunks in one OpenMP parallel region. The update is element-wise, so results do not
// depend on the split or the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "fastnn/isa.h"

namespace fastnn {

enum class WeightDecay : int { none = 0, l2 = 1, decoupled = 2 };

// Adam / AdamW coefficients shared by every tensor of a call, already rounded to T as torch rounds them.
template <typename T>
struct AdamCoeffs {
  T lerp_weight;      // 1 - beta1: exp_avg.lerp_(grad, 1 - beta1)
  bool lerp_small;    // |lerp_weight| < 0.5 picks torch's lerp formula
  T beta2;            // exp_avg_sq.mul_(beta2)
  T one_minus_beta2;  // .addcmul_(grad, grad, value=1 - beta2)
  T eps;
  T weight_decay;     // l2: grad += weight_decay * param
  T decay_factor;     // decoupled: param *= 1 - lr * weight_decay
  WeightDecay decay;
  bool amsgrad;
  bool maximize;
};

// Per tensor: what depends on its step count.
template <typename T>
struct AdamStepCoeffs {
  T neg_step_size;          // -(lr / (1 - beta1^step))
  T bias_correction2_sqrt;  // (1 - beta2^step) ** 0.5
};

// One contiguous piece of one tensor (max_exp_avg_sq is null unless amsgrad).
template <typename T>
struct AdamChunk {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;
  int64_t n;
  AdamStepCoeffs<T> step;
};

template <typename T>
struct SgdCoeffs {
  T neg_lr;                 // param.add_(grad, alpha=-lr)
  T momentum;
  T one_minus_dampening;    // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
  T weight_decay;
  bool use_weight_decay;    // torch skips the decay term when weight_decay == 0 (inf * 0 would be NaN)
  bool use_momentum;
  bool nesterov;
  bool maximize;
};

// One contiguous piece of one tensor. momentum_buffer is null without momentum; fresh_buffer says
// the buffer has no history yet (torch's first step: buf = grad, no dampening).
template <typename T>
struct SgdChunk {
  T* param;
  const T* grad;
  T* momentum_buffer;
  int64_t n;
  bool fresh_buffer;
};

// Per-ISA span kernels: update one chunk on the calling thread.
#define FASTNN_DECLARE_OPTIM(ns)                                                     \
  namespace ns {                                                                     \
  void adam_chunk_f32(const AdamCoeffs<float>& c, const AdamChunk<float>& chunk);    \
  void adam_chunk_f64(const AdamCoeffs<double>& c, const AdamChunk<double>& chunk);  \
  void sgd_chunk_f32(const SgdCoeffs<float>& c, const SgdChunk<float>& chunk);       \
  void sgd_chunk_f64(const SgdCoeffs<double>& c, const SgdChunk<double>& chunk);     \
  }
FASTNN_DECLARE_OPTIM(generic)
FASTNN_DECLARE_OPTIM(avx2)
FASTNN_DECLARE_OPTIM(avx512)
#undef FASTNN_DECLARE_OPTIM

// Hyper-parameters as torch.optim takes them (Python floats, i.e. double).
struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};

// One tensor of a group for the multi-tensor calls; `step` is its step count after this update.
template <typename T>
struct AdamTensor {
  T* param;
  const T* grad;
  T* exp_avg;
  T* exp_avg_sq;
  T* max_exp_avg_sq;
  int64_t n;
  double step;
};

template <typename T>
struct SgdTensor {
  T* param;
  const T* grad;
  T* momentum_buffer;
  int64_t n;
  bool fresh_buffer;
};

// Updates every tensor of the list in one parallel region (the caller has validated the pointers).
void adam_update(Isa isa, const AdamHyper& h, const std::vector<AdamTensor<float>>& tensors);
void adam_update(Isa isa, const AdamHyper& h, const std::vector<AdamTensor<double>>& tensors);
void sgd_update(Isa isa, const SgdHyper& h, const std::vector<SgdTensor<float>>& tensors);
void sgd_update(Isa isa, const SgdHyper& h, const std::vector<SgdTensor<double>>& tensors);

}  // namespace fastnn
