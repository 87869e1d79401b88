// Fused multi-tensor Adam / AdamW and SGD, the twins of csrc/cpu/optim_update.cpp.
//
// Layout (PyTorch's multi_tensor_apply): every tensor of a call is cut into chunks of `chunk` elements
// (65536 by default); one block updates one chunk. A launch carries, BY VALUE as its kernel argument, a
// table of up to kMaxTensors tensors (their pointers and sizes) and up to kMaxBlocks (tensor, chunk)
// pairs, one per block; a call makes one launch unless a table fills, then the next launch carries on
// where the last stopped (a tensor may span launches). The update is element-wise, so any split gives
// the same bits.
//
// Arithmetic: fp32, operation by operation in torch's order and rounding, as the CPU kernel: the fused
// multiply-adds torch's kernels make (lerp_, addcmul_, add_(alpha=)) are explicit fmas, every other
// operation is rounded on its own through rn:: (no contraction by nvcc), division and sqrt correctly
// rounded. The per-tensor scalars torch computes in Python (bias corrections, step size) are computed in
// double from the step count, by one thread per block, and rounded to float.
//
// Step counters (torch's state['step'], one-element float32 or float64 arrays) stay on the device: each
// block reads its tensor's counter (the count before this step) and adds one in the counter's dtype.
// Writing the new count must wait until every block of the launch that reads it has read it, so the
// blocks take tickets (an atomic counter, caller-allocated) when they are done, and the last one writes
// the launch's counters and resets the ticket. A tensor spanning launches is counted by the launch
// holding its last chunk; the earlier launches run first on the stream, so all read the old count.
//
// Memory: 28 bytes per element for Adam (param r+w, grad r, exp_avg r+w, exp_avg_sq r+w; +8 with
// amsgrad), 20 for SGD with momentum; vectorised as float4 when every stream of the chunk is 16-byte
// aligned (chunks are multiples of 4 elements, so one check per chunk), scalar otherwise and for the tail.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "fastnn/cuda/device.h"
#include "launch.h"
#include "optim.h"
#include "rounding.cuh"
#include "vec4.cuh"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kThreads = 512;
constexpr int kMaxBlocks = 320;  // per launch: with the tensor table, the kernel argument stays under 4 KiB

// A launch's table: tensors[] plus, per block, which tensor and which chunk of it.
template <class Tensor, int kMaxTensors>
struct LaunchTable {
  Tensor tensors[kMaxTensors];
  std::int32_t block_chunk[kMaxBlocks];
  std::uint8_t block_tensor[kMaxBlocks];
  int ntensors;
  int nblocks;
};

// ---- Adam --------------------------------------------------------------------------------------------

struct AdamEntry {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;
  void* step;
  std::int64_t n;
  int step_f64;
  int owns_step;  // this launch increments the counter (it holds the tensor's last chunk, or it has none)
};
constexpr int kAdamMaxTensors = 32;

struct AdamCoeffsF32 {
  float lerp_coeff;  // 1 - beta1, or (1 - beta1) - 1 for torch's large-weight lerp formula
  float beta2, one_minus_beta2, eps, weight_decay, decay_factor;
  int lerp_small, decay, amsgrad, maximize;  // decay: 0 none, 1 l2, 2 decoupled
  double lr, beta1, beta2_d;
  std::int64_t chunk;
  unsigned* ticket;
};

struct AdamLaunch {
  AdamCoeffsF32 c;
  LaunchTable<AdamEntry, kAdamMaxTensors> table;
};
static_assert(sizeof(AdamLaunch) <= 4096, "a kernel argument is at most 4 KiB");

// Elements of the chunk starting at `start` of a tensor of n (0 for the empty block of empty tensors).
__device__ __forceinline__ std::int64_t chunk_length(std::int64_t chunk, std::int64_t n, std::int64_t start) {
  const std::int64_t left = n - start;
  return left <= 0 ? 0 : (left < chunk ? left : chunk);
}

// torch.maximum: the larger value, NaN if either is NaN.
__device__ __forceinline__ float maximum_nan(float a, float b) {
  const float r = a > b ? a : b;
  return a != a ? a : (b != b ? b : r);
}

// One element, in torch's order (see the CPU kernel's adam_span for the operation each line stands for).
__device__ __forceinline__ void adam_element(const AdamCoeffsF32& c, float neg_step_size, float bc2_sqrt, float& p,
                                             float grad, float& m, float& v, float& vmax) {
  float g = c.maximize ? -grad : grad;
  if (c.decay == 1) g = rn::fma(p, c.weight_decay, g);  // grad.add(param, alpha=wd)
  if (c.decay == 2) p = rn::mul(p, c.decay_factor);     // param.mul_(1 - lr * wd)
  m = rn::fma(c.lerp_coeff, rn::sub(g, m), c.lerp_small ? m : g);          // exp_avg.lerp_(grad, 1 - beta1)
  v = rn::fma(rn::mul(c.one_minus_beta2, g), g, rn::mul(v, c.beta2));     // .mul_(b2).addcmul_(g, g, 1 - b2)
  float used = v;
  if (c.amsgrad) {
    vmax = maximum_nan(vmax, v);
    used = vmax;
  }
  const float denom = rn::add(rn::div(rn::sqrt(used), bc2_sqrt), c.eps);  // (sqrt(v) / bc2_sqrt).add_(eps)
  p = rn::add(p, rn::div(rn::mul(neg_step_size, m), denom));              // addcdiv_(m, denom, -step_size)
}

__device__ __forceinline__ double read_step(const AdamEntry& t) {
  // The count after this step, incremented in the counter's own dtype (torch: step_t += 1).
  if (t.step_f64) return *static_cast<const double*>(t.step) + 1.0;
  return static_cast<double>(*static_cast<const float*>(t.step) + 1.0f);
}

// Called by every thread of every block once its chunk is done: the last block of the grid writes the
// step counters the launch owns and resets the ticket for the next launch.
template <class Entry, int kMaxTensors, class Bump>
__device__ __forceinline__ void last_block_bumps(const LaunchTable<Entry, kMaxTensors>& table, unsigned* ticket,
                                                 const Bump& bump) {
  FASTNN_SHARED(int, is_last, [1]);
  if (threadIdx.x == 0) {
    __threadfence();  // this block's read of its counter is done before the ticket is taken
    is_last[0] = atomicAdd(ticket, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!is_last[0]) return;
  __threadfence();
  for (int i = threadIdx.x; i < table.ntensors; i += blockDim.x) {
    if (table.tensors[i].owns_step) bump(table.tensors[i]);
  }
  if (threadIdx.x == 0) *ticket = 0u;
}

__global__ void __launch_bounds__(kThreads) adam_kernel(AdamLaunch L) {
  const AdamCoeffsF32& c = L.c;
  const AdamEntry& t = L.table.tensors[L.table.block_tensor[blockIdx.x]];
  FASTNN_SHARED(float, step_coeffs, [2]);
  if (threadIdx.x == 0) {
    const double step = read_step(t);
    const double bias_correction1 = 1.0 - pow(c.beta1, step);
    const double bias_correction2 = 1.0 - pow(c.beta2_d, step);
    step_coeffs[0] = static_cast<float>(-(c.lr / bias_correction1));
    step_coeffs[1] = static_cast<float>(pow(bias_correction2, 0.5));  // Python's ** 0.5 is pow, not sqrt
  }
  __syncthreads();  // barrier: step coefficients
  const float neg_step_size = step_coeffs[0], bc2_sqrt = step_coeffs[1];

  const std::int64_t start = std::int64_t(L.table.block_chunk[blockIdx.x]) * c.chunk;
  const std::int64_t len = chunk_length(c.chunk, t.n, start);
  float* p = t.param + start;
  const float* g = t.grad + start;
  float* m = t.exp_avg + start;
  float* v = t.exp_avg_sq + start;
  float* vmax = c.amsgrad ? t.max_exp_avg_sq + start : nullptr;
  std::int64_t done = 0;
  if (vec4_aligned(p) && vec4_aligned(g) && vec4_aligned(m) && vec4_aligned(v) && (!vmax || vec4_aligned(vmax))) {
    const std::int64_t n4 = len / 4;
    for (std::int64_t i = threadIdx.x; i < n4; i += blockDim.x) {
      Vec4 pv = reinterpret_cast<Vec4*>(p)[i];
      const Vec4 gv = reinterpret_cast<const Vec4*>(g)[i];
      Vec4 mv = reinterpret_cast<Vec4*>(m)[i];
      Vec4 vv = reinterpret_cast<Vec4*>(v)[i];
      Vec4 xv = vmax ? reinterpret_cast<Vec4*>(vmax)[i] : Vec4{0.f, 0.f, 0.f, 0.f};
      adam_element(c, neg_step_size, bc2_sqrt, pv.x, gv.x, mv.x, vv.x, xv.x);
      adam_element(c, neg_step_size, bc2_sqrt, pv.y, gv.y, mv.y, vv.y, xv.y);
      adam_element(c, neg_step_size, bc2_sqrt, pv.z, gv.z, mv.z, vv.z, xv.z);
      adam_element(c, neg_step_size, bc2_sqrt, pv.w, gv.w, mv.w, vv.w, xv.w);
      reinterpret_cast<Vec4*>(p)[i] = pv;
      reinterpret_cast<Vec4*>(m)[i] = mv;
      reinterpret_cast<Vec4*>(v)[i] = vv;
      if (vmax) reinterpret_cast<Vec4*>(vmax)[i] = xv;
    }
    done = n4 * 4;
  }
  for (std::int64_t i = done + threadIdx.x; i < len; i += blockDim.x) {
    float pe = p[i], me = m[i], ve = v[i], xe = vmax ? vmax[i] : 0.f;
    adam_element(c, neg_step_size, bc2_sqrt, pe, g[i], me, ve, xe);
    p[i] = pe;
    m[i] = me;
    v[i] = ve;
    if (vmax) vmax[i] = xe;
  }
  last_block_bumps(L.table, c.ticket, [](const AdamEntry& e) {
    if (e.step_f64) *static_cast<double*>(e.step) += 1.0;
    else *static_cast<float*>(e.step) += 1.0f;
  });
}

// ---- SGD ---------------------------------------------------------------------------------------------

struct SgdEntry {
  float* param;
  const float* grad;
  float* buf;
  std::int64_t n;
  int fresh;
  int owns_step;  // unused by SGD (no counters); kept so the table builder serves both
};
constexpr int kSgdMaxTensors = 48;

struct SgdCoeffsF32 {
  float neg_lr, momentum, one_minus_dampening, weight_decay;
  int use_weight_decay, use_momentum, nesterov, maximize;
  std::int64_t chunk;
};

struct SgdLaunch {
  SgdCoeffsF32 c;
  LaunchTable<SgdEntry, kSgdMaxTensors> table;
};
static_assert(sizeof(SgdLaunch) <= 4096, "a kernel argument is at most 4 KiB");

__device__ __forceinline__ void sgd_element(const SgdCoeffsF32& c, bool fresh, float& p, float grad, float& b) {
  float g = c.maximize ? -grad : grad;
  if (c.use_weight_decay) g = rn::fma(p, c.weight_decay, g);  // grad.add(param, alpha=wd)
  if (c.use_momentum) {
    // first step: buf = grad.clone(); then buf.mul_(momentum).add_(grad, alpha=1 - dampening)
    b = fresh ? g : rn::fma(g, c.one_minus_dampening, rn::mul(b, c.momentum));
    g = c.nesterov ? rn::fma(b, c.momentum, g) : b;  // grad.add(buf, alpha=momentum)
  }
  p = rn::fma(g, c.neg_lr, p);  // param.add_(grad, alpha=-lr)
}

__global__ void __launch_bounds__(kThreads) sgd_kernel(SgdLaunch L) {
  const SgdCoeffsF32& c = L.c;
  const SgdEntry& t = L.table.tensors[L.table.block_tensor[blockIdx.x]];
  const std::int64_t start = std::int64_t(L.table.block_chunk[blockIdx.x]) * c.chunk;
  const std::int64_t len = chunk_length(c.chunk, t.n, start);
  float* p = t.param + start;
  const float* g = t.grad + start;
  float* b = c.use_momentum ? t.buf + start : nullptr;
  const bool fresh = t.fresh != 0;
  std::int64_t done = 0;
  if (vec4_aligned(p) && vec4_aligned(g) && (!b || vec4_aligned(b))) {
    const std::int64_t n4 = len / 4;
    for (std::int64_t i = threadIdx.x; i < n4; i += blockDim.x) {
      Vec4 pv = reinterpret_cast<Vec4*>(p)[i];
      const Vec4 gv = reinterpret_cast<const Vec4*>(g)[i];
      Vec4 bv = (b && !fresh) ? reinterpret_cast<Vec4*>(b)[i] : Vec4{0.f, 0.f, 0.f, 0.f};
      sgd_element(c, fresh, pv.x, gv.x, bv.x);
      sgd_element(c, fresh, pv.y, gv.y, bv.y);
      sgd_element(c, fresh, pv.z, gv.z, bv.z);
      sgd_element(c, fresh, pv.w, gv.w, bv.w);
      reinterpret_cast<Vec4*>(p)[i] = pv;
      if (b) reinterpret_cast<Vec4*>(b)[i] = bv;
    }
    done = n4 * 4;
  }
  for (std::int64_t i = done + threadIdx.x; i < len; i += blockDim.x) {
    float pe = p[i], be = (b && !fresh) ? b[i] : 0.f;
    sgd_element(c, fresh, pe, g[i], be);
    p[i] = pe;
    if (b) b[i] = be;
  }
}

// ---- host: building the launch tables ------------------------------------------------------------------

// Walks the tensors, filling tables and calling launch(table) whenever one is full and at the end.
// entry(i) makes tensor i's table entry; a launch owns a tensor's counter when it holds its last chunk.
template <class Entry, int kMaxTensors, class MakeEntry, class Launch>
void for_each_launch(std::size_t count, const std::int64_t* numels, std::int64_t chunk, const MakeEntry& entry,
                     const Launch& launch) {
  LaunchTable<Entry, kMaxTensors> table;
  table.ntensors = 0;
  table.nblocks = 0;
  auto flush = [&] {
    if (table.ntensors == 0) return;
    if (table.nblocks == 0) {  // only empty tensors: one block of no elements still bumps their counters
      table.block_tensor[0] = 0;
      table.block_chunk[0] = 0;
      table.nblocks = 1;
    }
    launch(table);
    table.ntensors = 0;
    table.nblocks = 0;
  };
  for (std::size_t i = 0; i < count; ++i) {
    if (table.ntensors == kMaxTensors) flush();
    int slot = table.ntensors++;
    table.tensors[slot] = entry(i);
    table.tensors[slot].owns_step = 1;
    const std::int64_t nchunks = (numels[i] + chunk - 1) / chunk;
    for (std::int64_t ch = 0; ch < nchunks; ++ch) {
      if (table.nblocks == kMaxBlocks) {
        table.tensors[slot].owns_step = 0;  // the rest of this tensor goes in the next launch
        flush();
        slot = table.ntensors++;
        table.tensors[slot] = entry(i);
        table.tensors[slot].owns_step = 1;
      }
      table.block_tensor[table.nblocks] = static_cast<std::uint8_t>(slot);
      table.block_chunk[table.nblocks] = static_cast<std::int32_t>(ch);
      ++table.nblocks;
    }
  }
  flush();
}

void check_chunk(std::int64_t chunk, const char* op) {
  if (chunk <= 0 || chunk % 4 != 0 || chunk > (std::int64_t(1) << 30)) {
    throw std::invalid_argument(std::string(op) + ": chunk must be a positive multiple of 4 up to 2**30, got " +
                                std::to_string(chunk));
  }
}

}  // namespace

void adam_update_f32(const AdamHyperParams& h, const std::vector<AdamTensorF32>& tensors, unsigned* ticket,
                     std::int64_t chunk, int device, cudaStream_t stream) {
  check_chunk(chunk, "adam_update_f32");
  if (tensors.empty()) return;
  DeviceGuard guard(device);
  AdamLaunch L;
  AdamCoeffsF32& c = L.c;
  const float lerp_weight = static_cast<float>(1.0 - h.beta1);
  c.lerp_small = std::fabs(lerp_weight) < 0.5f;  // torch's is_lerp_weight_small, on the rounded weight
  c.lerp_coeff = c.lerp_small ? lerp_weight : lerp_weight - 1.0f;
  c.beta2 = static_cast<float>(h.beta2);
  c.one_minus_beta2 = static_cast<float>(1.0 - h.beta2);
  c.eps = static_cast<float>(h.eps);
  c.weight_decay = static_cast<float>(h.weight_decay);
  c.decay_factor = static_cast<float>(1.0 - h.lr * h.weight_decay);
  c.decay = h.weight_decay == 0.0 ? 0 : h.decoupled ? 2 : 1;
  c.amsgrad = h.amsgrad;
  c.maximize = h.maximize;
  c.lr = h.lr;
  c.beta1 = h.beta1;
  c.beta2_d = h.beta2;
  c.chunk = chunk;
  c.ticket = ticket;
  std::vector<std::int64_t> numels;
  for (const auto& t : tensors) numels.push_back(t.n);
  for_each_launch<AdamEntry, kAdamMaxTensors>(
      tensors.size(), numels.data(), chunk,
      [&](std::size_t i) {
        const AdamTensorF32& t = tensors[i];
        return AdamEntry{t.param, t.grad, t.exp_avg, t.exp_avg_sq, t.max_exp_avg_sq, t.step, t.n, t.step_f64 ? 1 : 0, 1};
      },
      [&](const LaunchTable<AdamEntry, kAdamMaxTensors>& table) {
        L.table = table;
        FASTNN_LAUNCH(table.nblocks, kThreads, 0, stream, adam_kernel)(L);
        check_launch("adam_update_f32");
      });
}

void sgd_update_f32(const SgdHyperParams& h, const std::vector<SgdTensorF32>& tensors, std::int64_t chunk, int device,
                    cudaStream_t stream) {
  check_chunk(chunk, "sgd_update_f32");
  std::vector<std::int64_t> numels;
  for (const auto& t : tensors) numels.push_back(t.n);
  if (std::all_of(numels.begin(), numels.end(), [](std::int64_t n) { return n == 0; })) return;  // no counters
  DeviceGuard guard(device);
  SgdLaunch L;
  SgdCoeffsF32& c = L.c;
  c.neg_lr = static_cast<float>(-h.lr);
  c.momentum = static_cast<float>(h.momentum);
  c.one_minus_dampening = static_cast<float>(1.0 - h.dampening);
  c.weight_decay = static_cast<float>(h.weight_decay);
  c.use_weight_decay = h.weight_decay != 0.0;  // torch skips the term at 0 (an inf parameter would give NaN)
  c.use_momentum = h.momentum != 0.0;
  c.nesterov = h.nesterov;
  c.maximize = h.maximize;
  c.chunk = chunk;
  for_each_launch<SgdEntry, kSgdMaxTensors>(
      tensors.size(), numels.data(), chunk,
      [&](std::size_t i) {
        const SgdTensorF32& t = tensors[i];
        return SgdEntry{t.param, t.grad, t.momentum_buffer, t.n, t.fresh ? 1 : 0, 1};
      },
      [&](const LaunchTable<SgdEntry, kSgdMaxTensors>& table) {
        L.table = table;
        FASTNN_LAUNCH(table.nblocks, kThreads, 0, stream, sgd_kernel)(L);
        check_launch("sgd_update_f32");
      });
}

std::int64_t adam_launch_count(const std::vector<std::int64_t>& numels, std::int64_t chunk) {
  check_chunk(chunk, "adam_launch_count");
  std::int64_t launches = 0;
  for_each_launch<AdamEntry, kAdamMaxTensors>(
      numels.size(), numels.data(), chunk, [](std::size_t) { return AdamEntry{}; },
      [&](const LaunchTable<AdamEntry, kAdamMaxTensors>&) { ++launches; });
  return launches;
}

std::int64_t sgd_launch_count(const std::vector<std::int64_t>& numels, std::int64_t chunk) {
  check_chunk(chunk, "sgd_launch_count");
  if (std::all_of(numels.begin(), numels.end(), [](std::int64_t n) { return n == 0; })) return 0;
  std::int64_t launches = 0;
  for_each_launch<SgdEntry, kSgdMaxTensors>(
      numels.size(), numels.data(), chunk, [](std::size_t) { return SgdEntry{}; },
      [&](const LaunchTable<SgdEntry, kSgdMaxTensors>&) { ++launches; });
  return launches;
}

}  // namespace fastnn::FASTNN_CUDA_NS
