// Flash attention on tensor cores (sm_80+): S = Q K^T and O += P V as TF32 mma.sync m16n8k8 tiles with
// fp32 accumulation (mma.cuh), the online softmax on the accumulator fragments in registers; and the
// backward's dQ and dK / dV kernels built from the same two tile products (see below). Taken
// for float32 when the caller allows TF32 (allow_tf32) and both head dims are multiples of the mma k (8);
// the SIMT kernels of attention.cu stay the exact-fp32 path and the fallback. Included by attention.cu
// after its helpers (logit, load4, head_offset, ...), which it uses: the same masks, causal rule, dead
// rows (out 0, lse -inf) and lse as the SIMT forward.
//
// A block is 4 warps over 64 query rows, each warp a 16-row mma tile of its own; key tiles of 32 stream
// through shared memory. Q, K and V are stored there already rounded to tf32 (cvt.rna at the store), as
// [row][HD + 4] words: the fragment reads (lane = 4 * group + t reads row group / word t of Q and K, and
// V rows 2t, 2t + 1 / word group) hit 32 distinct banks. Per key tile and warp:
//   S (16 x 32: 4 mma n-tiles, 16 fp32 a lane) = Q K^T over d / 8 k-steps;
//   the scores become log2-domain logits in place (scale, mask, causal, tails), the running max / sum of
//   a lane's two rows (group, group + 8) combine over the lane's quad with two xor shuffles;
//   O (16 x Dv: HD / 8 n-tiles, 4 fp32 a lane each) is rescaled and += P V, P taken straight from the S
//   accumulators: an accumulator holds keys 2t, 2t + 1 where an A fragment wants k = t, t + 4, so each
//   8-key step uses the k order (2t -> t, 2t + 1 -> t + 4) and reads V rows in that same order: no shuffle.
// Two barriers per key tile (tiles loaded; tiles consumed), none around P, which never leaves registers.
// Warps with no rows left (the last query tile) or, causal, no key to see in a tile skip its mma work.
// The backward keeps the SIMT split (attention.cu's delta kernel, then dQ over key tiles and dK / dV over
// query tiles, no atomics): dQ (rows = queries) computes S = Q K^T and dP = dO V^T as score tiles,
// dS = P (dP - delta) scale in their registers and dQ += dS K; dK / dV (rows = keys, 4 warps x 16) computes
// P^T = K Q^T, dP^T = V dO^T, then dV += P^T dO and dK += dS^T Q. Their fp32 accumulators for HD = 128
// (dK and dV: 128 a lane) are the register peak.
//
// Under FASTNN_CUDA_EMULATOR the instructions are mma.cuh's emulation: the launcher takes this kernel there
// only when asked (kernel="mma"), so CI runs its tiling and fragment indexing on tiny shapes.
#pragma once

#include "mma.cuh"

namespace fastnn::FASTNN_CUDA_NS {
namespace {

constexpr int kTcQRows = 64;            // query rows of a block: 4 warps x 16
constexpr int kTcKCols = 32;            // keys of a streamed tile: 4 mma n-tiles of 8
constexpr int kTcWarps = kTcQRows / 16;  // = kThreads / 32
static_assert(kTcWarps * 32 == kThreads, "the tensor-core forward uses the SIMT kernels' block size");

__host__ __device__ constexpr int tc_stride(int hd) { return hd + 4; }

std::size_t tc_forward_smem(int hd) {
  return sizeof(std::uint32_t) * std::size_t(kTcQRows + 2 * kTcKCols) * tc_stride(hd);
}

#if FASTNN_MMA_BODY
// Rows [row0, row0 + valid) of t into dst[r][c] (tc_stride(HD) words a row) as tf32 words, for
// r < rows and c < width (a multiple of 4); zero words for the rows past `valid`. Consecutive threads take
// consecutive 16-byte chunks of a row: coalesced loads.
template <int HD>
__device__ void tc_load_rows(std::uint32_t* dst, int rows, const AttnTensor& t, std::int64_t off, int row0, int valid,
                             int width) {
  const int chunks = width / 4;
  for (int idx = threadIdx.x; idx < rows * chunks; idx += kThreads) {
    const int r = idx / chunks, ch = idx % chunks;
    Vec4 x{{0.f, 0.f, 0.f, 0.f}};
    if (r < valid) x = load4(t, off + std::int64_t(row0 + r) * t.s2, ch * 4, width);
    uint4 w;
    w.x = mma_detail::to_tf32(x.v[0]);
    w.y = mma_detail::to_tf32(x.v[1]);
    w.z = mma_detail::to_tf32(x.v[2]);
    w.w = mma_detail::to_tf32(x.v[3]);
    *reinterpret_cast<uint4*>(dst + r * tc_stride(HD) + ch * 4) = w;
  }
}

// The warp's 16 x 32 score tile: acc[nt][e] = sum_{k < depth} A[r][k] B[8 nt + c][k] for the accumulator
// element e of n-tile nt (r = group + 8 (e / 2), c = 2t + e % 2). A: the warp's first row, B: the tile's
// first row, both kS words a row; depth a multiple of 8.
template <int kS>
__device__ __forceinline__ void tc_scores(float (&acc)[4][4], const std::uint32_t* A, const std::uint32_t* B, int depth,
                                          int group, int t) {
FASTNN_UNROLL
  for (int nt = 0; nt < 4; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.f;
  for (int ks = 0; ks < depth; ks += 8) {
    const std::uint32_t* ar = A + group * kS + ks + t;
    const std::uint32_t af[4] = {ar[0], ar[8 * kS], ar[4], ar[8 * kS + 4]};
FASTNN_UNROLL
    for (int nt = 0; nt < 4; ++nt) {
      const std::uint32_t* br = B + (nt * 8 + group) * kS + ks + t;
      const std::uint32_t bf[2] = {br[0], br[4]};
      mma_detail::mma<false>(acc[nt], af, bf);
    }
  }
}

// o[j] += P B for the output n-tiles j < width / 8: P the warp's 16 x 32 tile in score-accumulator layout
// (as tc_scores leaves it), B 32 rows of kS words. Each 8-row step of B uses the k order row 2t -> k t,
// row 2t + 1 -> k t + 4, so P's accumulators are its A fragment as they are: no shuffle.
template <int kS, int kNv>
__device__ __forceinline__ void tc_accumulate(float (&o)[kNv][4], const float (&p)[4][4], const std::uint32_t* B,
                                              int width, int group, int t) {
FASTNN_UNROLL
  for (int nt = 0; nt < 4; ++nt) {
    const std::uint32_t pf[4] = {mma_detail::to_tf32(p[nt][0]), mma_detail::to_tf32(p[nt][2]),
                                 mma_detail::to_tf32(p[nt][1]), mma_detail::to_tf32(p[nt][3])};
    const std::uint32_t* br = B + (nt * 8 + 2 * t) * kS + group;
FASTNN_UNROLL
    for (int j = 0; j < kNv; ++j) {
      if (8 * j >= width) break;  // uniform: width is a multiple of 8
      const std::uint32_t bf[2] = {br[8 * j], br[kS + 8 * j]};
      mma_detail::mma<false>(o[j], pf, bf);
    }
  }
}

// Rows r and r + 8 (r = group) of a warp's 16 x (8 kNv) accumulator into dst (ld floats a row, rows past
// `rows` left out), the n-tiles inside `width`: 8-byte stores (width and ld multiples of 8 floats).
template <int kNv>
__device__ __forceinline__ void tc_store(float* dst, std::int64_t ld, int rows, const float (&o)[kNv][4], int width,
                                         int group, int t) {
FASTNN_UNROLL
  for (int half = 0; half < 2; ++half) {
    const int r = group + 8 * half;
    if (r >= rows) continue;
FASTNN_UNROLL
    for (int j = 0; j < kNv; ++j) {
      if (8 * j >= width) break;
      float2 v;
      v.x = o[j][2 * half];
      v.y = o[j][2 * half + 1];
      *reinterpret_cast<float2*>(dst + r * ld + 8 * j + 2 * t) = v;
    }
  }
}
#endif

// HD: the padded head dim (16, 32, 64 or 128), at least d and dv, both multiples of 8.
template <int HD>
__global__ void __launch_bounds__(kThreads, 4) attention_forward_mma_kernel(AttentionForwardArgs a) {
#if FASTNN_MMA_BODY
  constexpr int kS = tc_stride(HD), kNv = HD / 8;
  FASTNN_DYNAMIC_SHARED(std::uint32_t, smem);
  std::uint32_t* Qs = smem;                  // [kTcQRows][kS]
  std::uint32_t* Ks = Qs + kTcQRows * kS;    // [kTcKCols][kS]
  std::uint32_t* Vs = Ks + kTcKCols * kS;    // [kTcKCols][kS]
  const AttentionShape& sh = a.shape;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, group = lane / 4, t = lane % 4;
  const int bh = blockIdx.x, b = bh / sh.heads, h = bh % sh.heads;
  const int q0 = (gridDim.y - 1 - blockIdx.y) * kTcQRows;  // the longest causal tiles start first
  const int wrow = warp * 16;                               // the warp's rows within the block tile
  const int i0 = q0 + wrow + group, i1 = i0 + 8;            // this lane's two query rows
  const std::int64_t koff = head_offset(a.k, b, h), voff = head_offset(a.v, b, h), moff = mask_offset(a.mask, b, h);
  const float scale_log2 = sh.scale * kLog2e;

  tc_load_rows<HD>(Qs, kTcQRows, a.q, head_offset(a.q, b, h), q0, min(kTcQRows, sh.lq - q0), sh.d);

  float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.f, 0.f}, o[kNv][4];
FASTNN_UNROLL
  for (int j = 0; j < kNv; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;

  const bool warp_live = q0 + wrow < sh.lq;
  const int n_end = sh.causal ? min(sh.lk, q0 + kTcQRows) : sh.lk;
  for (int n0 = 0; n0 < n_end; n0 += kTcKCols) {
    const int valid = min(kTcKCols, sh.lk - n0);
    tc_load_rows<HD>(Ks, kTcKCols, a.k, koff, n0, valid, sh.d);
    tc_load_rows<HD>(Vs, kTcKCols, a.v, voff, n0, valid, sh.dv);
    __syncthreads();  // ATTN_MMA_FWD_BARRIER_LOADED: Q, K and V tiles in place

    // A warp whose rows are all past Lq (the last query tile), or, causal, all precede the tile's first key,
    // has nothing to add (warp-uniform) and only helps load.
    if (warp_live && (!sh.causal || n0 <= q0 + wrow + 15)) {
      float s[4][4];
      tc_scores<kS>(s, Qs + wrow * kS, Ks, sh.d, group, t);

      // s[nt][e]: row (e < 2 ? i0 : i1), key n0 + 8 nt + 2t + e % 2.
      float mt[2] = {neg_inf(), neg_inf()};
FASTNN_UNROLL
      for (int nt = 0; nt < 4; ++nt)
FASTNN_UNROLL
        for (int e = 0; e < 4; ++e) {
          s[nt][e] = logit(s[nt][e], e < 2 ? i0 : i1, n0 + 8 * nt + 2 * t + e % 2, sh, a.mask, moff, scale_log2);
          mt[e / 2] = fmaxf(mt[e / 2], s[nt][e]);
        }
      float base[2], alpha[2];
FASTNN_UNROLL
      for (int r = 0; r < 2; ++r) {
        mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 1));
        mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 2));
        const float m_new = fmaxf(m[r], mt[r]);
        // A row with no live key yet keeps m = -inf, l = 0 and o = 0: exponents relative to 0 give P = 0.
        base[r] = m_new == neg_inf() ? 0.f : m_new;
        alpha[r] = exp2f(m[r] - base[r]);
        m[r] = m_new;
        l[r] *= alpha[r];  // this lane's part of the row sum; the quad's 4 parts are added at the end
      }
FASTNN_UNROLL
      for (int nt = 0; nt < 4; ++nt)
FASTNN_UNROLL
        for (int e = 0; e < 4; ++e) {
          s[nt][e] = exp2f(s[nt][e] - base[e / 2]);
          l[e / 2] += s[nt][e];
        }
FASTNN_UNROLL
      for (int j = 0; j < kNv; ++j) {
        o[j][0] *= alpha[0];
        o[j][1] *= alpha[0];
        o[j][2] *= alpha[1];
        o[j][3] *= alpha[1];
      }

      tc_accumulate<kS, kNv>(o, s, Vs, sh.dv, group, t);  // O += P V
    }
    __syncthreads();  // ATTN_MMA_FWD_BARRIER_CONSUMED: K and V read before the next tile overwrites them
  }

FASTNN_UNROLL
  for (int r = 0; r < 2; ++r) {
    float total = l[r];
    total += __shfl_xor_sync(0xffffffffu, total, 1);
    total += __shfl_xor_sync(0xffffffffu, total, 2);
    const int i = r == 0 ? i0 : i1;
    if (i >= sh.lq) continue;
    const bool dead = m[r] == neg_inf() || !(total > 0.f);
    const float inv = dead ? 0.f : 1.f / total;
    float* out = a.out + (std::int64_t(bh) * sh.lq + i) * sh.dv;
FASTNN_UNROLL
    for (int j = 0; j < kNv; ++j) {
      if (8 * j >= sh.dv) break;
      float2 v;  // cols 8j + 2t, 8j + 2t + 1: 8-byte aligned (dv is a multiple of 8, out contiguous)
      v.x = dead ? 0.f : o[j][2 * r] * inv;
      v.y = dead ? 0.f : o[j][2 * r + 1] * inv;
      *reinterpret_cast<float2*>(out + 8 * j + 2 * t) = v;
    }
    if (t == 0) a.lse[std::int64_t(bh) * sh.lq + i] = dead ? neg_inf() : m[r] * kLn2 + logf(total);
  }
#else
  (void)a;
#endif
}

// ---- backward: dQ (rows = queries) and dK / dV (rows = keys), the SIMT backward's split and delta ---------

// dq[i] = scale * sum_n P (dP - delta) k[n], P = exp2(logit - lse2), dP = dO V^T: per key tile and warp, S and
// dP as tc_scores tiles, dS in their registers, dQ += dS K as tc_accumulate.
template <int HD>
__global__ void __launch_bounds__(kThreads, 2) attention_dq_mma_kernel(AttentionBackwardArgs a) {
#if FASTNN_MMA_BODY
  constexpr int kS = tc_stride(HD), kNv = HD / 8;
  FASTNN_DYNAMIC_SHARED(std::uint32_t, smem);
  std::uint32_t* Qs = smem;                  // [kTcQRows][kS]
  std::uint32_t* dOs = Qs + kTcQRows * kS;   // [kTcQRows][kS]
  std::uint32_t* Ks = dOs + kTcQRows * kS;   // [kTcKCols][kS]
  std::uint32_t* Vs = Ks + kTcKCols * kS;    // [kTcKCols][kS]
  const AttentionShape& sh = a.shape;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, group = lane / 4, t = lane % 4;
  const int bh = blockIdx.x, b = bh / sh.heads, h = bh % sh.heads;
  const int q0 = (gridDim.y - 1 - blockIdx.y) * kTcQRows;
  const int wrow = warp * 16, i0 = q0 + wrow + group, i1 = i0 + 8;
  const std::int64_t koff = head_offset(a.k, b, h), voff = head_offset(a.v, b, h), moff = mask_offset(a.mask, b, h);
  const float scale_log2 = sh.scale * kLog2e;
  const int valid_q = min(kTcQRows, sh.lq - q0);

  tc_load_rows<HD>(Qs, kTcQRows, a.q, head_offset(a.q, b, h), q0, valid_q, sh.d);
  tc_load_rows<HD>(dOs, kTcQRows, a.grad_out, head_offset(a.grad_out, b, h), q0, valid_q, sh.dv);
  const float lse2[2] = {lse2_of(a, bh, i0), lse2_of(a, bh, i1)};
  const float delta[2] = {i0 < sh.lq ? a.delta[std::int64_t(bh) * sh.lq + i0] : 0.f,
                          i1 < sh.lq ? a.delta[std::int64_t(bh) * sh.lq + i1] : 0.f};
  float dq[kNv][4];
FASTNN_UNROLL
  for (int j = 0; j < kNv; ++j) dq[j][0] = dq[j][1] = dq[j][2] = dq[j][3] = 0.f;

  const bool warp_live = q0 + wrow < sh.lq;
  const int n_end = sh.causal ? min(sh.lk, q0 + kTcQRows) : sh.lk;
  for (int n0 = 0; n0 < n_end; n0 += kTcKCols) {
    const int valid = min(kTcKCols, sh.lk - n0);
    tc_load_rows<HD>(Ks, kTcKCols, a.k, koff, n0, valid, sh.d);
    tc_load_rows<HD>(Vs, kTcKCols, a.v, voff, n0, valid, sh.dv);
    __syncthreads();  // ATTN_MMA_DQ_BARRIER_LOADED

    if (warp_live && (!sh.causal || n0 <= q0 + wrow + 15)) {
      float p[4][4], dp[4][4];
      tc_scores<kS>(p, Qs + wrow * kS, Ks, sh.d, group, t);
      tc_scores<kS>(dp, dOs + wrow * kS, Vs, sh.dv, group, t);
FASTNN_UNROLL
      for (int nt = 0; nt < 4; ++nt)
FASTNN_UNROLL
        for (int e = 0; e < 4; ++e) {
          const float x = logit(p[nt][e], e < 2 ? i0 : i1, n0 + 8 * nt + 2 * t + e % 2, sh, a.mask, moff, scale_log2);
          p[nt][e] = exp2f(x - lse2[e / 2]) * (dp[nt][e] - delta[e / 2]) * sh.scale;  // dS
        }
      tc_accumulate<kS, kNv>(dq, p, Ks, sh.d, group, t);
    }
    __syncthreads();  // ATTN_MMA_DQ_BARRIER_CONSUMED
  }
  tc_store<kNv>(a.dq + (std::int64_t(bh) * sh.lq + q0 + wrow) * sh.d, sh.d, sh.lq - q0 - wrow, dq, sh.d, group, t);
#else
  (void)a;
#endif
}

// dv[n] = sum_i P dO[i], dk[n] = scale * sum_i P (dP - delta) q[i]: rows = keys (4 warps x 16), query tiles
// of 32 streamed; P^T = exp2(logit - lse2) from K Q^T, dP^T = V dO^T, both tc_scores tiles, then
// dV += P^T dO and dK += dS^T Q as tc_accumulate.
template <int HD>
__global__ void __launch_bounds__(kThreads, 2) attention_dkdv_mma_kernel(AttentionBackwardArgs a) {
#if FASTNN_MMA_BODY
  constexpr int kS = tc_stride(HD), kNv = HD / 8;
  FASTNN_DYNAMIC_SHARED(std::uint32_t, smem);
  std::uint32_t* Ks = smem;                  // [kTcQRows][kS]: this block's keys
  std::uint32_t* Vs = Ks + kTcQRows * kS;    // [kTcQRows][kS]
  std::uint32_t* Qs = Vs + kTcQRows * kS;    // [kTcKCols][kS]: the streamed queries
  std::uint32_t* dOs = Qs + kTcKCols * kS;   // [kTcKCols][kS]
  float* lse2s = reinterpret_cast<float*>(dOs + kTcKCols * kS);  // [kTcKCols]
  float* deltas = lse2s + kTcKCols;                               // [kTcKCols]
  const AttentionShape& sh = a.shape;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32, group = lane / 4, t = lane % 4;
  const int bh = blockIdx.x, b = bh / sh.heads, h = bh % sh.heads;
  const int n0 = blockIdx.y * kTcQRows;  // causal: the first key tiles see the most queries and start first
  const int wrow = warp * 16, k0 = n0 + wrow + group, k1 = k0 + 8;  // this lane's two keys
  const std::int64_t qoff = head_offset(a.q, b, h), goff = head_offset(a.grad_out, b, h),
                     moff = mask_offset(a.mask, b, h);
  const float scale_log2 = sh.scale * kLog2e;
  const int valid_k = min(kTcQRows, sh.lk - n0);

  tc_load_rows<HD>(Ks, kTcQRows, a.k, head_offset(a.k, b, h), n0, valid_k, sh.d);
  tc_load_rows<HD>(Vs, kTcQRows, a.v, head_offset(a.v, b, h), n0, valid_k, sh.dv);
  float dk[kNv][4], dv[kNv][4];
FASTNN_UNROLL
  for (int j = 0; j < kNv; ++j)
FASTNN_UNROLL
    for (int e = 0; e < 4; ++e) dk[j][e] = dv[j][e] = 0.f;

  const bool warp_live = n0 + wrow < sh.lk;
  // Causal: query i sees key n only when n <= i, so the tiles of queries below n0 are skipped.
  for (int i0 = sh.causal ? n0 / kTcKCols * kTcKCols : 0; i0 < sh.lq; i0 += kTcKCols) {
    const int valid = min(kTcKCols, sh.lq - i0);
    tc_load_rows<HD>(Qs, kTcKCols, a.q, qoff, i0, valid, sh.d);
    tc_load_rows<HD>(dOs, kTcKCols, a.grad_out, goff, i0, valid, sh.dv);
    if (tid < kTcKCols) {
      lse2s[tid] = lse2_of(a, bh, i0 + tid);
      deltas[tid] = i0 + tid < sh.lq ? a.delta[std::int64_t(bh) * sh.lq + i0 + tid] : 0.f;
    }
    __syncthreads();  // ATTN_MMA_DKDV_BARRIER_LOADED

    if (warp_live && (!sh.causal || i0 + kTcKCols - 1 >= n0 + wrow)) {
      float p[4][4], ds[4][4];
      tc_scores<kS>(p, Ks + wrow * kS, Qs, sh.d, group, t);    // [key][query]
      tc_scores<kS>(ds, Vs + wrow * kS, dOs, sh.dv, group, t);  // dP^T
FASTNN_UNROLL
      for (int nt = 0; nt < 4; ++nt)
FASTNN_UNROLL
        for (int e = 0; e < 4; ++e) {
          const int c = 8 * nt + 2 * t + e % 2;
          const float x = logit(p[nt][e], i0 + c, e < 2 ? k0 : k1, sh, a.mask, moff, scale_log2);
          p[nt][e] = exp2f(x - lse2s[c]);
          ds[nt][e] = p[nt][e] * (ds[nt][e] - deltas[c]) * sh.scale;
        }
      tc_accumulate<kS, kNv>(dv, p, dOs, sh.dv, group, t);
      tc_accumulate<kS, kNv>(dk, ds, Qs, sh.d, group, t);
    }
    __syncthreads();  // ATTN_MMA_DKDV_BARRIER_CONSUMED
  }
  const int rows = sh.lk - n0 - wrow;
  tc_store<kNv>(a.dk + (std::int64_t(bh) * sh.lk + n0 + wrow) * sh.d, sh.d, rows, dk, sh.d, group, t);
  tc_store<kNv>(a.dv + (std::int64_t(bh) * sh.lk + n0 + wrow) * sh.dv, sh.dv, rows, dv, sh.dv, group, t);
#else
  (void)a;
#endif
}

std::size_t tc_backward_smem(int hd) {
  return sizeof(std::uint32_t) * (std::size_t(2 * kTcQRows + 2 * kTcKCols) * tc_stride(hd) + 2 * kTcKCols);
}

// Whether the tensor-core kernels can take these head dims.
bool tc_fits(const AttentionShape& sh) {
  return sh.d % 8 == 0 && sh.dv % 8 == 0 && sh.d <= kAttentionMaxHeadDim && sh.dv <= kAttentionMaxHeadDim;
}

int tc_head_dim(const AttentionShape& sh) {
  const int w = sh.d > sh.dv ? sh.d : sh.dv;
  return w <= 16 ? 16 : (w <= 32 ? 32 : (w <= 64 ? 64 : 128));
}

}  // namespace
}  // namespace fastnn::FASTNN_CUDA_NS
