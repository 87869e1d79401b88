// Fused Adam / AdamW / SGD element loops, compiled once per ISA level (FASTNN_ISA_NS names the level).
//
// Each loop reads a parameter's element and its state once and writes them once: 28 bytes per float32
// parameter for Adam (param r+w, grad r, exp_avg r+w, exp_avg_sq r+w), 20 for SGD with momentum. That
// traffic, not the arithmetic (one sqrt and two divides per element, ~1 cycle per element with zmm
// vectors), bounds the speed, so the loops are plain scalar code over __restrict pointers that GCC
// vectorises at each level's width, with software prefetch (below); the dispatch cuts tensors into
// 16K-element chunks.
//
// Rounding follows torch's CPU kernels operation by operation. Measured against torch 2.13 (AVX512
// build): lerp_, add_(alpha=), addcmul_ and SGD's add_ round once through an FMA, addcdiv_ and the
// divide by sqrt(bias_correction2) do not. This file is compiled with -ffp-contract=off so that the
// compiler fuses nothing else (an AdamW decay p * (1 - lr * wd) must round before the addcdiv, as in
// torch's two kernels); every fused multiply-add is an explicit madd(). The generic level has no FMA
// and rounds twice there, as torch's own baseline build does. The one rounding we do not share is
// sqrt: ours is correctly rounded (sqrtps), torch's vectorised one (MKL VML) is an ulp off on ~0.6% of
// inputs; with that sqrt swapped, 50 Adam steps match torch's ops bit for bit (tests pin it).
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "fastnn/optim_update.h"

#ifndef FASTNN_ISA_NS
#error "FASTNN_ISA_NS must name the ISA level this translation unit is compiled for"
#endif

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace {

// a * b + c rounded once where the level has FMA instructions (std::fma becomes vfmadd and
// vectorises), rounded twice on the baseline (std::fma would be a slow libm call there).
template <typename T>
inline T madd(T a, T b, T c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// Software prefetch 1.5 KiB ahead in every stream. The hardware prefetchers stop at 4 KiB page edges,
// and tensors below NumPy's huge-page threshold (4 MiB) live on 4 KiB pages: 100 tensors of 100k took
// 12.1 ms per Adam step against 9.6 ms for one 10M tensor (1 thread; 4.9 / 4.2 ms on 2). One prefetch
// per line, 1.5 KiB ahead, running on past the end of each chunk, brought both down to 9.0 / 7.9 ms
// (1 thread) and 3.4 / 3.3 ms (2 threads). 1-2 KiB measured alike, 4 KiB and more slower; prefetching
// into L2 only, or with prefetchw for the streams written back, gained less.
constexpr int64_t kPrefetchBytes = 1536;

// The address `offset` elements past p, for a prefetch: it may lie beyond the array (the end of the
// last chunk), which a prefetch tolerates, so the arithmetic is done on integers.
template <typename T>
inline const void* ahead(const T* p, int64_t offset) {
  return reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + offset * sizeof(T));
}

// Runs body(i) for i in [0, n): blocks of four cache lines, each starting with one prefetch per line
// `kPrefetchBytes` ahead (prefetch(j) issues them for element j of every stream), then a scalar tail.
template <typename T, typename Prefetch, typename Body>
inline void stream_loop(int64_t n, const Prefetch& prefetch, const Body& body) {
  constexpr int64_t kLine = 64 / sizeof(T);
  constexpr int64_t kBlock = 4 * kLine;
  constexpr int64_t kAhead = kPrefetchBytes / sizeof(T);
  int64_t i0 = 0;
  for (; i0 + kBlock <= n; i0 += kBlock) {
    for (int64_t l = 0; l < kBlock; l += kLine) prefetch(i0 + kAhead + l);
    for (int64_t i = i0; i < i0 + kBlock; ++i) body(i);
  }
  for (int64_t i = i0; i < n; ++i) body(i);
}

// torch.maximum: the larger value, NaN if either is NaN (maxps keeps its second operand on NaN).
template <typename T>
inline T maximum_nan(T a, T b) {
  T r = a > b ? a : b;
  return a != a ? a : r;
}

template <typename T, WeightDecay WD, bool Amsgrad, bool LerpSmall, bool Maximize>
void adam_span(const AdamCoeffs<T>& c, const AdamChunk<T>& k) {
  T* __restrict param = k.param;
  const T* __restrict grad = k.grad;
  T* __restrict exp_avg = k.exp_avg;
  T* __restrict exp_avg_sq = k.exp_avg_sq;
  T* __restrict max_exp_avg_sq = k.max_exp_avg_sq;
  // torch's vectorised lerp: fma(w, end - self, self) for |w| < 0.5, else fma(w - 1, end - self, end).
  const T lerp_coeff = LerpSmall ? c.lerp_weight : c.lerp_weight - T(1);
  const T beta2 = c.beta2, one_minus_beta2 = c.one_minus_beta2, eps = c.eps;
  const T weight_decay = c.weight_decay, decay_factor = c.decay_factor;
  const T neg_step_size = k.step.neg_step_size, bc2_sqrt = k.step.bias_correction2_sqrt;
  auto prefetch = [=](int64_t j) {
    __builtin_prefetch(ahead(param, j), 1, 3);
    __builtin_prefetch(ahead(grad, j), 0, 3);
    __builtin_prefetch(ahead(exp_avg, j), 1, 3);
    __builtin_prefetch(ahead(exp_avg_sq, j), 1, 3);
    if (Amsgrad) __builtin_prefetch(ahead(max_exp_avg_sq, j), 1, 3);
  };
  auto body = [=](int64_t i) {
    T g = Maximize ? -grad[i] : grad[i];
    T p = param[i];
    if (WD == WeightDecay::l2) g = madd(p, weight_decay, g);              // grad.add(param, alpha=wd)
    if (WD == WeightDecay::decoupled) p = p * decay_factor;               // param.mul_(1 - lr * wd)
    const T m_old = exp_avg[i];
    const T m = madd(lerp_coeff, g - m_old, LerpSmall ? m_old : g);       // exp_avg.lerp_(grad, 1 - beta1)
    const T v = madd(one_minus_beta2 * g, g, exp_avg_sq[i] * beta2);       // .mul_(beta2).addcmul_(g, g, 1 - beta2)
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    T v_used = v;
    if (Amsgrad) {
      v_used = maximum_nan(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = v_used;
    }
    const T denom = std::sqrt(v_used) / bc2_sqrt + eps;                    // (sqrt(v) / bc2_sqrt).add_(eps)
    param[i] = p + (neg_step_size * m) / denom;                            // addcdiv_(m, denom, -step_size)
  };
  stream_loop<T>(k.n, prefetch, body);
}

template <typename T, bool WeightDecayOn, bool Momentum, bool Fresh, bool Nesterov, bool Maximize>
void sgd_span(const SgdCoeffs<T>& c, const SgdChunk<T>& k) {
  T* __restrict param = k.param;
  const T* __restrict grad = k.grad;
  T* __restrict buf = k.momentum_buffer;
  const T neg_lr = c.neg_lr, momentum = c.momentum, one_minus_dampening = c.one_minus_dampening;
  const T weight_decay = c.weight_decay;
  auto prefetch = [=](int64_t j) {
    __builtin_prefetch(ahead(param, j), 1, 3);
    __builtin_prefetch(ahead(grad, j), 0, 3);
    if (Momentum) __builtin_prefetch(ahead(buf, j), 1, 3);
  };
  auto body = [=](int64_t i) {
    T g = Maximize ? -grad[i] : grad[i];
    const T p = param[i];
    if (WeightDecayOn) g = madd(p, weight_decay, g);                     // grad.add(param, alpha=wd)
    if (Momentum) {
      // first step: buf = grad.clone(); then buf.mul_(momentum).add_(grad, alpha=1 - dampening)
      const T b = Fresh ? g : madd(g, one_minus_dampening, buf[i] * momentum);
      buf[i] = b;
      g = Nesterov ? madd(b, momentum, g) : b;                            // grad.add(buf, alpha=momentum)
    }
    param[i] = madd(g, neg_lr, p);                                        // param.add_(grad, alpha=-lr)
  };
  stream_loop<T>(k.n, prefetch, body);
}

// Tables of every flag combination, so the loops carry no run-time branches.
template <typename T>
using AdamFn = void (*)(const AdamCoeffs<T>&, const AdamChunk<T>&);
template <typename T>
using SgdFn = void (*)(const SgdCoeffs<T>&, const SgdChunk<T>&);

template <typename T, size_t I>
void adam_entry(const AdamCoeffs<T>& c, const AdamChunk<T>& k) {
  adam_span<T, static_cast<WeightDecay>(I / 8), (I / 4) % 2 != 0, (I / 2) % 2 != 0, I % 2 != 0>(c, k);
}
template <typename T, size_t... I>
constexpr std::array<AdamFn<T>, sizeof...(I)> adam_table(std::index_sequence<I...>) {
  return {&adam_entry<T, I>...};
}

template <typename T, size_t I>
void sgd_entry(const SgdCoeffs<T>& c, const SgdChunk<T>& k) {
  sgd_span<T, (I / 16) % 2 != 0, (I / 8) % 2 != 0, (I / 4) % 2 != 0, (I / 2) % 2 != 0, I % 2 != 0>(c, k);
}
template <typename T, size_t... I>
constexpr std::array<SgdFn<T>, sizeof...(I)> sgd_table(std::index_sequence<I...>) {
  return {&sgd_entry<T, I>...};
}

template <typename T>
void adam_chunk(const AdamCoeffs<T>& c, const AdamChunk<T>& k) {
  static constexpr auto table = adam_table<T>(std::make_index_sequence<24>{});
  const size_t index = static_cast<size_t>(c.decay) * 8 + (c.amsgrad ? 4 : 0) + (c.lerp_small ? 2 : 0) +
                       (c.maximize ? 1 : 0);
  table[index](c, k);
}

template <typename T>
void sgd_chunk(const SgdCoeffs<T>& c, const SgdChunk<T>& k) {
  static constexpr auto table = sgd_table<T>(std::make_index_sequence<32>{});
  const bool momentum = c.use_momentum;
  const size_t index = (c.use_weight_decay ? 16 : 0) + (momentum ? 8 : 0) + (momentum && k.fresh_buffer ? 4 : 0) +
                       (momentum && c.nesterov ? 2 : 0) + (c.maximize ? 1 : 0);
  table[index](c, k);
}

}  // namespace

void adam_chunk_f32(const AdamCoeffs<float>& c, const AdamChunk<float>& chunk) { adam_chunk(c, chunk); }
void adam_chunk_f64(const AdamCoeffs<double>& c, const AdamChunk<double>& chunk) { adam_chunk(c, chunk); }
void sgd_chunk_f32(const SgdCoeffs<float>& c, const SgdChunk<float>& chunk) { sgd_chunk(c, chunk); }
void sgd_chunk_f64(const SgdCoeffs<double>& c, const SgdChunk<double>& chunk) { sgd_chunk(c, chunk); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
