// The CUDA optimizer family (fused multi-tensor Adam / AdamW and SGD): declarations shared by optim.cu
// and its binding. The CPU twin is csrc/cpu/optim_update.cpp + optim_dispatch.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "fastnn/cuda/device.h"

namespace fastnn::FASTNN_CUDA_NS {

// Hyper-parameters as torch.optim takes them (Python floats).
struct AdamHyperParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

// One tensor of a parameter group. max_exp_avg_sq is null unless amsgrad. `step` is torch's
// state['step']: a one-element float32 (step_f64 false) or float64 device counter, read and
// incremented by the kernel (no host sync).
struct AdamTensorF32 {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;
  void* step;
  bool step_f64;
  std::int64_t n;
};

struct SgdHyperParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};

// momentum_buffer is null without momentum; fresh: the buffer has no history (torch's first step,
// buf = grad) and is only written.
struct SgdTensorF32 {
  float* param;
  const float* grad;
  float* momentum_buffer;
  bool fresh;
  std::int64_t n;
};

// Elements per block: PyTorch's multi_tensor_apply chunk. Any positive multiple of 4 gives the same
// results (the update is element-wise); tests pass small ones to exercise the chunking.
constexpr std::int64_t kOptimChunk = 65536;

// One launch per call over every tensor (more only when a launch's table of tensors or blocks is full).
// `ticket`: one device int32, zero before the call and zero again after it (the last block of each
// launch increments that launch's step counters, then clears it).
void adam_update_f32(const AdamHyperParams& h, const std::vector<AdamTensorF32>& tensors, unsigned* ticket,
                     std::int64_t chunk, int device, cudaStream_t stream);
void sgd_update_f32(const SgdHyperParams& h, const std::vector<SgdTensorF32>& tensors, std::int64_t chunk, int device,
                    cudaStream_t stream);

// The number of launches a call makes (for tests of the table splitting).
std::int64_t adam_launch_count(const std::vector<std::int64_t>& numels, std::int64_t chunk);
std::int64_t sgd_launch_count(const std::vector<std::int64_t>& numels, std::int64_t chunk);

}  // namespace fastnn::FASTNN_CUDA_NS
