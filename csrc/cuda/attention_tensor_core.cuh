// Flash-attention forward on tensor cores (sm_80+): S = Q K^T and O += P V as TF32 mma.sync m16n8k8 tiles
// with fp32 accumulation (mma.cuh), the online softmax on the accumulator fragments in registers. Taken
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
FASTNN_UNROLL
      for (int nt = 0; nt < 4; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
      for (int ks = 0; ks < sh.d; ks += 8) {
        const std::uint32_t* qr = Qs + (wrow + group) * kS + ks + t;
        const std::uint32_t af[4] = {qr[0], qr[8 * kS], qr[4], qr[8 * kS + 4]};
FASTNN_UNROLL
        for (int nt = 0; nt < 4; ++nt) {
          const std::uint32_t* kr = Ks + (nt * 8 + group) * kS + ks + t;
          const std::uint32_t bf[2] = {kr[0], kr[4]};
          mma_detail::mma<false>(s[nt], af, bf);
        }
      }

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

      // O += P V, one 8-key step per S n-tile, k order (key 2t -> k t, key 2t + 1 -> k t + 4).
FASTNN_UNROLL
      for (int nt = 0; nt < 4; ++nt) {
        const std::uint32_t pf[4] = {mma_detail::to_tf32(s[nt][0]), mma_detail::to_tf32(s[nt][2]),
                                     mma_detail::to_tf32(s[nt][1]), mma_detail::to_tf32(s[nt][3])};
        const std::uint32_t* vr = Vs + (nt * 8 + 2 * t) * kS + group;
FASTNN_UNROLL
        for (int j = 0; j < kNv; ++j) {
          if (8 * j >= sh.dv) break;  // uniform: dv is a multiple of 8
          const std::uint32_t bf[2] = {vr[8 * j], vr[kS + 8 * j]};
          mma_detail::mma<false>(o[j], pf, bf);
        }
      }
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

// Whether the tensor-core forward can take these head dims.
bool tc_forward_fits(const AttentionShape& sh) {
  return sh.d % 8 == 0 && sh.dv % 8 == 0 && sh.d <= kAttentionMaxHeadDim && sh.dv <= kAttentionMaxHeadDim;
}

int tc_head_dim(const AttentionShape& sh) {
  const int w = sh.d > sh.dv ? sh.d : sh.dv;
  return w <= 16 ? 16 : (w <= 32 ? 32 : (w <= 64 ? 64 : 128));
}

}  // namespace
}  // namespace fastnn::FASTNN_CUDA_NS
