// Multi-tensor optimizer updates: the per-tensor scalars torch computes in Python, the work list of
// fixed-size chunks over every tensor of the call, grabbed by the threads one at a time, and the ISA dispatch.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "fastnn/optim_update.h"
#include "fastnn/threading.h"

namespace fastnn {
namespace {

// 16K elements = 64 KiB of each float32 stream: long enough that a chunk's call and flag dispatch
// (~20 ns) vanish against its ~10 us of streaming, short enough that a static split of 10M parameters
// (611 chunks) leaves the two threads within one chunk (0.2%) of each other, and that a 32K-element
// tensor already splits in two. Any split gives the same bits: the update is element-wise.
constexpr int64_t kChunk = 1 << 14;

// threads_for() counts flops and hands a thread ~1 MFLOP. These weights start a second thread where
// it measured faster (1 vs 2 threads, one tensor, quiet host): Adam from 31K elements (32K: 19 -> 15
// us, 128K: 71 -> 43 us), SGD with momentum from 100K (64K: 11.1 vs 10.9 us, 128K: 21 -> 15 us).
constexpr double kAdamWorkPerElement = 64.0;
constexpr double kSgdWorkPerElement = 20.0;

// Runs body(i) for every chunk i, on several threads when the work is worth more than one.
template <typename Body>
void for_chunks(int64_t nchunks, double work, const Body& body) {
  // Grabbed one at a time: a chunk's update is the same on any thread.
  parallel_chunks(nchunks, nchunks > 1 ? threads_for(work) : 1, body);
}

template <typename T>
AdamCoeffs<T> adam_coeffs(const AdamHyper& h) {
  AdamCoeffs<T> c;
  c.lerp_weight = static_cast<T>(1.0 - h.beta1);
  c.lerp_small = std::abs(c.lerp_weight) < T(0.5);  // torch's is_lerp_weight_small, on the rounded weight
  c.beta2 = static_cast<T>(h.beta2);
  c.one_minus_beta2 = static_cast<T>(1.0 - h.beta2);
  c.eps = static_cast<T>(h.eps);
  c.weight_decay = static_cast<T>(h.weight_decay);
  c.decay_factor = static_cast<T>(1.0 - h.lr * h.weight_decay);
  c.decay = h.weight_decay == 0.0 ? WeightDecay::none : h.decoupled ? WeightDecay::decoupled : WeightDecay::l2;
  c.amsgrad = h.amsgrad;
  c.maximize = h.maximize;
  return c;
}

// As torch's _single_tensor_adam computes them with Python floats: beta ** step is C's pow, and
// bias_correction2 ** 0.5 is pow too (not sqrt, which may differ in the last bit of the double).
template <typename T>
AdamStepCoeffs<T> adam_step_coeffs(const AdamHyper& h, double step) {
  const double bias_correction1 = 1.0 - std::pow(h.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(h.beta2, step);
  const double step_size = h.lr / bias_correction1;
  return {static_cast<T>(-step_size), static_cast<T>(std::pow(bias_correction2, 0.5))};
}

template <typename T>
void adam_update_impl(Isa isa, const AdamHyper& h, const std::vector<AdamTensor<T>>& tensors) {
  using ChunkFn = void (*)(const AdamCoeffs<T>&, const AdamChunk<T>&);
  ChunkFn fn;
  if constexpr (std::is_same_v<T, float>) {
    fn = isa == Isa::avx512 ? &avx512::adam_chunk_f32 : isa == Isa::avx2 ? &avx2::adam_chunk_f32 : &generic::adam_chunk_f32;
  } else {
    fn = isa == Isa::avx512 ? &avx512::adam_chunk_f64 : isa == Isa::avx2 ? &avx2::adam_chunk_f64 : &generic::adam_chunk_f64;
  }
  const AdamCoeffs<T> coeffs = adam_coeffs<T>(h);
  thread_local std::vector<AdamChunk<T>> chunks;
  chunks.clear();
  int64_t total = 0;
  for (const AdamTensor<T>& t : tensors) {
    const AdamStepCoeffs<T> step = adam_step_coeffs<T>(h, t.step);
    for (int64_t off = 0; off < t.n; off += kChunk) {
      const int64_t len = std::min(kChunk, t.n - off);
      chunks.push_back({t.param + off, t.grad + off, t.exp_avg + off, t.exp_avg_sq + off,
                        t.max_exp_avg_sq ? t.max_exp_avg_sq + off : nullptr, len, step});
    }
    total += t.n;
  }
  const AdamChunk<T>* list = chunks.data();
  for_chunks(static_cast<int64_t>(chunks.size()), kAdamWorkPerElement * total,
             [&](int64_t i) { fn(coeffs, list[i]); });
}

template <typename T>
void sgd_update_impl(Isa isa, const SgdHyper& h, const std::vector<SgdTensor<T>>& tensors) {
  using ChunkFn = void (*)(const SgdCoeffs<T>&, const SgdChunk<T>&);
  ChunkFn fn;
  if constexpr (std::is_same_v<T, float>) {
    fn = isa == Isa::avx512 ? &avx512::sgd_chunk_f32 : isa == Isa::avx2 ? &avx2::sgd_chunk_f32 : &generic::sgd_chunk_f32;
  } else {
    fn = isa == Isa::avx512 ? &avx512::sgd_chunk_f64 : isa == Isa::avx2 ? &avx2::sgd_chunk_f64 : &generic::sgd_chunk_f64;
  }
  SgdCoeffs<T> c;
  c.neg_lr = static_cast<T>(-h.lr);
  c.momentum = static_cast<T>(h.momentum);
  c.one_minus_dampening = static_cast<T>(1.0 - h.dampening);
  c.weight_decay = static_cast<T>(h.weight_decay);
  c.use_weight_decay = h.weight_decay != 0.0;
  c.use_momentum = h.momentum != 0.0;
  c.nesterov = h.nesterov;
  c.maximize = h.maximize;
  thread_local std::vector<SgdChunk<T>> chunks;
  chunks.clear();
  int64_t total = 0;
  for (const SgdTensor<T>& t : tensors) {
    for (int64_t off = 0; off < t.n; off += kChunk) {
      const int64_t len = std::min(kChunk, t.n - off);
      chunks.push_back({t.param + off, t.grad + off, t.momentum_buffer ? t.momentum_buffer + off : nullptr, len,
                        t.fresh_buffer});
    }
    total += t.n;
  }
  const SgdChunk<T>* list = chunks.data();
  for_chunks(static_cast<int64_t>(chunks.size()), kSgdWorkPerElement * total, [&](int64_t i) { fn(c, list[i]); });
}

}  // namespace

void adam_update(Isa isa, const AdamHyper& h, const std::vector<AdamTensor<float>>& tensors) {
  adam_update_impl(isa, h, tensors);
}
void adam_update(Isa isa, const AdamHyper& h, const std::vector<AdamTensor<double>>& tensors) {
  adam_update_impl(isa, h, tensors);
}
void sgd_update(Isa isa, const SgdHyper& h, const std::vector<SgdTensor<float>>& tensors) {
  sgd_update_impl(isa, h, tensors);
}
void sgd_update(Isa isa, const SgdHyper& h, const std::vector<SgdTensor<double>>& tensors) {
  sgd_update_impl(isa, h, tensors);
}

}  // namespace fastnn
