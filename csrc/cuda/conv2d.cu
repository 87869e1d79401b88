// conv2d on the GPU as implicit GEMMs (fp32 SIMT): the twin of csrc/cpu/conv2d.cpp, without its im2col buffer.
//
// All three products share one register-blocked, double-buffered main loop (conv_gemm_block); what differs is how a
// tile entry is found in global memory, given by a "problem" struct:
//   forward        C[m, n] = sum_k A[m, k] B[k, n], m = (n, oh, ow), n = output channel of the group,
//                  k = (c, i, j) of the group; A gathers the input patch element straight from x (zero where the
//                  tap falls in the padding), B is the weight row; the bias is added in the epilogue.
//   backward data  the transposed convolution: m = (n, ih, iw), n = input channel of the group, k = (o, i, j). Input
//                  rows are split by phase (ih mod sh, iw mod sw): within one phase the taps (i, j) that land on an
//                  output position form an arithmetic progression, so a block loops over exactly those taps (none
//                  are multiplied by zeros; with stride 1 there is one phase and every tap lands). No col2im buffer,
//                  no atomics: every dx element is written once, by the block owning it.
//   backward weight  m = (c, i, j), n = output channel, k = (n, oh, ow) summed over; split-K over k into a
//                  caller-allocated workspace, then a pass adding the slices in a fixed order.
// Tiles: BM x BN outputs per block, BK = 8 deep, TM x TN per thread; the next k-tile is fetched into registers
// while the current one is multiplied from shared memory (two buffers, one barrier per k-tile). The configuration
// is chosen by the width of the GEMM's n side (output or input channels per group): 128, 64, 32, or 4 for
// depthwise-like shapes. Each thread accumulates its outputs over k in a fixed order, so every result is the same
// under any schedule of threads and blocks.
// Besides: direct depthwise kernels (groups == C, where the GEMM would have one column per group): forward and data
// gradient on images at least 16 wide, weight gradient for kernels of up to 49 taps; and the bias gradient as a per-channel reduction (split into slices over a workspace when channels are
// few), both in a fixed order too.
#include "conv2d.h"

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <string>

#include "fastnn/cuda/device.h"
#include "launch.h"
#include "warp_reduce.cuh"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

template <int BM_, int BN_, int BK_, int TM_, int TN_, int MinBlocks_ = 1>
struct TileCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_, MinBlocks = MinBlocks_;
  static constexpr int NT = (BM / TM) * (BN / TN);
  // Padded rows: stores from threads that run along k land in distinct banks; rows stay 16-byte aligned.
  static constexpr int LDA = BM + 4, LDB = BN + 4;
  static constexpr int A_LOADS = (BM * BK + NT - 1) / NT, B_LOADS = (BK * BN + NT - 1) / NT;
  static constexpr unsigned smem_bytes = sizeof(float) * 2 * BK * (LDA + LDB);
  static_assert(BM % TM == 0 && BN % TN == 0, "the thread grid tiles the block tile");
  static_assert((TM % 4 == 0 || TM < 4) && (TN % 4 == 0 || TN < 4), "micro-tiles are float4 chunks or scalars");
  static_assert(NT % 32 == 0 && NT % BK == 0 && NT <= 1024, "whole warps");
  static_assert(smem_bytes <= 48 * 1024, "static shared-memory limit without opt-in");
};
// 256 threads, 8x8 outputs each, bounded to two blocks per SM (128 registers; ptxas 13 then spills 12-64 bytes,
// against ~170-210 registers and one block per SM unbounded; not yet timed on a GPU).
using CfgL = TileCfg<128, 128, 8, 8, 8, 2>;
using CfgM = TileCfg<128, 64, 8, 8, 4>;   // 256 threads
using CfgS = TileCfg<128, 32, 8, 4, 4>;   // 256 threads
using CfgD = TileCfg<64, 4, 8, 1, 4>;     // 64 threads: depthwise and other narrow groups

constexpr int kBK = 8;  // every configuration's k depth (the split-K slices are multiples of it)

// Where an operand entry lives: an offset, a (row, column) pair checked against the image bounds, and a flag.
struct Idx {
  std::int64_t off;
  int r, c;
  bool ok;
};

struct GemmArgs {
  Conv2dShape s;
  const float* in0;   // forward: x; backward data: g; backward weight: g
  const float* in1;   // forward: w; backward data: w; backward weight: x
  const float* bias;  // forward only (may be null)
  float* out;         // y, dx, or dw (splits == 1) / the workspace (splits > 1)
  int splits;         // backward weight: slices of the reduction
  int k_chunk;        // backward weight: k extent of one slice (a multiple of kBK)
  int row_tiles;      // blocks along m per GEMM: blockIdx.x = z * row_tiles + m tile (z: group, phase, slice)
};

// Loads 4 consecutive floats of shared memory (16-byte aligned) into r.
__device__ __forceinline__ void ld4(const float* p, float* r) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  r[0] = v.x;
  r[1] = v.y;
  r[2] = v.z;
  r[3] = v.w;
}

__device__ __forceinline__ bool inside(int r, int c, int rows, int cols) {
  return static_cast<unsigned>(r) < static_cast<unsigned>(rows) && static_cast<unsigned>(c) < static_cast<unsigned>(cols);
}

// n / d for 0 <= n < 2^31 by a multiply-high and a shift (Granlund-Montgomery, as PyTorch's IntDivider): the tile
// decoders divide by the image and kernel extents on every k-tile, and a hardware-less 32-bit division costs ~20
// instructions. Built once per thread (a 64-bit division) from a divisor that is uniform over the block.
struct FastDiv {
  unsigned d, mul, shift;
  __device__ explicit FastDiv(int divisor) : d(divisor > 0 ? static_cast<unsigned>(divisor) : 1u), mul(0), shift(0) {
    while (shift < 31 && (1u << shift) < d) ++shift;
    const std::uint64_t one = 1;
    mul = static_cast<unsigned>(((one << 32) * ((one << shift) - d)) / d + 1);
  }
  __device__ __forceinline__ int div(int n) const {
    const unsigned hi = __umulhi(static_cast<unsigned>(n), mul);
    return static_cast<int>((hi + static_cast<unsigned>(n)) >> shift);
  }
};

// ---- the three problems ----------------------------------------------------------------------------------------

struct FwdProblem {
  static constexpr bool kAKFast = false, kBKFast = true;  // which index runs along memory in each operand
  const float* __restrict__ x;
  const float* __restrict__ w;
  const float* __restrict__ bias;
  float* __restrict__ y;
  int H, W, C, O, P, OW, KW, KHW, sh, sw, ph, pw, dh, dw, cg, og, g;
  int M, N, k_begin, k_end;
  FastDiv by_p, by_ow, by_khw, by_kw;

  __device__ FwdProblem(const GemmArgs& a, int z)
      : x(a.in0), w(a.in1), bias(a.bias), y(a.out), H(a.s.h), W(a.s.w), C(a.s.c), O(a.s.o), P(a.s.oh * a.s.ow),
        OW(a.s.ow), KW(a.s.kw), KHW(a.s.kh * a.s.kw), sh(a.s.sh), sw(a.s.sw), ph(a.s.ph), pw(a.s.pw), dh(a.s.dh),
        dw(a.s.dw), cg(a.s.c / a.s.groups), og(a.s.o / a.s.groups), g(z),
        M(a.s.n * a.s.oh * a.s.ow), N(og), k_begin(0), k_end(cg * KHW), by_p(P), by_ow(OW), by_khw(KHW), by_kw(KW) {}

  __device__ Idx a_m(int m) const {
    const int nn = by_p.div(m), q = m - nn * P, oh = by_ow.div(q), ow = q - oh * OW;
    return {(std::int64_t(nn) * C + g * cg) * H * W, oh * sh - ph, ow * sw - pw, m < M};
  }
  __device__ Idx a_k(int k) const {
    const int ci = by_khw.div(k), t = k - ci * KHW, i = by_kw.div(t), j = t - i * KW;
    return {std::int64_t(ci) * H * W, i * dh, j * dw, k < k_end};
  }
  __device__ float a(const Idx& im, const Idx& ik) const {
    const int r = im.r + ik.r, c = im.c + ik.c;
    return im.ok && ik.ok && inside(r, c, H, W) ? x[im.off + ik.off + std::int64_t(r) * W + c] : 0.f;
  }
  __device__ Idx b_k(int k) const { return {k, 0, 0, k < k_end}; }
  __device__ Idx b_n(int n) const { return {std::int64_t(g * og + n) * k_end, 0, 0, n < N}; }
  __device__ float b(const Idx& ik, const Idx& in) const { return ik.ok && in.ok ? w[ik.off + in.off] : 0.f; }
  __device__ Idx out_m(int m) const {
    const int nn = by_p.div(m), q = m - nn * P;
    return {std::int64_t(nn) * O * P + q, 0, 0, m < M};
  }
  __device__ Idx out_n(int n) const { return {std::int64_t(g * og + n) * P, g * og + n, 0, n < N}; }
  __device__ void write(const Idx& om, const Idx& on, float v) const {
    if (om.ok && on.ok) y[om.off + on.off] = bias ? v + bias[on.r] : v;
  }
};

// The kernel taps (along one axis) that land on an output position for input rows ih = res + t * s: those i
// with i * d = res + pad (mod s), i.e. i = first + u * step, u < count; the output row is then
// t + base - u * lift.
struct AxisTaps {
  int first, count, step, lift, base;
};
__device__ __forceinline__ AxisTaps axis_taps(int s, int d, int pad, int res, int k) {
  int a = s, b = d;
  while (b != 0) {
    const int t = a % b;
    a = b;
    b = t;
  }
  AxisTaps r{-1, 0, s / a, d / a, 0};
  const int want = (res + pad) % s;
  for (int i = 0; i < r.step && i < k; ++i) {
    if ((i * d) % s == want) {
      r.first = i;
      break;
    }
  }
  if (r.first >= 0) {
    r.count = (k - 1 - r.first) / r.step + 1;
    r.base = (res + pad - r.first * d) / s;  // an exact quotient (possibly negative)
  }
  return r;
}

struct BwdDataProblem {
  static constexpr bool kAKFast = false, kBKFast = true;
  const float* __restrict__ gy;
  const float* __restrict__ w;
  float* __restrict__ dx;
  int H, W, C, O, OH, OW, KW, KHW, sh, sw, cg, og, g, rh, rw, hq, wq;
  AxisTaps th, tw;
  int M, N, k_begin, k_end, hw, taps;
  FastDiv by_hw, by_wq, by_taps, by_tw;

  __device__ BwdDataProblem(const GemmArgs& a, int z)
      : gy(a.in0), w(a.in1), dx(a.out), H(a.s.h), W(a.s.w), C(a.s.c), O(a.s.o), OH(a.s.oh), OW(a.s.ow), KW(a.s.kw),
        KHW(a.s.kh * a.s.kw), sh(a.s.sh), sw(a.s.sw), cg(a.s.c / a.s.groups), og(a.s.o / a.s.groups), by_hw(0),
        by_wq(0), by_taps(0), by_tw(0) {
    const int phases = sh * sw;
    g = z / phases;
    rh = (z % phases) / sw;
    rw = (z % phases) % sw;
    hq = rh < H ? (H - rh + sh - 1) / sh : 0;
    wq = rw < W ? (W - rw + sw - 1) / sw : 0;
    th = axis_taps(sh, a.s.dh, a.s.ph, rh, a.s.kh);
    tw = axis_taps(sw, a.s.dw, a.s.pw, rw, a.s.kw);
    hw = hq * wq;
    taps = th.count * tw.count;
    M = a.s.n * hw;
    N = cg;
    k_begin = 0;
    k_end = og * taps;
    by_hw = FastDiv(hw);
    by_wq = FastDiv(wq);
    by_taps = FastDiv(taps);
    by_tw = FastDiv(tw.count);
  }

  __device__ Idx a_m(int m) const {
    const int nn = by_hw.div(m), t = m - nn * hw, qh = by_wq.div(t), qw = t - qh * wq;
    return {(std::int64_t(nn) * O + g * og) * OH * OW, qh + th.base, qw + tw.base, m < M};
  }
  __device__ Idx a_k(int k) const {
    const int oc = by_taps.div(k), t = k - oc * taps, u = by_tw.div(t), v = t - u * tw.count;
    return {std::int64_t(oc) * OH * OW, -u * th.lift, -v * tw.lift, k < k_end};
  }
  __device__ float a(const Idx& im, const Idx& ik) const {
    const int r = im.r + ik.r, c = im.c + ik.c;
    return im.ok && ik.ok && inside(r, c, OH, OW) ? gy[im.off + ik.off + std::int64_t(r) * OW + c] : 0.f;
  }
  __device__ Idx b_k(int k) const {
    const int oc = by_taps.div(k), t = k - oc * taps, u = by_tw.div(t), v = t - u * tw.count;
    const int i = th.first + u * th.step, j = tw.first + v * tw.step;
    return {std::int64_t(oc) * cg * KHW + i * KW + j, 0, 0, k < k_end};
  }
  __device__ Idx b_n(int n) const { return {std::int64_t(g * og) * cg * KHW + std::int64_t(n) * KHW, 0, 0, n < N}; }
  __device__ float b(const Idx& ik, const Idx& in) const { return ik.ok && in.ok ? w[ik.off + in.off] : 0.f; }
  __device__ Idx out_m(int m) const {
    const int nn = by_hw.div(m), t = m - nn * hw, qh = by_wq.div(t), qw = t - qh * wq;
    return {std::int64_t(nn) * C * H * W + std::int64_t(rh + qh * sh) * W + (rw + qw * sw), 0, 0, m < M};
  }
  __device__ Idx out_n(int n) const { return {std::int64_t(g * cg + n) * H * W, 0, 0, n < N}; }
  __device__ void write(const Idx& om, const Idx& on, float v) const {
    if (om.ok && on.ok) dx[om.off + on.off] = v;
  }
};

struct BwdWeightProblem {
  static constexpr bool kAKFast = true, kBKFast = true;
  const float* __restrict__ gy;
  const float* __restrict__ x;
  float* __restrict__ out;
  int H, W, C, O, P, OW, KW, KHW, sh, sw, ph, pw, dh, dw, cg, og, g;
  int M, N, k_begin, k_end;
  FastDiv by_p, by_ow, by_khw, by_kw;

  __device__ BwdWeightProblem(const GemmArgs& a, int z)
      : gy(a.in0), x(a.in1), H(a.s.h), W(a.s.w), C(a.s.c), O(a.s.o), P(a.s.oh * a.s.ow), OW(a.s.ow), KW(a.s.kw),
        KHW(a.s.kh * a.s.kw), sh(a.s.sh), sw(a.s.sw), ph(a.s.ph), pw(a.s.pw), dh(a.s.dh), dw(a.s.dw),
        cg(a.s.c / a.s.groups), og(a.s.o / a.s.groups), by_p(P), by_ow(OW), by_khw(KHW), by_kw(KW) {
    const int slice = z % a.splits, k_total = a.s.n * P;
    g = z / a.splits;
    M = cg * KHW;
    N = og;
    const std::int64_t begin = std::int64_t(slice) * a.k_chunk, end = begin + a.k_chunk;
    k_begin = static_cast<int>(begin < k_total ? begin : k_total);
    k_end = static_cast<int>(end < k_total ? end : k_total);
    out = a.splits > 1 ? a.out + std::int64_t(slice) * O * M : a.out;
  }

  __device__ Idx a_m(int m) const {
    const int ci = by_khw.div(m), t = m - ci * KHW, i = by_kw.div(t), j = t - i * KW;
    return {std::int64_t(ci) * H * W, i * dh, j * dw, m < M};
  }
  __device__ Idx a_k(int k) const {
    const int nn = by_p.div(k), q = k - nn * P, oh = by_ow.div(q), ow = q - oh * OW;
    return {(std::int64_t(nn) * C + g * cg) * H * W, oh * sh - ph, ow * sw - pw, k < k_end};
  }
  __device__ float a(const Idx& im, const Idx& ik) const {
    const int r = im.r + ik.r, c = im.c + ik.c;
    return im.ok && ik.ok && inside(r, c, H, W) ? x[im.off + ik.off + std::int64_t(r) * W + c] : 0.f;
  }
  __device__ Idx b_k(int k) const {
    const int nn = by_p.div(k), q = k - nn * P;
    return {std::int64_t(nn) * O * P + q, 0, 0, k < k_end};
  }
  __device__ Idx b_n(int n) const { return {std::int64_t(g * og + n) * P, 0, 0, n < N}; }
  __device__ float b(const Idx& ik, const Idx& in) const { return ik.ok && in.ok ? gy[ik.off + in.off] : 0.f; }
  __device__ Idx out_m(int m) const { return {m, 0, 0, m < M}; }
  __device__ Idx out_n(int n) const { return {std::int64_t(g * og + n) * M, 0, 0, n < N}; }
  __device__ void write(const Idx& om, const Idx& on, float v) const {
    if (om.ok && on.ok) out[om.off + on.off] = v;
  }
};

// ---- the shared main loop ----------------------------------------------------------------------------------------

// The i-th row (of TM) of the thread at column tx of the thread grid: float4 chunks spread over the tile
// (conflict-free vector reads), or one row every BM / TM for scalar micro-tiles.
template <int B, int T>
__device__ __forceinline__ int micro_index(int i, int t) {
  if constexpr (T >= 4) {
    return (i / 4) * (B / (T / 4)) + t * 4 + (i % 4);
  } else {
    return i * (B / T) + t;
  }
}

template <int B, int T>
__device__ __forceinline__ void micro_load(const float* row, int t, float* r) {
  if constexpr (T >= 4) {
FASTNN_UNROLL
    for (int c = 0; c < T / 4; ++c) ld4(row + c * (B / (T / 4)) + t * 4, r + 4 * c);
  } else {
FASTNN_UNROLL
    for (int i = 0; i < T; ++i) r[i] = row[i * (B / T) + t];
  }
}

// How the NT threads of a block cover one operand's tile of Rows (m or n) x BK entries: entry e = tid + r * NT for
// r < Loads; consecutive threads run along the rows (KFast false: gathered images) or along k (KFast true: weights,
// output gradients, and the weight gradient's gathered input). A thread meets `Fixed` distinct rows (decoded once)
// and `Moving` distinct k per k-tile (decoded once per tile); Fixed * Moving = Loads.
template <int Rows, int BK, int NT, bool KFast>
struct OperandMap {
  static constexpr int Size = Rows * BK, Loads = (Size + NT - 1) / NT;
  static_assert(KFast ? NT % BK == 0 : (NT % Rows == 0 || Rows % NT == 0), "threads tile the operand evenly");
  static constexpr int Fixed = KFast ? Loads : (NT % Rows == 0 ? 1 : Rows / NT);
  static constexpr int Moving = Loads / Fixed;
  __device__ static constexpr int fixed_of(int r) { return KFast ? r : r % Fixed; }
  __device__ static constexpr int moving_of(int r) { return KFast ? 0 : r / Fixed; }
  __device__ static constexpr int first_with_moving(int v) { return KFast ? 0 : v * Fixed; }
  __device__ static int row(unsigned tid, int r) {
    const unsigned e = tid + static_cast<unsigned>(r * NT);
    return static_cast<int>(KFast ? e / BK : e % Rows);
  }
  __device__ static int k_of(unsigned tid, int r) {
    const unsigned e = tid + static_cast<unsigned>(r * NT);
    return static_cast<int>(KFast ? e % BK : e / Rows);
  }
  __device__ static bool has(unsigned tid, int r) { return tid + static_cast<unsigned>(r * NT) < unsigned(Size); }
};

template <class Cfg, class Problem>
__device__ __forceinline__ void conv_gemm_block(const Problem& p, int m0, int n0) {
  constexpr int BM = Cfg::BM, BN = Cfg::BN, BK = Cfg::BK, TM = Cfg::TM, TN = Cfg::TN, NT = Cfg::NT;
  constexpr int LDA = Cfg::LDA, LDB = Cfg::LDB, AL = Cfg::A_LOADS, BL = Cfg::B_LOADS;
  FASTNN_DYNAMIC_SHARED(float, smem);
  float* const As = smem;               // [2][BK][LDA]: A tile, k-major
  float* const Bs = smem + 2 * BK * LDA;  // [2][BK][LDB]: B tile, k-major

  // The tile entries this thread fetches (OperandMap): the m / n side of each is decoded once, the k side once per
  // k-tile; consecutive threads run along the operand's contiguous index.
  using AMap = OperandMap<BM, BK, NT, Problem::kAKFast>;
  using BMap = OperandMap<BN, BK, NT, Problem::kBKFast>;
  const unsigned ut = threadIdx.x;
  Idx am[AMap::Fixed], bn[BMap::Fixed];
FASTNN_UNROLL
  for (int f = 0; f < AMap::Fixed; ++f) am[f] = p.a_m(m0 + AMap::row(ut, f));
FASTNN_UNROLL
  for (int f = 0; f < BMap::Fixed; ++f) bn[f] = p.b_n(n0 + BMap::row(ut, f));
  float ra[AL], rb[BL];
  auto fetch = [&](int k0) {
    Idx ak[AMap::Moving], bk[BMap::Moving];
FASTNN_UNROLL
    for (int v = 0; v < AMap::Moving; ++v) ak[v] = p.a_k(k0 + AMap::k_of(ut, AMap::first_with_moving(v)));
FASTNN_UNROLL
    for (int v = 0; v < BMap::Moving; ++v) bk[v] = p.b_k(k0 + BMap::k_of(ut, BMap::first_with_moving(v)));
FASTNN_UNROLL
    for (int r = 0; r < AL; ++r) ra[r] = AMap::has(ut, r) ? p.a(am[AMap::fixed_of(r)], ak[AMap::moving_of(r)]) : 0.f;
FASTNN_UNROLL
    for (int r = 0; r < BL; ++r) rb[r] = BMap::has(ut, r) ? p.b(bk[BMap::moving_of(r)], bn[BMap::fixed_of(r)]) : 0.f;
  };
  auto stash = [&](int buf) {
FASTNN_UNROLL
    for (int r = 0; r < AL; ++r)
      if (AMap::has(ut, r)) As[buf * BK * LDA + AMap::k_of(ut, r) * LDA + AMap::row(ut, r)] = ra[r];
FASTNN_UNROLL
    for (int r = 0; r < BL; ++r)
      if (BMap::has(ut, r)) Bs[buf * BK * LDB + BMap::k_of(ut, r) * LDB + BMap::row(ut, r)] = rb[r];
  };

  const int tx = static_cast<int>(ut % (BM / TM)), ty = static_cast<int>(ut / (BM / TM));
  float acc[TM][TN];
FASTNN_UNROLL
  for (int i = 0; i < TM; ++i)
FASTNN_UNROLL
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  const int tiles = (p.k_end - p.k_begin + BK - 1) / BK;  // the same for every thread of the block
  if (tiles > 0) {
    fetch(p.k_begin);
    stash(0);
    __syncthreads();  // CONV_GEMM_FIRST_TILE_BARRIER
    for (int t = 0; t < tiles; ++t) {
      const int cur = t & 1;
      if (t + 1 < tiles) fetch(p.k_begin + (t + 1) * BK);  // global loads in flight during the products
      const float* a_tile = As + cur * BK * LDA;
      const float* b_tile = Bs + cur * BK * LDB;
FASTNN_UNROLL
      for (int kk = 0; kk < BK; ++kk) {
        float a[TM], b[TN];
        micro_load<BM, TM>(a_tile + kk * LDA, tx, a);
        micro_load<BN, TN>(b_tile + kk * LDB, ty, b);
FASTNN_UNROLL
        for (int i = 0; i < TM; ++i)
FASTNN_UNROLL
          for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      // The other buffer was last read in the previous k-tile, before that tile's barrier.
      if (t + 1 < tiles) stash(cur ^ 1);
      __syncthreads();  // CONV_GEMM_TILE_BARRIER: stores visible, and nobody still reads the buffer refilled next
    }
  }

  Idx on[TN];
FASTNN_UNROLL
  for (int j = 0; j < TN; ++j) on[j] = p.out_n(n0 + micro_index<BN, TN>(j, ty));
FASTNN_UNROLL
  for (int i = 0; i < TM; ++i) {
    const Idx om = p.out_m(m0 + micro_index<BM, TM>(i, tx));
FASTNN_UNROLL
    for (int j = 0; j < TN; ++j) p.write(om, on[j], acc[i][j]);
  }
}

template <class Cfg, class Problem>
__global__ void __launch_bounds__(Cfg::NT, Cfg::MinBlocks) conv_gemm_kernel(GemmArgs a) {
  const unsigned bx = blockIdx.x, tiles = static_cast<unsigned>(a.row_tiles);
  const Problem p(a, static_cast<int>(bx / tiles));
  const int m0 = static_cast<int>(bx % tiles) * Cfg::BM, n0 = static_cast<int>(blockIdx.y) * Cfg::BN;
  if (m0 >= p.M) return;  // a phase with fewer rows than the grid (backward data): the whole block leaves
  conv_gemm_block<Cfg>(p, m0, n0);
}

// dw = the sum of the workspace's slices, added in slice order.
__global__ void sum_slices_kernel(const float* __restrict__ ws, float* __restrict__ out, std::int64_t size,
                                  int slices) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    float s = 0.f;
    for (int k = 0; k < slices; ++k) s += ws[k * size + i];
    out[i] = s;
  }
}

constexpr int kBiasThreads = 256;

// One block per (channel, slice): slice k of channel oc is the entries [k * chunk, (k + 1) * chunk) of the channel's
// N x P values in (sample, pixel) order (P contiguous per sample). Thread t adds the entries t, t + 256, ... of its
// slice in order, then a butterfly per warp and warp 0 over the warps' sums: out[k * o + oc]. With one slice, out is
// db; otherwise sum_slices_kernel adds the slices in order.
__global__ void __launch_bounds__(kBiasThreads) bias_grad_kernel(const float* __restrict__ g, float* __restrict__ out,
                                                                   int o, std::int64_t pixels, std::int64_t total,
                                                                   std::int64_t chunk) {
  FASTNN_SHARED(float, warp_sums, [kBiasThreads / 32]);
  const int oc = static_cast<int>(blockIdx.x % static_cast<unsigned>(o)), lane = threadIdx.x % 32,
            warp = threadIdx.x / 32;
  const std::int64_t slice = blockIdx.x / static_cast<unsigned>(o), begin = slice * chunk;
  const std::int64_t end = begin + chunk < total ? begin + chunk : total;
  const std::int64_t hop_n = kBiasThreads / pixels, hop_q = kBiasThreads % pixels;
  std::int64_t at = begin + threadIdx.x, nn = at / pixels, q = at % pixels;
  float s = 0.f;
  while (at < end) {
    s += g[(nn * o + oc) * pixels + q];
    at += kBiasThreads;
    nn += hop_n;
    q += hop_q;
    if (q >= pixels) {
      q -= pixels;
      ++nn;
    }
  }
  s = warp_reduce_sum(s);
  if (lane == 0) warp_sums[warp] = s;
  __syncthreads();  // CONV_BIAS_BARRIER
  if (warp == 0) {
    s = warp_reduce_sum(lane < kBiasThreads / 32 ? warp_sums[lane] : 0.f);
    if (lane == 0) out[slice * o + oc] = s;
  }
}

// ---- depthwise forward --------------------------------------------------------------------------------------------

// groups == C (one input channel per group, `mult` output channels each) on images wide enough to fill a tile: a
// GEMM there has one column per group, so this direct kernel is used instead. A block owns an 8 x 32 tile of one
// (sample, channel) plane: it stages the input patch the tile sees (zero in the padding) and the channel's weights in
// shared memory once, then each thread computes its output of every output channel of the group (taps in order).
constexpr int kDwTileH = 8, kDwTileW = 32, kDwThreads = kDwTileH * kDwTileW;

struct DepthwiseArgs {
  Conv2dShape s;
  const float* x;
  const float* w;
  const float* bias;
  float* y;
  int tiles_h, tiles_w, patch_h, patch_w;
};

__global__ void __launch_bounds__(kDwThreads) depthwise_forward_kernel(DepthwiseArgs a) {
  FASTNN_DYNAMIC_SHARED(float, smem);
  const Conv2dShape& s = a.s;
  const int mult = s.o / s.c, khw = s.kh * s.kw, tiles = a.tiles_h * a.tiles_w;
  const unsigned bx = blockIdx.x, tid = threadIdx.x;
  const int tile = static_cast<int>(bx % static_cast<unsigned>(tiles)), plane = static_cast<int>(bx / static_cast<unsigned>(tiles));
  const int c = plane % s.c, n = plane / s.c;
  const int oh0 = (tile / a.tiles_w) * kDwTileH, ow0 = (tile % a.tiles_w) * kDwTileW;
  const int ih0 = oh0 * s.sh - s.ph, iw0 = ow0 * s.sw - s.pw;
  float* const patch = smem;                              // [patch_h][patch_w]
  float* const wt = smem + a.patch_h * a.patch_w;         // [mult][KH][KW]
  const float* xc = a.x + (std::int64_t(n) * s.c + c) * s.h * s.w;
  const int patch_size = a.patch_h * a.patch_w;
  for (int e = static_cast<int>(tid); e < patch_size; e += kDwThreads) {  // rows of the patch: coalesced along W
    const int r = e / a.patch_w, q = e - r * a.patch_w, ih = ih0 + r, iw = iw0 + q;
    patch[e] = inside(ih, iw, s.h, s.w) ? xc[std::int64_t(ih) * s.w + iw] : 0.f;
  }
  for (int e = static_cast<int>(tid); e < mult * khw; e += kDwThreads) wt[e] = a.w[std::int64_t(c) * mult * khw + e];
  __syncthreads();  // CONV_DW_BARRIER: the patch and weights are staged
  const int ty = static_cast<int>(tid) / kDwTileW, tx = static_cast<int>(tid) % kDwTileW;
  const int oh = oh0 + ty, ow = ow0 + tx;
  if (oh >= s.oh || ow >= s.ow) return;
  const float* base = patch + (ty * s.sh) * a.patch_w + tx * s.sw;
  for (int k = 0; k < mult; ++k) {
    const float* wk = wt + k * khw;
    float acc = 0.f;
    for (int i = 0; i < s.kh; ++i) {
      const float* row = base + i * s.dh * a.patch_w;
      for (int j = 0; j < s.kw; ++j) acc = fmaf(row[j * s.dw], wk[i * s.kw + j], acc);
    }
    const int oc = c * mult + k;
    if (a.bias) acc += a.bias[oc];
    a.y[((std::int64_t(n) * s.o + oc) * s.oh + oh) * s.ow + ow] = acc;
  }
}

// The depthwise kernel's launch for this shape, or false where the GEMM serves it better (narrow images, where a
// tile would be mostly idle) or the patch would not fit in 48 KiB of shared memory.
bool launch_depthwise(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                      cudaStream_t stream) {
  if (s.groups != s.c || s.ow < kDwTileW / 2 || std::int64_t(s.oh) * s.ow < kDwThreads / 2) return false;
  DepthwiseArgs a{s, x, w, b, y, (s.oh + kDwTileH - 1) / kDwTileH, (s.ow + kDwTileW - 1) / kDwTileW, 0, 0};
  const std::int64_t ph = std::int64_t(kDwTileH - 1) * s.sh + std::int64_t(s.kh - 1) * s.dh + 1;
  const std::int64_t pw = std::int64_t(kDwTileW - 1) * s.sw + std::int64_t(s.kw - 1) * s.dw + 1;
  const std::int64_t floats = ph * pw + std::int64_t(s.o / s.c) * s.kh * s.kw;
  const std::int64_t blocks = std::int64_t(s.n) * s.c * a.tiles_h * a.tiles_w;
  if (floats * 4 > 48 * 1024 || blocks > INT_MAX) return false;
  a.patch_h = static_cast<int>(ph);
  a.patch_w = static_cast<int>(pw);
  if (blocks == 0) return true;
  FASTNN_LAUNCH(static_cast<unsigned>(blocks), kDwThreads, static_cast<unsigned>(floats * 4), stream,
                depthwise_forward_kernel)(a);
  check_launch("conv2d_forward_f32");
  return true;
}

// The data gradient of a depthwise convolution, directly: a block owns an 8 x 32 tile of one (sample, channel) plane
// of dx. For each output channel of the group in turn it stages the patch of g the tile's taps reach (zero outside
// g) in shared memory; each thread then adds, for its dx element, exactly the taps that land on an output position
// (axis_taps: an arithmetic progression per axis, as in the GEMM's phases), output channels and taps in order.
__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

struct DepthwiseBwdArgs {
  Conv2dShape s;
  const float* g;
  const float* w;
  float* dx;
  int tiles_h, tiles_w, patch_h, patch_w;
};

__global__ void __launch_bounds__(kDwThreads) depthwise_backward_data_kernel(DepthwiseBwdArgs a) {
  FASTNN_DYNAMIC_SHARED(float, smem);
  const Conv2dShape& s = a.s;
  const int mult = s.o / s.c, khw = s.kh * s.kw, tiles = a.tiles_h * a.tiles_w;
  const unsigned bx = blockIdx.x, tid = threadIdx.x;
  const int tile = static_cast<int>(bx % static_cast<unsigned>(tiles)), plane = static_cast<int>(bx / static_cast<unsigned>(tiles));
  const int c = plane % s.c, n = plane / s.c;
  const int ih0 = (tile / a.tiles_w) * kDwTileH, iw0 = (tile % a.tiles_w) * kDwTileW;
  // The first output row / column a landing tap of the tile can reach (the patch's origin in g): the least
  // multiple of the stride at or above the lowest tap position, ceil((i0 + pad - (K - 1) d) / s).
  const int oh_lo = -floor_div(-(ih0 + s.ph - (s.kh - 1) * s.dh), s.sh);
  const int ow_lo = -floor_div(-(iw0 + s.pw - (s.kw - 1) * s.dw), s.sw);
  float* const patch = smem;                       // [patch_h][patch_w]
  float* const wt = smem + a.patch_h * a.patch_w;  // [mult][KH][KW]
  const int patch_size = a.patch_h * a.patch_w;
  for (int e = static_cast<int>(tid); e < mult * khw; e += kDwThreads) wt[e] = a.w[std::int64_t(c) * mult * khw + e];
  const int ty = static_cast<int>(tid) / kDwTileW, tx = static_cast<int>(tid) % kDwTileW;
  const int ih = ih0 + ty, iw = iw0 + tx;
  const AxisTaps th = axis_taps(s.sh, s.dh, s.ph, ih, s.kh), tw = axis_taps(s.sw, s.dw, s.pw, iw, s.kw);
  float acc = 0.f;
  for (int k = 0; k < mult; ++k) {
    if (k > 0) __syncthreads();  // everyone is done with the previous channel's patch
    const float* gk = a.g + ((std::int64_t(n) * s.o + c * mult + k) * s.oh) * s.ow;
    for (int e = static_cast<int>(tid); e < patch_size; e += kDwThreads) {
      const int r = e / a.patch_w, q = e - r * a.patch_w, oh = oh_lo + r, ow = ow_lo + q;
      patch[e] = inside(oh, ow, s.oh, s.ow) ? gk[std::int64_t(oh) * s.ow + ow] : 0.f;
    }
    __syncthreads();  // CONV_DW_BWD_BARRIER: the patch (and, the first time, the weights) are staged
    const float* wk = wt + k * khw;
    for (int u = 0; u < th.count; ++u) {
      const float* row = patch + (th.base - u * th.lift - oh_lo) * a.patch_w;
      const float* wrow = wk + (th.first + u * th.step) * s.kw;
      for (int v = 0; v < tw.count; ++v) {
        acc = fmaf(row[tw.base - v * tw.lift - ow_lo], wrow[tw.first + v * tw.step], acc);
      }
    }
  }
  if (ih < s.h && iw < s.w) a.dx[((std::int64_t(n) * s.c + c) * s.h + ih) * s.w + iw] = acc;
}

// The direct kernel's launch for this shape, or false where the GEMM serves it (as launch_depthwise decides).
bool launch_depthwise_backward_data(const Conv2dShape& s, const float* g, const float* w, float* dx,
                                    cudaStream_t stream) {
  if (s.groups != s.c || s.w < kDwTileW / 2 || std::int64_t(s.h) * s.w < kDwThreads / 2) return false;
  DepthwiseBwdArgs a{s, g, w, dx, (s.h + kDwTileH - 1) / kDwTileH, (s.w + kDwTileW - 1) / kDwTileW, 0, 0};
  // Output rows that taps of kDwTileH consecutive input rows reach: the multiples of sh in a span of this length.
  const std::int64_t ph = (std::int64_t(kDwTileH - 1) + std::int64_t(s.kh - 1) * s.dh) / s.sh + 1;
  const std::int64_t pw = (std::int64_t(kDwTileW - 1) + std::int64_t(s.kw - 1) * s.dw) / s.sw + 1;
  const std::int64_t floats = ph * pw + std::int64_t(s.o / s.c) * s.kh * s.kw;
  const std::int64_t blocks = std::int64_t(s.n) * s.c * a.tiles_h * a.tiles_w;
  if (floats * 4 > 48 * 1024 || blocks > INT_MAX) return false;
  a.patch_h = static_cast<int>(ph);
  a.patch_w = static_cast<int>(pw);
  if (blocks == 0) return true;
  FASTNN_LAUNCH(static_cast<unsigned>(blocks), kDwThreads, static_cast<unsigned>(floats * 4), stream,
                depthwise_backward_data_kernel)(a);
  check_launch("conv2d_backward_data_f32");
  return true;
}

// The weight gradient of a depthwise convolution, directly: the GEMM would have KH*KW rows and one column per group.
// A block owns one output channel and one slice of its N*OH*OW positions (in (sample, row, column) order); each
// thread walks positions t, t + 128, ... of the slice, multiplying the output gradient there by the input under
// each of the <= T taps into T register sums; then each tap's sums are added over the block (a butterfly per warp,
// the warps in order). out is dw (one slice) or slice-major in the workspace, added by sum_slices_kernel.
constexpr int kDwwThreads = 128;

template <int T>
__global__ void __launch_bounds__(kDwwThreads) depthwise_backward_weight_kernel(Conv2dShape s, const float* __restrict__ g,
                                                                               const float* __restrict__ x,
                                                                               float* __restrict__ out,
                                                                               std::int64_t chunk) {
  FASTNN_SHARED(int, tap_r, [T]);
  FASTNN_SHARED(int, tap_c, [T]);
  FASTNN_SHARED(float, warp_sums, [kDwwThreads / 32][T]);
  const int khw = s.kh * s.kw, mult = s.o / s.c, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const unsigned bx = blockIdx.x;
  const int oc = static_cast<int>(bx % static_cast<unsigned>(s.o)), slice = static_cast<int>(bx / static_cast<unsigned>(s.o));
  const int c = oc / mult;
  for (int t = threadIdx.x; t < khw; t += kDwwThreads) {
    tap_r[t] = (t / s.kw) * s.dh;
    tap_c[t] = (t % s.kw) * s.dw;
  }
  __syncthreads();  // CONV_DWW_TAPS_BARRIER
  const std::int64_t pixels = std::int64_t(s.oh) * s.ow, total = s.n * pixels, begin = slice * chunk;
  const std::int64_t end = begin + chunk < total ? begin + chunk : total;
  const std::int64_t hop_n = kDwwThreads / pixels, hop_q = kDwwThreads % pixels;
  const FastDiv by_ow(s.ow);
  std::int64_t at = begin + threadIdx.x, nn = at / pixels, q = at % pixels;
  float acc[T];
FASTNN_UNROLL
  for (int t = 0; t < T; ++t) acc[t] = 0.f;
  while (at < end) {
    const int oh = by_ow.div(static_cast<int>(q)), ow = static_cast<int>(q) - oh * s.ow;
    const float gv = g[(nn * s.o + oc) * pixels + q];
    const float* xc = x + (nn * s.c + c) * s.h * s.w;
    const int r0 = oh * s.sh - s.ph, c0 = ow * s.sw - s.pw;
FASTNN_UNROLL
    for (int t = 0; t < T; ++t) {
      if (t < khw) {
        const int r = r0 + tap_r[t], cc = c0 + tap_c[t];
        if (inside(r, cc, s.h, s.w)) acc[t] = fmaf(gv, xc[std::int64_t(r) * s.w + cc], acc[t]);
      }
    }
    at += kDwwThreads;
    nn += hop_n;
    q += hop_q;
    if (q >= pixels) {
      q -= pixels;
      ++nn;
    }
  }
FASTNN_UNROLL
  for (int t = 0; t < T; ++t) {
    if (t < khw) {  // uniform over the block
      const float v = warp_reduce_sum(acc[t]);
      if (lane == 0) warp_sums[warp][t] = v;
    }
  }
  __syncthreads();  // CONV_DWW_BARRIER
  for (int t = threadIdx.x; t < khw; t += kDwwThreads) {
    float sum = 0.f;
    for (int w = 0; w < kDwwThreads / 32; ++w) sum += warp_sums[w][t];
    out[std::int64_t(slice) * s.o * khw + std::int64_t(oc) * khw + t] = sum;
  }
}

// The largest kernel (taps) the direct depthwise weight gradient takes; beyond it the GEMM does.
constexpr int kDwwMaxTaps = 49;
bool depthwise_weight_applies(const Conv2dShape& s) { return s.groups == s.c && s.kh * s.kw <= kDwwMaxTaps; }

void launch_depthwise_backward_weight(const Conv2dShape& s, const float* g, const float* x, float* out, int splits,
                                      cudaStream_t stream) {
  const std::int64_t total = std::int64_t(s.n) * s.oh * s.ow;
  const std::int64_t chunk = std::max<std::int64_t>(1, (total + splits - 1) / splits);
  if (std::int64_t(s.o) * splits > INT_MAX) throw std::runtime_error("conv2d_backward_weight_f32: too many slices");
  const unsigned blocks = static_cast<unsigned>(s.o * splits);
  const int taps = s.kh * s.kw;
  if (taps <= 9) {
    FASTNN_LAUNCH(blocks, kDwwThreads, 0, stream, depthwise_backward_weight_kernel<9>)(s, g, x, out, chunk);
  } else if (taps <= 25) {
    FASTNN_LAUNCH(blocks, kDwwThreads, 0, stream, depthwise_backward_weight_kernel<25>)(s, g, x, out, chunk);
  } else {
    FASTNN_LAUNCH(blocks, kDwwThreads, 0, stream, depthwise_backward_weight_kernel<kDwwMaxTaps>)(s, g, x, out, chunk);
  }
  check_launch("conv2d_backward_weight_f32");
}

// ---- host side -------------------------------------------------------------------------------------------------


template <class Cfg, class Problem>
void launch_gemm(const char* op, const GemmArgs& a, std::int64_t rows, int cols, std::int64_t z, cudaStream_t stream) {
  if (rows == 0 || cols == 0 || z == 0) return;
  const std::int64_t tiles = (rows + Cfg::BM - 1) / Cfg::BM;
  if (rows + Cfg::BM > INT_MAX || tiles * z > INT_MAX) {
    throw std::runtime_error(std::string(op) + ": the convolution is too large for the kernels' 32-bit indices");
  }
  GemmArgs args = a;
  args.row_tiles = static_cast<int>(tiles);
  const dim3 grid(static_cast<unsigned>(tiles * z), blocks_for(cols, Cfg::BN));
  FASTNN_LAUNCH(grid, Cfg::NT, Cfg::smem_bytes, stream, conv_gemm_kernel<Cfg, Problem>)(args);
  check_launch(op);
}

// The tile configuration for a GEMM whose n side has `cols` columns.
template <class Problem>
void dispatch(const char* op, const GemmArgs& a, std::int64_t rows, int cols, std::int64_t z, cudaStream_t stream) {
  if (cols <= 4) {
    launch_gemm<CfgD, Problem>(op, a, rows, cols, z, stream);
  } else if (cols <= 32) {
    launch_gemm<CfgS, Problem>(op, a, rows, cols, z, stream);
  } else if (cols <= 64) {
    launch_gemm<CfgM, Problem>(op, a, rows, cols, z, stream);
  } else {
    launch_gemm<CfgL, Problem>(op, a, rows, cols, z, stream);
  }
}

int rows_per_block(int cols) { return cols <= 4 ? CfgD::BM : 128; }
int cols_per_block(int cols) { return cols <= 4 ? 4 : cols <= 32 ? 32 : cols <= 64 ? 64 : 128; }

}  // namespace

void conv2d_forward_f32(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y, int device,
                        cudaStream_t stream) {
  DeviceGuard guard(device);
  if (launch_depthwise(s, x, w, b, y, stream)) return;
  const GemmArgs a{s, x, w, b, y, 1, 0, 0};
  dispatch<FwdProblem>("conv2d_forward_f32", a, std::int64_t(s.n) * s.oh * s.ow, s.o / s.groups, s.groups, stream);
}

void conv2d_backward_data_f32(const Conv2dShape& s, const float* g, const float* w, float* dx, int device,
                              cudaStream_t stream) {
  DeviceGuard guard(device);
  if (launch_depthwise_backward_data(s, g, w, dx, stream)) return;
  const GemmArgs a{s, g, w, nullptr, dx, 1, 0, 0};
  // Rows of the largest phase; the smaller phases' extra blocks leave at once.
  const std::int64_t rows = std::int64_t(s.n) * ((s.h + s.sh - 1) / s.sh) * ((s.w + s.sw - 1) / s.sw);
  dispatch<BwdDataProblem>("conv2d_backward_data_f32", a, rows, s.c / s.groups,
                           std::int64_t(s.groups) * s.sh * s.sw, stream);
}

int conv2d_backward_weight_f32_splits(const Conv2dShape& s) {
  const std::int64_t rows = std::int64_t(s.c / s.groups) * s.kh * s.kw, cols = s.o / s.groups;
  const std::int64_t k_tiles = (std::int64_t(s.n) * s.oh * s.ow + kBK - 1) / kBK;
  if (rows == 0 || cols == 0 || k_tiles == 0) return 1;
  if (depthwise_weight_applies(s)) {  // a block per output channel and slice, each thread >= 8 positions
    const std::int64_t want = (264 + s.o - 1) / s.o, deepest = std::int64_t(s.n) * s.oh * s.ow / (8 * kDwwThreads);
    return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>({want, deepest, 64})));
  }
  const std::int64_t blocks = ((rows + rows_per_block(int(cols)) - 1) / rows_per_block(int(cols))) *
                              ((cols + cols_per_block(int(cols)) - 1) / cols_per_block(int(cols))) * s.groups;
  // Enough blocks to fill a large GPU (~2 waves on 132 SMs), each slice at least 16 k-tiles (128 products) deep.
  const std::int64_t want = (264 + blocks - 1) / blocks, deepest = k_tiles / 16;
  std::int64_t splits = std::min<std::int64_t>({want, deepest, 64});
  return static_cast<int>(std::max<std::int64_t>(splits, 1));
}

void conv2d_backward_weight_f32(const Conv2dShape& s, const float* g, const float* x, float* dw, float* workspace,
                                int splits, int device, cudaStream_t stream) {
  const char* op = "conv2d_backward_weight_f32";
  if (splits < 1 || (splits > 1 && workspace == nullptr)) throw std::invalid_argument(std::string(op) + ": bad splits");
  DeviceGuard guard(device);
  const int cg = s.c / s.groups, og = s.o / s.groups;
  const std::int64_t k_total = std::int64_t(s.n) * s.oh * s.ow, k_tiles = (k_total + kBK - 1) / kBK;
  if (k_total > INT_MAX - kBK) throw std::runtime_error(std::string(op) + ": N*OH*OW exceeds 32-bit indices");
  if (depthwise_weight_applies(s)) {
    if (s.o == 0) return;
    launch_depthwise_backward_weight(s, g, x, splits > 1 ? workspace : dw, splits, stream);
  } else {
    const int k_chunk = static_cast<int>(std::max<std::int64_t>(1, (k_tiles + splits - 1) / splits) * kBK);
    const GemmArgs a{s, g, x, nullptr, splits > 1 ? workspace : dw, splits, k_chunk, 0};
    dispatch<BwdWeightProblem>(op, a, std::int64_t(cg) * s.kh * s.kw, og, std::int64_t(s.groups) * splits, stream);
  }
  if (splits > 1) {
    const std::int64_t size = std::int64_t(s.o) * cg * s.kh * s.kw;
    if (size == 0) return;
    const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(blocks_for(size, 256), 4096));
    FASTNN_LAUNCH(blocks, 256, 0, stream, sum_slices_kernel)(workspace, dw, size, splits);
    check_launch(op);
  }
}

int conv2d_backward_bias_f32_splits(int n, int o, std::int64_t pixels) {
  const std::int64_t total = std::int64_t(n) * pixels;
  if (o == 0 || total == 0) return 1;
  // ~2 waves of blocks on a large GPU, each slice at least 16 entries per thread.
  const std::int64_t want = (264 + o - 1) / o, deepest = total / (16 * kBiasThreads);
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>({want, deepest, 1024})));
}

void conv2d_backward_bias_f32(int n, int o, std::int64_t pixels, const float* g, float* db, float* workspace,
                              int splits, int device, cudaStream_t stream) {
  const char* op = "conv2d_backward_bias_f32";
  if (splits < 1 || (splits > 1 && workspace == nullptr)) throw std::invalid_argument(std::string(op) + ": bad splits");
  if (o == 0) return;
  DeviceGuard guard(device);
  const std::int64_t total = std::int64_t(n) * pixels;
  const std::int64_t chunk = std::max<std::int64_t>(1, (total + splits - 1) / splits);
  if (std::int64_t(o) * splits > INT_MAX) throw std::runtime_error(std::string(op) + ": too many slices");
  // pixels == 0: nothing to add (every channel's sum is 0); any positive extent keeps the walk's arithmetic defined.
  FASTNN_LAUNCH(static_cast<unsigned>(o * splits), kBiasThreads, 0, stream, bias_grad_kernel)(
      g, splits > 1 ? workspace : db, o, pixels > 0 ? pixels : 1, total, chunk);
  check_launch(op);
  if (splits > 1) {
    FASTNN_LAUNCH(blocks_for(o, 256), 256, 0, stream, sum_slices_kernel)(workspace, db, std::int64_t(o), splits);
    check_launch(op);
  }
}

}  // namespace fastnn::FASTNN_CUDA_NS
