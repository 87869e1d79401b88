// Fused attention backward, flash-style, compiled per ISA level (see attention_tiles.h for the blocks).
//
// For a query tile i and a key tile j the scores are recomputed from the saved logsumexp:
//   P = 2^(S - lse log2 e),  dP = dO V^T,  dS = P (dP - D) scale  with D = rowsum(dO * O),
// then dV_j += P^T dO_i, dK_j += dS^T Q_i and dQ_i += dS K_j (five tile products, 2.5x the forward).
//
// Determinism: dK_j and dV_j sum over query tiles in ascending order, dQ_i over key tiles in ascending
// order, each with the same micro-kernel calls whichever loop runs them. Two schedules share that
// arithmetic (the per-tile steps are out-of-line functions, so both run the same machine code):
//  - per head (many heads): a thread owns whole heads, key tiles outer, query tiles inner, dQ of the
//    head accumulated in its scratch: every tile pair is computed once.
//  - split (fewer heads than make the threads busy): per head, key tiles in parallel accumulate dK/dV,
//    then query tiles in parallel accumulate dQ, recomputing P and dS (7 products instead of 5).
// So the results are bitwise identical for any thread count and either schedule.
#include <omp.h>

#include "attention_tiles.h"
#include "fastnn/aligned_buffer.h"
#include "fastnn/threading.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace attn {
namespace {

// One head's operands laid out for the tile products.
template <typename T>
struct HeadPack {
  const T* qt;  // q^T * scale * log2 e in panels of one query tile (d x BQ each), zero-padded to ld_q queries
  const T* dot;  // dO^T in panels of one query tile (dv x BQ)
  int64_t ld_q;
  const T* kt;  // k^T in panels of NR keys (d x NR each), zero-padded to ld_k keys
  const T* vt;  // v^T in panels of NR keys (dv x NR)
  int64_t ld_k;
  const T *q_rows, *k_rows, *do_rows;  // B operands of dK, dQ, dV: d_pad (dv_pad) readable columns
  int64_t ld_q_rows, ld_k_rows, ld_do_rows;
  const T* lse2;  // (ld_q): lse * log2 e; +inf where a row has no key (P = 0) and on padding rows
  const T* delta;  // (ld_q): rowsum(dO * O), 0 on padding rows
};

struct HeadBuffers {
  AlignedBuffer qt, dot, kt, vt, q_rows, k_rows, do_rows, rows;
};

template <typename T>
const T* rows_operand(const T* src, int64_t sr, int64_t rows, int64_t cols, AlignedBuffer& buf, int64_t& ld) {
  const int64_t cols_pad = round_up(cols, kNR<T>);
  if (cols == cols_pad) {  // whole micro-tile columns: the caller's rows as they are
    ld = sr;
    return src;
  }
  T* dst = buf.get<T>(static_cast<size_t>(std::max<int64_t>(rows, 1) * cols_pad));
  pack_rows<T>(src, sr, rows, cols, dst, cols_pad);
  ld = cols_pad;
  return dst;
}

template <typename T>
HeadPack<T> pack_head(const AttentionBackwardArgs<T>& a, int64_t b, int64_t h, HeadBuffers& hb) {
  const AttentionShape& s = a.s;
  HeadPack<T> p;
  p.ld_q = round_up(std::max<int64_t>(s.lq, 1), kBwdBQ);
  p.ld_k = round_up(std::max<int64_t>(s.lk, 1), kNR<T>);
  const size_t d1 = std::max<int64_t>(s.d, 1), dv1 = std::max<int64_t>(s.dv, 1);
  T* qt = hb.qt.get<T>(d1 * p.ld_q);
  T* dot = hb.dot.get<T>(dv1 * p.ld_q);
  T* kt = hb.kt.get<T>(d1 * p.ld_k);
  T* vt = hb.vt.get<T>(dv1 * p.ld_k);
  const T qscale = static_cast<T>(s.scale * 1.4426950408889634074);
  pack_panels<T>(a.q.row(b, h, 0), a.q.sr, s.lq, s.d, qscale, qt, kBwdBQ, p.ld_q / kBwdBQ);
  pack_panels<T>(a.dout.row(b, h, 0), a.dout.sr, s.lq, s.dv, T(1), dot, kBwdBQ, p.ld_q / kBwdBQ);
  pack_panels<T>(a.k.row(b, h, 0), a.k.sr, s.lk, s.d, T(1), kt, kNR<T>, p.ld_k / kNR<T>);
  pack_panels<T>(a.v.row(b, h, 0), a.v.sr, s.lk, s.dv, T(1), vt, kNR<T>, p.ld_k / kNR<T>);
  p.qt = qt, p.dot = dot, p.kt = kt, p.vt = vt;
  p.q_rows = rows_operand<T>(a.q.row(b, h, 0), a.q.sr, s.lq, s.d, hb.q_rows, p.ld_q_rows);
  p.k_rows = rows_operand<T>(a.k.row(b, h, 0), a.k.sr, s.lk, s.d, hb.k_rows, p.ld_k_rows);
  p.do_rows = rows_operand<T>(a.dout.row(b, h, 0), a.dout.sr, s.lq, s.dv, hb.do_rows, p.ld_do_rows);

  T* rows = hb.rows.get<T>(2 * static_cast<size_t>(p.ld_q));
  T *lse2 = rows, *delta = rows + p.ld_q;
  const T* lse = a.lse + (b * s.heads + h) * s.lq;
  for (int64_t r = 0; r < p.ld_q; ++r) {
    if (r >= s.lq || lse[r] == kNegInf<T>) {
      lse2[r] = std::numeric_limits<T>::infinity();
      delta[r] = T(0);
      continue;
    }
    lse2[r] = lse[r] * kLog2e<T>;
    delta[r] = row_dot<T>(a.out.row(b, h, r), a.dout.row(b, h, r), s.dv);
  }
  p.lse2 = lse2, p.delta = delta;
  return p;
}

struct PairScratch {
  AlignedBuffer p, ds, dk, dv;
};

// P and dS of query rows [i0, i0 + qb) against keys [j0, j0 + kb), into tiles of row stride kLdS.
template <typename T>
__attribute__((noinline)) void probabilities_and_score_grads(const AttentionShape& s, int64_t b, int64_t h,
                                                             const HeadPack<T>& hp, int64_t i0, int64_t qb,
                                                             int64_t j0, int64_t kb, T* P, T* dS) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>, NR = kNR<T>;
  const int64_t qb_pad = round_up(qb, kMR), kb_pad = round_up(kb, NR);
  // Causal: micro-tiles wholly above the diagonal are not computed (mask_tile overwrites the scores there;
  // the dP values there are stale, so each row's pass below stops at its diagonal and writes zeros past it).
  Band band;
  if (s.causal) band.col_end = i0 - j0 + kMR;
  block_gemm<T, 1, kBwdBQ, Init::zero>(qb_pad, kb_pad, s.d, hp.qt + i0 * s.d, kMR, hp.kt + j0 * s.d, s.d * NR,
                                       NR, P, kLdS, nullptr, band);
  mask_tile<T>(s, b, h, P, kLdS, i0, qb, qb_pad, j0, kb, kb_pad);
  block_gemm<T, 1, kBwdBQ, Init::zero>(qb_pad, kb_pad, s.dv, hp.dot + i0 * s.dv, kMR, hp.vt + j0 * s.dv,
                                       s.dv * NR, NR, dS, kLdS, nullptr, band);
  const T scale = static_cast<T>(s.scale);
  // The dK/dV products read key columns up to a whole MR-block, which can pass kb_pad (kb = 30: 36 > 32);
  // those keys are real rows of the accumulators when a causal tile was cut short, so they must see zeros.
  const int64_t kb_end = std::max(kb_pad, round_up(kb, kMR));
  for (int64_t r = 0; r < qb_pad; ++r) {
    T* prow = P + r * kLdS;
    T* drow = dS + r * kLdS;
    const int64_t n = s.causal ? std::clamp<int64_t>(round_up(i0 + r - j0 + 1, VL), 0, kb_pad) : kb_pad;
    const V l2 = hp.lse2[i0 + r] - V{}, dr = hp.delta[i0 + r] - V{};
    for (int64_t c = 0; c < n; c += VL) {
      const V p = vec_exp2<V, false>(loadu<V>(prow + c) - l2);
      storeu(prow + c, p);
      storeu(drow + c, p * (loadu<V>(drow + c) - dr) * scale);
    }
    std::fill(prow + n, prow + kb_end, T(0));
    std::fill(drow + n, drow + kb_end, T(0));
  }
}

// dV_j += P^T dO_i and dK_j += dS^T Q_i (accumulators with row stride dv_pad / d_pad).
template <typename T>
__attribute__((noinline)) void accumulate_dk_dv(const AttentionShape& s, const HeadPack<T>& hp, int64_t i0,
                                                int64_t qb, int64_t j0, int64_t kb, const T* P, const T* dS,
                                                T* dk_acc, T* dv_acc) {
  constexpr int NR = kNR<T>;
  const int64_t kb_mr = round_up(kb, kMR);
  Band band;  // causal: a block of keys meets only the queries from its first key on
  if (s.causal) band.k_begin = j0 - i0;
  block_gemm<T, 1, kLdS, Init::load>(kb_mr, round_up(s.dv, NR), qb, P, kMR, hp.do_rows + i0 * hp.ld_do_rows, NR,
                                     hp.ld_do_rows, dv_acc, round_up(s.dv, NR), nullptr, band);
  block_gemm<T, 1, kLdS, Init::load>(kb_mr, round_up(s.d, NR), qb, dS, kMR, hp.q_rows + i0 * hp.ld_q_rows, NR,
                                     hp.ld_q_rows, dk_acc, round_up(s.d, NR), nullptr, band);
}

// dQ_i += dS K_j (dq_acc: the head's accumulator, row stride d_pad).
template <typename T>
__attribute__((noinline)) void accumulate_dq(const AttentionShape& s, const HeadPack<T>& hp, int64_t i0, int64_t qb,
                                             int64_t j0, int64_t kb, const T* dS, T* dq_acc) {
  const int64_t d_pad = round_up(s.d, kNR<T>);
  Band band;  // causal: a block of queries meets only the keys up to its last query
  if (s.causal) band.k_end = i0 - j0 + kMR;
  block_gemm<T, kLdS, 1, Init::load>(round_up(qb, kMR), d_pad, kb, dS, kMR * kLdS, hp.k_rows + j0 * hp.ld_k_rows,
                                     kNR<T>, hp.ld_k_rows, dq_acc + i0 * d_pad, d_pad, nullptr, band);
}

// Keys of tile j0 that take part in some row of the query tile [i0, i0 + qb) (0: none).
inline int64_t keys_in_pair(const AttentionShape& s, int64_t i0, int64_t qb, int64_t j0) {
  const int64_t kb = std::min(kBK, s.lk - j0);
  return s.causal ? std::max<int64_t>(0, std::min(kb, i0 + qb - j0)) : kb;
}

template <typename T>
T* pair_tile(AlignedBuffer& buf) {
  T* t = buf.get<T>(static_cast<size_t>(kBwdBQ * kLdS));
  return t;
}

// Key tile j0 against every query tile, in ascending order: dK and dV rows j0.. (and, with dq_acc, the
// head's dQ accumulation). Writes dk, dv.
template <typename T>
void key_tile(const AttentionBackwardArgs<T>& a, int64_t b, int64_t h, const HeadPack<T>& hp, int64_t j0,
              PairScratch& ps, T* dq_acc) {
  const AttentionShape& s = a.s;
  constexpr int NR = kNR<T>;
  const int64_t d_pad = round_up(s.d, NR), dv_pad = round_up(s.dv, NR);
  const int64_t kb_full = std::min(kBK, s.lk - j0);
  const size_t acc_rows = round_up(kBK, kMR);
  T* P = pair_tile<T>(ps.p);
  T* dS = pair_tile<T>(ps.ds);
  T* dk_acc = ps.dk.get<T>(acc_rows * std::max<int64_t>(d_pad, 1));
  T* dv_acc = ps.dv.get<T>(acc_rows * std::max<int64_t>(dv_pad, 1));
  std::fill(dk_acc, dk_acc + acc_rows * d_pad, T(0));
  std::fill(dv_acc, dv_acc + acc_rows * dv_pad, T(0));
  const int64_t i_first = s.causal ? j0 / kBwdBQ * kBwdBQ : 0;  // earlier query tiles see none of these keys
  for (int64_t i0 = i_first; i0 < s.lq; i0 += kBwdBQ) {
    const int64_t qb = std::min(kBwdBQ, s.lq - i0);
    const int64_t kb = keys_in_pair(s, i0, qb, j0);
    if (kb == 0) continue;
    probabilities_and_score_grads<T>(s, b, h, hp, i0, qb, j0, kb, P, dS);
    accumulate_dk_dv<T>(s, hp, i0, qb, j0, kb, P, dS, dk_acc, dv_acc);
    if (dq_acc) accumulate_dq<T>(s, hp, i0, qb, j0, kb, dS, dq_acc);
  }
  for (int64_t r = 0; r < kb_full; ++r) {
    std::copy(dk_acc + r * d_pad, dk_acc + r * d_pad + s.d, a.dk.row(b, h, j0 + r));
    std::copy(dv_acc + r * dv_pad, dv_acc + r * dv_pad + s.dv, a.dv.row(b, h, j0 + r));
  }
}

// Query tile i0 against every key tile, in ascending order: the split schedule's dQ pass.
template <typename T>
void query_tile(const AttentionBackwardArgs<T>& a, int64_t b, int64_t h, const HeadPack<T>& hp, int64_t i0,
                PairScratch& ps, T* dq_acc) {
  const AttentionShape& s = a.s;
  const int64_t d_pad = round_up(s.d, kNR<T>);
  const int64_t qb = std::min(kBwdBQ, s.lq - i0);
  T* P = pair_tile<T>(ps.p);
  T* dS = pair_tile<T>(ps.ds);
  std::fill(dq_acc + i0 * d_pad, dq_acc + (i0 + round_up(qb, kMR)) * d_pad, T(0));
  for (int64_t j0 = 0; j0 < s.lk; j0 += kBK) {
    const int64_t kb = keys_in_pair(s, i0, qb, j0);
    if (kb == 0) break;  // causal: later key tiles are past the diagonal too
    probabilities_and_score_grads<T>(s, b, h, hp, i0, qb, j0, kb, P, dS);
    accumulate_dq<T>(s, hp, i0, qb, j0, kb, dS, dq_acc);
  }
}

template <typename T>
void write_dq(const AttentionBackwardArgs<T>& a, int64_t b, int64_t h, const T* dq_acc, int64_t r0, int64_t r1) {
  const int64_t d_pad = round_up(a.s.d, kNR<T>);
  for (int64_t r = r0; r < r1; ++r) std::copy(dq_acc + r * d_pad, dq_acc + r * d_pad + a.s.d, a.dq.row(b, h, r));
}

template <typename T>
void backward_impl(const AttentionBackwardArgs<T>& a) {
  const AttentionShape& s = a.s;
  const int64_t nbh = s.batch * s.heads;
  if (nbh == 0) return;
  if (s.lq == 0 || s.lk == 0) {  // no pair of a query and a key: all gradients are zero
    for (int64_t bh = 0; bh < nbh; ++bh) {
      const int64_t b = bh / s.heads, h = bh % s.heads;
      for (int64_t r = 0; r < s.lq; ++r) std::fill(a.dq.row(b, h, r), a.dq.row(b, h, r) + s.d, T(0));
      for (int64_t r = 0; r < s.lk; ++r) {
        std::fill(a.dk.row(b, h, r), a.dk.row(b, h, r) + s.d, T(0));
        std::fill(a.dv.row(b, h, r), a.dv.row(b, h, r) + s.dv, T(0));
      }
    }
    return;
  }
  const int64_t d_pad = round_up(s.d, kNR<T>);
  const int64_t ld_q = round_up(s.lq, kBwdBQ);
  const size_t dq_size = static_cast<size_t>(ld_q) * std::max<int64_t>(d_pad, 1);
  const double flops = 5.0 * static_cast<double>(nbh) * s.lq * s.lk * std::max(s.d, s.dv);
  const int nthreads = threads_for(flops);

  if (nbh % nthreads == 0 || nbh >= 2 * nthreads) {
    // Per head: each thread owns whole heads.
    parallel_range(nbh, 1, nthreads, [&](int64_t bh_begin, int64_t bh_end) {
      for (int64_t bh = bh_begin; bh < bh_end; ++bh) {
        thread_local HeadBuffers hb;
        thread_local PairScratch ps;
        thread_local AlignedBuffer dq_buf;
        const int64_t b = bh / s.heads, h = bh % s.heads;
        const HeadPack<T> hp = pack_head(a, b, h, hb);
        T* dq_acc = dq_buf.get<T>(dq_size);
        std::fill(dq_acc, dq_acc + dq_size, T(0));
        for (int64_t j0 = 0; j0 < s.lk; j0 += kBK) key_tile(a, b, h, hp, j0, ps, dq_acc);
        write_dq(a, b, h, dq_acc, 0, s.lq);
      }
    });
    return;
  }

  // Split: one head at a time, its tiles spread over the threads.
  thread_local HeadBuffers hb;  // the calling thread's, shared by the team
  thread_local AlignedBuffer dq_buf;
  T* dq_acc = dq_buf.get<T>(dq_size);
  const int64_t nkt = (s.lk + kBK - 1) / kBK, nqt = (s.lq + kBwdBQ - 1) / kBwdBQ;
  for (int64_t bh = 0; bh < nbh; ++bh) {
    const int64_t b = bh / s.heads, h = bh % s.heads;
    const HeadPack<T> hp = pack_head(a, b, h, hb);
    {
      // Tiles one at a time: key tiles write disjoint rows of dK / dV, query tiles disjoint rows of dQ.
      parallel_chunks(nkt, nthreads, [&](int64_t t) {
        thread_local PairScratch ps;
        key_tile(a, b, h, hp, t * kBK, ps, static_cast<T*>(nullptr));
      });
      parallel_range(nqt, 1, nthreads, [&](int64_t t_begin, int64_t t_end) {
        thread_local PairScratch ps;
        for (int64_t t = t_begin; t < t_end; ++t) {
          // Causal rows near the top meet few keys: take the longest tiles first.
          const int64_t i0 = (s.causal ? nqt - 1 - t : t) * kBwdBQ;
          query_tile(a, b, h, hp, i0, ps, dq_acc);
          write_dq(a, b, h, dq_acc, i0, std::min(s.lq, i0 + kBwdBQ));
        }
      });
    }
  }
}

}  // namespace
}  // namespace attn

void attention_backward_f32(const AttentionBackwardArgs<float>& args) { attn::backward_impl(args); }
void attention_backward_f64(const AttentionBackwardArgs<double>& args) { attn::backward_impl(args); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
