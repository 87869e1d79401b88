// Flash attention in float32 (FlashAttention-2 style), the twin of csrc/cpu/attention_*.cpp and of
// backend/composite/attention.py: the (Lq, Lk) score matrix is never stored.
//
// All three main kernels share one block shape: 128 threads own a 64-row tile ("rows") and stream
// 32-column tiles ("cols") through shared memory. Thread (ty = tid / 8, tx = tid % 8) holds the 4x4
// micro-tile of rows ty*4 + r and cols tx + 8c of a score tile, and the accumulator entries of rows
// ty*4 + r and output columns 32j + 4tx + e. A row's 8 threads are 8 consecutive lanes of one warp, so
// row statistics combine with three xor shuffles. Inner loops read float4s only:
//   scores   S[r][c] = sum_d At[d][ty*4 + r] * Bs[tx + 8c][d]   (At transposed, Bs row-major)
//   products acc[r][j] += sum_n Pt[n][ty*4 + r] * Bs[n][32j + 4tx + e]
// with row-major tiles padded to 32*CH + 4 floats a row (conflict-free for both access patterns).
//
//   forward: rows = queries, cols = keys; online softmax with the running max and sum in registers
//            (log2 domain), P through shared memory into O += P V; lse saved per row.
//   backward: delta = rowsum(dO * O) (a warp per row); dK/dV with rows = keys, looping over query
//            tiles; dQ with rows = queries, looping over key tiles. P = exp(S - lse) is recomputed in
//            both; every output element is summed by one thread in a fixed order: no atomics, and the
//            results do not depend on the schedule.
// Causal masking skips whole tiles past the diagonal. CH (32-column chunks of the widest head dim:
// 1, 2 or 4) is the only template parameter. These kernels are SIMT fp32 (exact float32 products, as the
// composite). When the caller allows TF32, an sm_80+ GPU runs them on tensor cores instead
// (attention_tensor_core.cuh: TF32 mma.sync, head dims that are multiples of 8); the emulator runs those
// kernels only when asked (kernel = mma). The backward has the same two paths.
#include <cmath>
#include <stdexcept>
#include <string>

#include "attention.h"
#include "fastnn/cuda/device.h"
#include "launch.h"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kThreads = 128;
constexpr int kRows = 64;       // rows of a block's tile (queries, or keys in dK/dV)
constexpr int kCols = 32;       // cols of a streamed tile
constexpr int kTStride = 68;    // row stride of transposed tiles [depth][kRows] (+4: conflict-free stores)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

struct __align__(16) Vec4 {
  float v[4];
};

__device__ __forceinline__ float neg_inf() { return __int_as_float(static_cast<int>(0xff800000u)); }
__device__ __forceinline__ float pos_inf() { return __int_as_float(0x7f800000); }

__host__ __device__ constexpr int round4(int n) { return (n + 3) / 4 * 4; }
__host__ __device__ constexpr int row_stride(int ch) { return 32 * ch + 4; }

__device__ __forceinline__ std::int64_t head_offset(const AttnTensor& t, int b, int h) { return b * t.s0 + h * t.s1; }

// Cols [col, col + 4) of the row at `row_off`, zero past `width`.
__device__ __forceinline__ Vec4 load4(const AttnTensor& t, std::int64_t row_off, int col, int width) {
  if (t.vec && col + 3 < width) return *reinterpret_cast<const Vec4*>(t.ptr + row_off + col);
  Vec4 x;
FASTNN_UNROLL
  for (int e = 0; e < 4; ++e) x.v[e] = col + e < width ? t.ptr[row_off + (col + e) * t.s3] : 0.f;
  return x;
}

// Rows [row0, row0 + valid) of t (at head offset `off`) into dst[c][r] (kTStride a row) for c < round4(width),
// r < kRows; zeros elsewhere. Consecutive threads take consecutive rows: conflict-free shared stores.
__device__ void load_transposed(float* dst, const AttnTensor& t, std::int64_t off, int row0, int valid, int width) {
  const int chunks = round4(width) / 4;
  for (int idx = threadIdx.x; idx < chunks * kRows; idx += kThreads) {
    const int r = idx % kRows, ch = idx / kRows;
    Vec4 x{{0.f, 0.f, 0.f, 0.f}};
    if (r < valid) x = load4(t, off + (row0 + r) * t.s2, ch * 4, width);
FASTNN_UNROLL
    for (int e = 0; e < 4; ++e) dst[(ch * 4 + e) * kTStride + r] = x.v[e];
  }
}

// Rows [row0, row0 + valid) of t into dst[r][c] (row_stride(CH) a row), r < kCols, c < 32*CH; zeros elsewhere.
template <int CH>
__device__ void load_rows(float* dst, const AttnTensor& t, std::int64_t off, int row0, int valid, int width) {
  constexpr int chunks = 8 * CH;
  for (int idx = threadIdx.x; idx < kCols * chunks; idx += kThreads) {
    const int r = idx / chunks, ch = idx % chunks;
    Vec4 x{{0.f, 0.f, 0.f, 0.f}};
    if (r < valid) x = load4(t, off + (row0 + r) * t.s2, ch * 4, width);
    *reinterpret_cast<Vec4*>(dst + r * row_stride(CH) + ch * 4) = x;
  }
}

// s[r][c] = sum_{d < depth4} At[d][ty*4 + r] * Bs[tx + 8c][d].
__device__ __forceinline__ void score_tile(float (&s)[4][4], const float* At, const float* Bs, int bstride, int depth4,
                                           int ty, int tx) {
FASTNN_UNROLL
  for (int r = 0; r < 4; ++r)
FASTNN_UNROLL
    for (int c = 0; c < 4; ++c) s[r][c] = 0.f;
  for (int d = 0; d < depth4; d += 4) {
    Vec4 b[4];
FASTNN_UNROLL
    for (int c = 0; c < 4; ++c) b[c] = *reinterpret_cast<const Vec4*>(Bs + (tx + 8 * c) * bstride + d);
FASTNN_UNROLL
    for (int dd = 0; dd < 4; ++dd) {
      const Vec4 a = *reinterpret_cast<const Vec4*>(At + (d + dd) * kTStride + ty * 4);
FASTNN_UNROLL
      for (int r = 0; r < 4; ++r)
FASTNN_UNROLL
        for (int c = 0; c < 4; ++c) s[r][c] += a.v[r] * b[c].v[dd];
    }
  }
}

// acc[r][4j + e] += sum_{n < kCols} Pt[n][ty*4 + r] * Bs[n][32j + 4tx + e], for the chunks j inside `width`.
template <int CH>
__device__ __forceinline__ void accumulate(float (&acc)[4][4 * CH], const float* Pt, const float* Bs, int width, int ty,
                                           int tx) {
  for (int n = 0; n < kCols; ++n) {
    const Vec4 p = *reinterpret_cast<const Vec4*>(Pt + n * kTStride + ty * 4);
FASTNN_UNROLL
    for (int j = 0; j < CH; ++j) {
      if (32 * j >= width) continue;
      const Vec4 b = *reinterpret_cast<const Vec4*>(Bs + n * row_stride(CH) + 32 * j + 4 * tx);
FASTNN_UNROLL
      for (int r = 0; r < 4; ++r)
FASTNN_UNROLL
        for (int e = 0; e < 4; ++e) acc[r][4 * j + e] += p.v[r] * b.v[e];
    }
  }
}

// Pt[tx + 8c][ty*4 + r] = s[r][c] (one float4 store per c).
__device__ __forceinline__ void store_transposed(float* Pt, const float (&s)[4][4], int ty, int tx) {
FASTNN_UNROLL
  for (int c = 0; c < 4; ++c) {
    const Vec4 x{{s[0][c], s[1][c], s[2][c], s[3][c]}};
    *reinterpret_cast<Vec4*>(Pt + (tx + 8 * c) * kTStride + ty * 4) = x;
  }
}

__device__ __forceinline__ float row_reduce_max(float x) {
  for (int o = 1; o < 8; o <<= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float row_reduce_sum(float x) {
  for (int o = 1; o < 8; o <<= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// The score of query i and key n in log2 units: dot * scale * log2(e) plus the mask, -inf where the key
// takes no part (past Lk or Lq, above the causal diagonal, or masked out).
__device__ __forceinline__ float logit(float dot, int i, int n, const AttentionShape& sh, const AttnMask& m,
                                       std::int64_t moff, float scale_log2) {
  if (n >= sh.lk || i >= sh.lq || (sh.causal && n > i)) return neg_inf();
  float x = dot * scale_log2;
  if (m.kind != AttnMaskKind::none) {
    const std::int64_t at = moff + i * m.s2 + n * m.s3;
    if (m.kind == AttnMaskKind::boolean) {
      if (!static_cast<const unsigned char*>(m.ptr)[at]) return neg_inf();
    } else {
      x += static_cast<const float*>(m.ptr)[at] * kLog2e;
    }
  }
  return x;
}

__device__ __forceinline__ std::int64_t mask_offset(const AttnMask& m, int b, int h) { return b * m.s0 + h * m.s1; }

// ---- forward ------------------------------------------------------------------------------------------------

template <int CH>
__global__ void __launch_bounds__(kThreads) attention_forward_kernel(AttentionForwardArgs a) {
  FASTNN_DYNAMIC_SHARED(float, smem);
  const AttentionShape& sh = a.shape;
  const int d4 = round4(sh.d);
  float* Qt = smem;                          // [d4][kTStride]
  float* Ks = Qt + d4 * kTStride;            // [kCols][row_stride]
  float* Vs = Ks + kCols * row_stride(CH);   // [kCols][row_stride]
  float* Pt = Vs + kCols * row_stride(CH);   // [kCols][kTStride]
  const int tid = threadIdx.x, tx = tid & 7, ty = tid >> 3;
  const int bh = blockIdx.x, b = bh / sh.heads, h = bh % sh.heads;
  const int q0 = (gridDim.y - 1 - blockIdx.y) * kRows;  // the longest causal tiles start first
  const std::int64_t koff = head_offset(a.k, b, h), voff = head_offset(a.v, b, h), moff = mask_offset(a.mask, b, h);
  const float scale_log2 = sh.scale * kLog2e;

  load_transposed(Qt, a.q, head_offset(a.q, b, h), q0, min(kRows, sh.lq - q0), sh.d);

  float m[4], l[4], acc[4][4 * CH];
FASTNN_UNROLL
  for (int r = 0; r < 4; ++r) {
    m[r] = neg_inf();
    l[r] = 0.f;
FASTNN_UNROLL
    for (int j = 0; j < 4 * CH; ++j) acc[r][j] = 0.f;
  }

  const int n_end = sh.causal ? min(sh.lk, q0 + kRows) : sh.lk;
  for (int n0 = 0; n0 < n_end; n0 += kCols) {
    const int valid = min(kCols, sh.lk - n0);
    load_rows<CH>(Ks, a.k, koff, n0, valid, sh.d);
    load_rows<CH>(Vs, a.v, voff, n0, valid, sh.dv);
    __syncthreads();  // ATTN_FWD_BARRIER_LOADED: Q, K and V tiles in place

    float s[4][4];
    score_tile(s, Qt, Ks, row_stride(CH), d4, ty, tx);
FASTNN_UNROLL
    for (int r = 0; r < 4; ++r) {
      const int i = q0 + ty * 4 + r;
      float mt = neg_inf();
FASTNN_UNROLL
      for (int c = 0; c < 4; ++c) {
        s[r][c] = logit(s[r][c], i, n0 + tx + 8 * c, sh, a.mask, moff, scale_log2);
        mt = fmaxf(mt, s[r][c]);
      }
      const float m_new = fmaxf(m[r], row_reduce_max(mt));
      // A row with no live key yet keeps m = -inf, l = 0 and acc = 0: exponents relative to 0 give P = 0.
      const float base = m_new == neg_inf() ? 0.f : m_new;
      const float alpha = exp2f(m[r] - base);
      m[r] = m_new;
      float ls = 0.f;
FASTNN_UNROLL
      for (int c = 0; c < 4; ++c) {
        s[r][c] = exp2f(s[r][c] - base);
        ls += s[r][c];
      }
      l[r] = l[r] * alpha + ls;  // this thread's part of the row sum; the 8 parts are added at the end
FASTNN_UNROLL
      for (int j = 0; j < 4 * CH; ++j) acc[r][j] *= alpha;
    }
    store_transposed(Pt, s, ty, tx);
    __syncthreads();  // ATTN_FWD_BARRIER_P: P complete
    accumulate<CH>(acc, Pt, Vs, sh.dv, ty, tx);
    __syncthreads();  // ATTN_FWD_BARRIER_CONSUMED: K, V and P read before the next tile overwrites them
  }

FASTNN_UNROLL
  for (int r = 0; r < 4; ++r) {
    const float total = row_reduce_sum(l[r]);
    const int i = q0 + ty * 4 + r;
    if (i >= sh.lq) continue;
    // Dead: no live key (every score -inf or masked: each P is exp2(-inf) = 0), 0 as torch's safe softmax
    // gives. A NaN score (a NaN in q or k; fmaxf drops it from m) makes total NaN and the row NaN, as torch's
    // math backend and the CPU kernel give (`m == -inf` alone called a row of NaN scores dead: zeros).
    const bool dead = total == 0.f;
    const float inv = dead ? 0.f : 1.f / total;
    float* o = a.out + (std::int64_t(bh) * sh.lq + i) * sh.dv;
FASTNN_UNROLL
    for (int j = 0; j < CH; ++j)
FASTNN_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int col = 32 * j + 4 * tx + e;
        if (col < sh.dv) o[col] = dead ? 0.f : acc[r][4 * j + e] * inv;
      }
    if (tx == 0) a.lse[std::int64_t(bh) * sh.lq + i] = dead ? neg_inf() : m[r] * kLn2 + logf(total);
  }
}

// ---- backward -----------------------------------------------------------------------------------------------

constexpr int kDeltaWarps = 4;

// delta[row] = sum_c grad_out[row][c] * out[row][c]: one warp per (batch, head, query) row, fixed order.
__global__ void attention_delta_kernel(AttentionBackwardArgs a) {
  const AttentionShape& sh = a.shape;
  const int lane = threadIdx.x % 32;
  const std::int64_t row = std::int64_t(blockIdx.x) * kDeltaWarps + threadIdx.x / 32;
  const std::int64_t rows = std::int64_t(sh.batch) * sh.heads * sh.lq;
  if (row >= rows) return;  // whole warps leave together
  const int i = static_cast<int>(row % sh.lq);
  const int bh = static_cast<int>(row / sh.lq), b = bh / sh.heads, h = bh % sh.heads;
  const float* g = a.grad_out.ptr + head_offset(a.grad_out, b, h) + i * a.grad_out.s2;
  const float* o = a.out.ptr + head_offset(a.out, b, h) + i * a.out.s2;
  float s = 0.f;
  for (int c = lane; c < sh.dv; c += 32) s += g[c * a.grad_out.s3] * o[c * a.out.s3];
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  if (lane == 0) a.delta[row] = s;
}

// log2-domain lse of query row i for recomputing P = exp2(x - lse2): +inf for a dead or absent row (P = 0).
__device__ __forceinline__ float lse2_of(const AttentionBackwardArgs& a, int bh, int i) {
  if (i >= a.shape.lq) return pos_inf();
  const float v = a.lse[std::int64_t(bh) * a.shape.lq + i];
  return v == neg_inf() ? pos_inf() : v * kLog2e;
}

// dQ: rows = queries of one tile, looping over key tiles. dq[i] = scale * sum_n P (dP - delta) k[n].
template <int CH>
__global__ void __launch_bounds__(kThreads) attention_dq_kernel(AttentionBackwardArgs a) {
  FASTNN_DYNAMIC_SHARED(float, smem);
  const AttentionShape& sh = a.shape;
  const int d4 = round4(sh.d), dv4 = round4(sh.dv);
  float* Qt = smem;                          // [d4][kTStride]
  float* dOt = Qt + d4 * kTStride;           // [dv4][kTStride]
  float* Ks = dOt + dv4 * kTStride;          // [kCols][row_stride]
  float* Vs = Ks + kCols * row_stride(CH);   // [kCols][row_stride]
  float* dSt = Vs + kCols * row_stride(CH);  // [kCols][kTStride]
  const int tid = threadIdx.x, tx = tid & 7, ty = tid >> 3;
  const int bh = blockIdx.x, b = bh / sh.heads, h = bh % sh.heads;
  const int q0 = (gridDim.y - 1 - blockIdx.y) * kRows;
  const std::int64_t koff = head_offset(a.k, b, h), voff = head_offset(a.v, b, h), moff = mask_offset(a.mask, b, h);
  const float scale_log2 = sh.scale * kLog2e;
  const int valid_q = min(kRows, sh.lq - q0);

  load_transposed(Qt, a.q, head_offset(a.q, b, h), q0, valid_q, sh.d);
  load_transposed(dOt, a.grad_out, head_offset(a.grad_out, b, h), q0, valid_q, sh.dv);
  float lse2[4], delta[4], acc[4][4 * CH];
FASTNN_UNROLL
  for (int r = 0; r < 4; ++r) {
    const int i = q0 + ty * 4 + r;
    lse2[r] = lse2_of(a, bh, i);
    delta[r] = i < sh.lq ? a.delta[std::int64_t(bh) * sh.lq + i] : 0.f;
FASTNN_UNROLL
    for (int j = 0; j < 4 * CH; ++j) acc[r][j] = 0.f;
  }

  const int n_end = sh.causal ? min(sh.lk, q0 + kRows) : sh.lk;
  for (int n0 = 0; n0 < n_end; n0 += kCols) {
    const int valid = min(kCols, sh.lk - n0);
    load_rows<CH>(Ks, a.k, koff, n0, valid, sh.d);
    load_rows<CH>(Vs, a.v, voff, n0, valid, sh.dv);
    __syncthreads();  // ATTN_DQ_BARRIER_LOADED

    float p[4][4], dp[4][4];
    score_tile(p, Qt, Ks, row_stride(CH), d4, ty, tx);
    score_tile(dp, dOt, Vs, row_stride(CH), dv4, ty, tx);
FASTNN_UNROLL
    for (int r = 0; r < 4; ++r)
FASTNN_UNROLL
      for (int c = 0; c < 4; ++c) {
        const float x = logit(p[r][c], q0 + ty * 4 + r, n0 + tx + 8 * c, sh, a.mask, moff, scale_log2);
        p[r][c] = exp2f(x - lse2[r]) * (dp[r][c] - delta[r]) * sh.scale;  // dS
      }
    store_transposed(dSt, p, ty, tx);
    __syncthreads();  // ATTN_DQ_BARRIER_DS
    accumulate<CH>(acc, dSt, Ks, sh.d, ty, tx);
    __syncthreads();  // ATTN_DQ_BARRIER_CONSUMED
  }

FASTNN_UNROLL
  for (int r = 0; r < 4; ++r) {
    const int i = q0 + ty * 4 + r;
    if (i >= sh.lq) continue;
    float* o = a.dq + (std::int64_t(bh) * sh.lq + i) * sh.d;
FASTNN_UNROLL
    for (int j = 0; j < CH; ++j)
FASTNN_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int col = 32 * j + 4 * tx + e;
        if (col < sh.d) o[col] = acc[r][4 * j + e];
      }
  }
}

// dK and dV: rows = keys of one tile, looping over query tiles. dv[n] = sum_i P dO[i],
// dk[n] = scale * sum_i P (dP - delta) q[i].
template <int CH>
__global__ void __launch_bounds__(kThreads) attention_dkdv_kernel(AttentionBackwardArgs a) {
  FASTNN_DYNAMIC_SHARED(float, smem);
  const AttentionShape& sh = a.shape;
  const int d4 = round4(sh.d), dv4 = round4(sh.dv);
  float* Kt = smem;                           // [d4][kTStride]
  float* Vt = Kt + d4 * kTStride;             // [dv4][kTStride]
  float* Qs = Vt + dv4 * kTStride;            // [kCols][row_stride]
  float* dOs = Qs + kCols * row_stride(CH);   // [kCols][row_stride]
  float* Pt = dOs + kCols * row_stride(CH);   // [kCols][kTStride]: P^T of the tile, [query][key]
  float* dSt = Pt + kCols * kTStride;         // [kCols][kTStride]
  float* lse2s = dSt + kCols * kTStride;      // [kCols]
  float* deltas = lse2s + kCols;              // [kCols]
  const int tid = threadIdx.x, tx = tid & 7, ty = tid >> 3;
  const int bh = blockIdx.x, b = bh / sh.heads, h = bh % sh.heads;
  const int n0 = blockIdx.y * kRows;  // causal: the first key tiles see the most queries and start first
  const std::int64_t qoff = head_offset(a.q, b, h), goff = head_offset(a.grad_out, b, h),
                     moff = mask_offset(a.mask, b, h);
  const float scale_log2 = sh.scale * kLog2e;
  const int valid_k = min(kRows, sh.lk - n0);

  load_transposed(Kt, a.k, head_offset(a.k, b, h), n0, valid_k, sh.d);
  load_transposed(Vt, a.v, head_offset(a.v, b, h), n0, valid_k, sh.dv);
  float dk[4][4 * CH], dv[4][4 * CH];
FASTNN_UNROLL
  for (int r = 0; r < 4; ++r)
FASTNN_UNROLL
    for (int j = 0; j < 4 * CH; ++j) dk[r][j] = dv[r][j] = 0.f;

  // Causal: query i sees key n only when n <= i, so the tiles of queries below n0 are skipped.
  for (int i0 = sh.causal ? n0 / kCols * kCols : 0; i0 < sh.lq; i0 += kCols) {
    const int valid = min(kCols, sh.lq - i0);
    load_rows<CH>(Qs, a.q, qoff, i0, valid, sh.d);
    load_rows<CH>(dOs, a.grad_out, goff, i0, valid, sh.dv);
    if (tid < kCols) {
      lse2s[tid] = lse2_of(a, bh, i0 + tid);
      deltas[tid] = i0 + tid < sh.lq ? a.delta[std::int64_t(bh) * sh.lq + i0 + tid] : 0.f;
    }
    __syncthreads();  // ATTN_DKDV_BARRIER_LOADED

    float p[4][4], ds[4][4];
    score_tile(p, Kt, Qs, row_stride(CH), d4, ty, tx);   // [key r][query c]
    score_tile(ds, Vt, dOs, row_stride(CH), dv4, ty, tx);  // dP^T
FASTNN_UNROLL
    for (int c = 0; c < 4; ++c) {
      const int ci = tx + 8 * c;
      const float l2 = lse2s[ci], dl = deltas[ci];
FASTNN_UNROLL
      for (int r = 0; r < 4; ++r) {
        const float x = logit(p[r][c], i0 + ci, n0 + ty * 4 + r, sh, a.mask, moff, scale_log2);
        p[r][c] = exp2f(x - l2);
        ds[r][c] = p[r][c] * (ds[r][c] - dl) * sh.scale;
      }
    }
    store_transposed(Pt, p, ty, tx);
    store_transposed(dSt, ds, ty, tx);
    __syncthreads();  // ATTN_DKDV_BARRIER_P
    accumulate<CH>(dv, Pt, dOs, sh.dv, ty, tx);
    accumulate<CH>(dk, dSt, Qs, sh.d, ty, tx);
    __syncthreads();  // ATTN_DKDV_BARRIER_CONSUMED
  }

FASTNN_UNROLL
  for (int r = 0; r < 4; ++r) {
    const int n = n0 + ty * 4 + r;
    if (n >= sh.lk) continue;
    float* ok = a.dk + (std::int64_t(bh) * sh.lk + n) * sh.d;
    float* ov = a.dv + (std::int64_t(bh) * sh.lk + n) * sh.dv;
FASTNN_UNROLL
    for (int j = 0; j < CH; ++j)
FASTNN_UNROLL
      for (int e = 0; e < 4; ++e) {
        const int col = 32 * j + 4 * tx + e;
        if (col < sh.d) ok[col] = dk[r][4 * j + e];
        if (col < sh.dv) ov[col] = dv[r][4 * j + e];
      }
  }
}

}  // namespace
}  // namespace fastnn::FASTNN_CUDA_NS

// The TF32 tensor-core kernels, built on the helpers above.
#include "attention_tensor_core.cuh"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

// ---- host side ----------------------------------------------------------------------------------------------

int chunks_for(const AttentionShape& sh) {
  const int w = sh.d > sh.dv ? sh.d : sh.dv;
  return w <= 32 ? 1 : (w <= 64 ? 2 : 4);
}

std::size_t forward_smem(const AttentionShape& sh, int ch) {
  return sizeof(float) * (std::size_t(round4(sh.d)) * kTStride + 2 * kCols * row_stride(ch) + kCols * kTStride);
}
std::size_t dq_smem(const AttentionShape& sh, int ch) {
  return sizeof(float) * (std::size_t(round4(sh.d) + round4(sh.dv)) * kTStride + 2 * kCols * row_stride(ch) +
                          kCols * kTStride);
}
std::size_t dkdv_smem(const AttentionShape& sh, int ch) {
  return sizeof(float) * (std::size_t(round4(sh.d) + round4(sh.dv)) * kTStride + 2 * kCols * row_stride(ch) +
                          2 * kCols * kTStride + 2 * kCols);
}

// Dynamic shared memory past the default 48 KiB needs the kernel's opt-in on the GPU.
template <class... P>
void allow_smem(void (*kernel)(P...), std::size_t bytes, const char* op) {
#if defined(FASTNN_CUDA_EMULATOR)
  (void)kernel, (void)bytes, (void)op;
#else
  if (bytes <= 48 * 1024) return;
  const cudaError_t err =
      cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(bytes));
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error(std::string(op) + ": cannot use " + std::to_string(bytes) +
                             " bytes of shared memory: " + cudaGetErrorString(err));
  }
#endif
}

void check_grid(const AttentionShape& sh, const char* op) {
  const std::int64_t bh = std::int64_t(sh.batch) * sh.heads;
  const int longest = sh.lq > sh.lk ? sh.lq : sh.lk;
  if (bh > 2147483647 || (longest + kRows - 1) / kRows > 65535) {
    throw std::runtime_error(std::string(op) + ": batch * heads or the sequence length exceeds the launch grid");
  }
}

template <int CH>
void launch_forward(const AttentionForwardArgs& a, cudaStream_t stream) {
  const std::size_t smem = forward_smem(a.shape, CH);
  allow_smem(attention_forward_kernel<CH>, smem, "attention_forward_f32");
  const dim3 grid(static_cast<unsigned>(a.shape.batch * a.shape.heads), blocks_for(a.shape.lq, kRows));
  FASTNN_LAUNCH(grid, kThreads, smem, stream, attention_forward_kernel<CH>)(a);
}

template <int HD>
void launch_forward_mma(const AttentionForwardArgs& a, cudaStream_t stream) {
  const std::size_t smem = tc_forward_smem(HD);
  allow_smem(attention_forward_mma_kernel<HD>, smem, "attention_forward_f32");
  const dim3 grid(static_cast<unsigned>(a.shape.batch * a.shape.heads), blocks_for(a.shape.lq, kTcQRows));
  FASTNN_LAUNCH(grid, kThreads, smem, stream, attention_forward_mma_kernel<HD>)(a);
}

enum class Path { none, simt, mma_tf32 };

// `empty`: nothing to compute. The mma path when asked, or (on a GPU) when TF32 is allowed, the head dims
// fit and the device has tensor cores; SIMT otherwise.
Path choose(const AttentionShape& sh, bool empty, bool allow_tf32, AttnKernel kernel, int device) {
  if (empty) return Path::none;
  if (kernel == AttnKernel::mma) return Path::mma_tf32;
  if (kernel == AttnKernel::simt) return Path::simt;
#if !defined(FASTNN_CUDA_EMULATOR)
  if (allow_tf32 && sh.lk > 0 && tc_fits(sh) && mma_detail::tensor_cores_available(device)) return Path::mma_tf32;
#else
  (void)sh, (void)allow_tf32, (void)device;  // the emulator's own choice is SIMT: its mma is an emulation, for tests
#endif
  return Path::simt;
}

// The checks of an mma request, before the empty-problem return: the request itself is wrong.
void check_mma_request(const AttentionShape& sh, bool allow_tf32, const char* op) {
  if (!allow_tf32) {
    throw std::invalid_argument(std::string(op) + ": the tensor-core kernel runs float32 as TF32: it needs allow_tf32");
  }
  if (!tc_fits(sh)) {
    throw std::invalid_argument(std::string(op) + ": the tensor-core kernel needs head dims that are multiples of 8, "
                                "got D = " + std::to_string(sh.d) + " and Dv = " + std::to_string(sh.dv));
  }
}

void check_tensor_cores(int device, const char* op) {
  if (!mma_detail::tensor_cores_available(device)) {
    throw std::runtime_error(std::string(op) + ": CUDA device " + std::to_string(device) +
                             " has no tensor cores for TF32 (compute capability 8.0 or newer)");
  }
}

bool forward_empty(const AttentionShape& sh) { return sh.batch == 0 || sh.heads == 0 || sh.lq == 0; }
bool backward_empty(const AttentionShape& sh) { return sh.batch == 0 || sh.heads == 0 || (sh.lq == 0 && sh.lk == 0); }

template <int HD>
void launch_backward_mma(const AttentionBackwardArgs& a, cudaStream_t stream) {
  const AttentionShape& sh = a.shape;
  const unsigned bh = static_cast<unsigned>(sh.batch * sh.heads);
  const std::size_t smem = tc_backward_smem(HD);
  if (sh.lq > 0) {
    FASTNN_LAUNCH(blocks_for(std::int64_t(bh) * sh.lq, kDeltaWarps), 32 * kDeltaWarps, 0, stream,
                  attention_delta_kernel)(a);
    allow_smem(attention_dq_mma_kernel<HD>, smem, "attention_backward_f32");
    FASTNN_LAUNCH(dim3(bh, blocks_for(sh.lq, kTcQRows)), kThreads, smem, stream, attention_dq_mma_kernel<HD>)(a);
  }
  if (sh.lk > 0) {
    allow_smem(attention_dkdv_mma_kernel<HD>, smem, "attention_backward_f32");
    FASTNN_LAUNCH(dim3(bh, blocks_for(sh.lk, kTcQRows)), kThreads, smem, stream, attention_dkdv_mma_kernel<HD>)(a);
  }
}

template <int CH>
void launch_backward(const AttentionBackwardArgs& a, cudaStream_t stream) {
  const AttentionShape& sh = a.shape;
  const unsigned bh = static_cast<unsigned>(sh.batch * sh.heads);
  if (sh.lq > 0) {
    FASTNN_LAUNCH(blocks_for(std::int64_t(bh) * sh.lq, kDeltaWarps), 32 * kDeltaWarps, 0, stream,
                  attention_delta_kernel)(a);
    const std::size_t smem = dq_smem(sh, CH);
    allow_smem(attention_dq_kernel<CH>, smem, "attention_backward_f32");
    FASTNN_LAUNCH(dim3(bh, blocks_for(sh.lq, kRows)), kThreads, smem, stream, attention_dq_kernel<CH>)(a);
  }
  if (sh.lk > 0) {
    const std::size_t smem = dkdv_smem(sh, CH);
    allow_smem(attention_dkdv_kernel<CH>, smem, "attention_backward_f32");
    FASTNN_LAUNCH(dim3(bh, blocks_for(sh.lk, kRows)), kThreads, smem, stream, attention_dkdv_kernel<CH>)(a);
  }
}

}  // namespace

const char* attention_forward_kernel_name(const AttentionForwardArgs& a, int device) {
  switch (choose(a.shape, forward_empty(a.shape), a.allow_tf32, a.kernel, device)) {
    case Path::none: return "none";
    case Path::simt: return "simt";
    case Path::mma_tf32: return "mma_tf32";
  }
  return "none";
}

void attention_forward_f32(const AttentionForwardArgs& a, int device, cudaStream_t stream) {
  const char* op = "attention_forward_f32";
  const AttentionShape& sh = a.shape;
  const Path path = choose(sh, forward_empty(sh), a.allow_tf32, a.kernel, device);
  if (path == Path::mma_tf32) check_mma_request(sh, a.allow_tf32, op);
  if (path == Path::none) return;
  check_grid(sh, op);
  DeviceGuard guard(device);
  if (path == Path::mma_tf32) {
    check_tensor_cores(device, op);
    switch (tc_head_dim(sh)) {
      case 16: launch_forward_mma<16>(a, stream); break;
      case 32: launch_forward_mma<32>(a, stream); break;
      case 64: launch_forward_mma<64>(a, stream); break;
      default: launch_forward_mma<128>(a, stream); break;
    }
  } else {
    switch (chunks_for(sh)) {
      case 1: launch_forward<1>(a, stream); break;
      case 2: launch_forward<2>(a, stream); break;
      default: launch_forward<4>(a, stream); break;
    }
  }
  check_launch(op);
}

void attention_backward_f32(const AttentionBackwardArgs& a, int device, cudaStream_t stream) {
  const char* op = "attention_backward_f32";
  const AttentionShape& sh = a.shape;
  const Path path = choose(sh, backward_empty(sh), a.allow_tf32, a.kernel, device);
  if (path == Path::mma_tf32) check_mma_request(sh, a.allow_tf32, op);
  if (path == Path::none) return;
  check_grid(sh, op);
  DeviceGuard guard(device);
  if (path == Path::mma_tf32) {
    check_tensor_cores(device, op);
    switch (tc_head_dim(sh)) {
      case 16: launch_backward_mma<16>(a, stream); break;
      case 32: launch_backward_mma<32>(a, stream); break;
      case 64: launch_backward_mma<64>(a, stream); break;
      default: launch_backward_mma<128>(a, stream); break;
    }
  } else {
    switch (chunks_for(sh)) {
      case 1: launch_backward<1>(a, stream); break;
      case 2: launch_backward<2>(a, stream); break;
      default: launch_backward<4>(a, stream); break;
    }
  }
  check_launch(op);
}

}  // namespace fastnn::FASTNN_CUDA_NS
