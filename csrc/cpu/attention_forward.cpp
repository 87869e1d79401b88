// Fused attention forward, flash-style, compiled per ISA level (see attention_tiles.h for the blocks).
//
// Work items are (batch, head, 48-row query tile). Each item packs its q tile once (transposed, scaled by
// scale * log2 e), then walks the key tiles: S = q k^T on the micro-kernel, masks, an online softmax
// (running max m and sum l per row, old output rows rescaled by 2^(m_old - m_new)), O += P V. At the end
// O / l is written and lse = (m + log2 l) ln 2 saved for the backward. Extra memory per thread: one head
// of k^T (and of v when Dv is not a whole number of micro-tile columns) plus the tiles: O(L d).
//
// Threads take contiguous ranges of items balanced by work (causal rows see fewer keys) and repack k^T
// only when their range enters a new head. An item's arithmetic never depends on the thread that runs
// it, so results are bitwise identical for any thread count.
#include <omp.h>

#include <vector>

#include "attention_tiles.h"
#include "fastnn/aligned_buffer.h"
#include "fastnn/threading.h"

namespace fastnn {
namespace FASTNN_ISA_NS {
namespace attn {
namespace {

// One head's keys and values laid out for the tile products.
template <typename T>
struct KeyValuePack {
  const T* kt;  // k^T in panels of NR keys (d x NR each), keys zero-padded to ld_kt
  int64_t ld_kt;
  const T* v;  // value rows, dv_pad readable columns: the caller's rows or a padded copy
  int64_t ld_v;
};

template <typename T>
KeyValuePack<T> pack_keys_values(const AttentionForwardArgs<T>& a, int64_t b, int64_t h, AlignedBuffer& kt_buf,
                                 AlignedBuffer& v_buf) {
  const AttentionShape& s = a.s;
  constexpr int NR = kNR<T>;
  KeyValuePack<T> kv;
  kv.ld_kt = round_up(std::max<int64_t>(s.lk, 1), NR);
  T* kt = kt_buf.get<T>(static_cast<size_t>(std::max<int64_t>(s.d, 1) * kv.ld_kt));
  pack_panels<T>(a.k.row(b, h, 0), a.k.sr, s.lk, s.d, T(1), kt, NR, kv.ld_kt / NR);
  kv.kt = kt;
  const int64_t dv_pad = round_up(s.dv, NR);
  if (s.dv == dv_pad) {  // whole micro-tile columns: read the caller's rows in place
    kv.v = a.v.row(b, h, 0);
    kv.ld_v = a.v.sr;
  } else {
    T* vp = v_buf.get<T>(static_cast<size_t>(std::max<int64_t>(s.lk, 1) * dv_pad));
    pack_rows<T>(a.v.row(b, h, 0), a.v.sr, s.lk, s.dv, vp, dv_pad);
    kv.v = vp;
    kv.ld_v = dv_pad;
  }
  return kv;
}

struct TileScratch {
  AlignedBuffer qt, s, o, rows;
};

// Online softmax update of rows [0, rows) of the score tile over n columns (a multiple of VL): P replaces
// S in place, and alpha[r] = 2^(m_old - m_new) is the factor row r's earlier output and sum are scaled
// by. Row arrays hold BQ entries (a multiple of VL) and the row sums stay lane-wise (lsum: BQ x VL)
// until the end, so no horizontal sum is paid per tile.
template <typename T>
inline void online_softmax_rows(T* S, int64_t rows, int64_t n, T* m, T* m_use, T* alpha, T* lsum) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>;
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = S + r * kFwdLdS;
    V vmax = kNegInf<T> - V{};
    for (int64_t c = 0; c < n; c += VL) {
      const V x = loadu<V>(row + c);
      vmax = vec_max(x, vmax);
    }
    m_use[r] = std::max(m[r], allmax<T>(vmax)[0]);
  }
  for (int64_t r = 0; r < rows; r += VL) {
    const V m_old = loadu<V>(m + r), m_new = loadu<V>(m_use + r);
    // A row with no key yet keeps m = -inf; exponents relative to 0 then give exact zeros, not NaN.
    const V mu = m_new == kNegInf<T> ? V{} : m_new;
    storeu(alpha + r, vec_exp2(m_old - mu));
    storeu(m + r, m_new);
    storeu(m_use + r, mu);
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* row = S + r * kFwdLdS;
    const V mv = m_use[r] - V{};
    V vsum = V{};
    for (int64_t c = 0; c < n; c += VL) {
      const V p = vec_exp2<V, false>(loadu<V>(row + c) - mv);
      storeu(row + c, p);
      vsum += p;
    }
    storeu(lsum + r * VL, loadu<V>(lsum + r * VL) * (alpha[r] - V{}) + vsum);
  }
}

template <typename T>
void forward_tile(const AttentionForwardArgs<T>& a, int64_t b, int64_t h, int64_t i0, const KeyValuePack<T>& kv,
                  TileScratch& ts) {
  const AttentionShape& s = a.s;
  constexpr int NR = kNR<T>;
  constexpr int64_t BQ = kFwdBQ;
  const int64_t qb = std::min(BQ, s.lq - i0), qb_pad = round_up(qb, kMR);
  const int64_t dv_pad = round_up(s.dv, NR);
  const T qscale = static_cast<T>(s.scale * 1.4426950408889634074);

  T* qt = ts.qt.get<T>(static_cast<size_t>(std::max<int64_t>(s.d, 1) * BQ));
  pack_panels<T>(a.q.row(b, h, i0), a.q.sr, qb, s.d, qscale, qt, BQ, 1);  // one panel: q^T, row stride BQ
  T* S = ts.s.get<T>(static_cast<size_t>(BQ * kFwdLdS));
  T* O = ts.o.get<T>(static_cast<size_t>(BQ * std::max<int64_t>(dv_pad, 1)));
  constexpr int VL = kVL<T>;
  static_assert(BQ % VL == 0, "row arrays are processed in whole vectors");
  T* rowbuf = ts.rows.get<T>(static_cast<size_t>((3 + VL) * BQ));
  T *m = rowbuf, *m_use = rowbuf + BQ, *alpha = rowbuf + 2 * BQ, *lsum = rowbuf + 3 * BQ;
  std::fill(m, m + BQ, kNegInf<T>);
  std::fill(m_use, m_use + BQ, kNegInf<T>);
  std::fill(lsum, lsum + BQ * VL, T(0));
  std::fill(O, O + qb_pad * dv_pad, T(0));

  // Causal: keys past the tile's last row take part in none of its rows.
  const int64_t j_end = s.causal ? std::min(s.lk, i0 + qb) : s.lk;
  for (int64_t j0 = 0; j0 < j_end; j0 += kFwdBK) {
    const int64_t kb = std::min(kFwdBK, j_end - j0), kb_pad = round_up(kb, NR);
    // Causal: micro-tiles wholly above the diagonal are skipped (mask_tile overwrites them with -inf) and
    // each row block's P V stops at its last row's key.
    Band band_s, band_pv;
    if (s.causal) band_s.col_end = band_pv.k_end = i0 - j0 + kMR;
    block_gemm<T, 1, BQ, Init::zero>(qb_pad, kb_pad, s.d, qt, kMR, kv.kt + j0 * s.d, s.d * NR, NR, S,
                                      kFwdLdS, nullptr, band_s);
    mask_tile<T>(s, b, h, S, kFwdLdS, i0, qb, qb_pad, j0, kb, kb_pad);
    online_softmax_rows<T>(S, qb_pad, kb_pad, m, m_use, alpha, lsum);
    block_gemm<T, kFwdLdS, 1, Init::scale_rows>(qb_pad, dv_pad, kb, S, kMR * kFwdLdS, kv.v + j0 * kv.ld_v, NR, kv.ld_v,
                                             O, dv_pad, alpha, band_pv);
  }

  T* lse = a.lse + (b * s.heads + h) * s.lq + i0;
  for (int64_t r = 0; r < qb; ++r) {
    const T l = hsum<T>(loadu<Vec<T>>(lsum + r * VL));
    const bool any = l > T(0);
    const T inv = any ? T(1) / l : T(0);
    T* out = a.out.row(b, h, i0 + r);
    for (int64_t c = 0; c < s.dv; ++c) out[c] = O[r * dv_pad + c] * inv;
    lse[r] = any ? static_cast<T>((static_cast<double>(m[r]) + std::log2(static_cast<double>(l))) *
                                  0.69314718055994530942)
                 : kNegInf<T>;
  }
}

template <typename T>
void forward_impl(const AttentionForwardArgs<T>& a) {
  const AttentionShape& s = a.s;
  const int64_t nbh = s.batch * s.heads;
  if (nbh == 0 || s.lq == 0) return;
  const int64_t nqt = (s.lq + kFwdBQ - 1) / kFwdBQ;
  const int64_t items = nbh * nqt;
  // Work of an item: the keys its rows meet (plus a little for packing and the epilogue).
  std::vector<double> cum(items + 1, 0.0);
  for (int64_t it = 0; it < items; ++it) {
    const int64_t i0 = (it % nqt) * kFwdBQ;
    const int64_t keys = s.causal ? std::min(s.lk, i0 + kFwdBQ) : s.lk;
    cum[it + 1] = cum[it] + static_cast<double>(keys) + 16.0;
  }
  const double flops = 2.0 * static_cast<double>(nbh) * s.lq * s.lk * (s.d + s.dv);
  const int nthreads = static_cast<int>(std::min<int64_t>(threads_for(flops), items));
  // Chunks of about equal work (several per thread, fixed by the shape and thread count), grabbed one
  // at a time: a thread another process keeps off its core holds up the call by one chunk, not by its
  // whole share. A chunk packs K and V again when it starts inside a head.
  const int64_t nchunks = nthreads > 1 ? std::min<int64_t>(items, 4 * int64_t(nthreads)) : 1;
  parallel_chunks(nchunks, nthreads, [&](int64_t q) {
    thread_local AlignedBuffer kt_buf, v_buf;
    thread_local TileScratch ts;
    int64_t begin, end;
    balanced_range(cum.data(), items, static_cast<int>(q), static_cast<int>(nchunks), begin, end);
    int64_t packed = -1;
    KeyValuePack<T> kv{};
    for (int64_t it = begin; it < end; ++it) {
      const int64_t bh = it / nqt, b = bh / s.heads, h = bh % s.heads;
      if (bh != packed) {
        kv = pack_keys_values(a, b, h, kt_buf, v_buf);
        packed = bh;
      }
      forward_tile(a, b, h, (it % nqt) * kFwdBQ, kv, ts);
    }
  });
}

template <typename T>
void vector_exp_impl(const T* x, T* y, int64_t n, bool base2) {
  using V = Vec<T>;
  constexpr int VL = kVL<T>;
  int64_t i = 0;
  for (; i + VL <= n; i += VL) {
    const V v = loadu<V>(x + i);
    storeu(y + i, base2 ? vec_exp2(v) : vec_exp(v));
  }
  if (i < n) {
    T buf[VL] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(T));
    const V v = loadu<V>(buf);
    storeu(buf, base2 ? vec_exp2(v) : vec_exp(v));
    std::memcpy(y + i, buf, (n - i) * sizeof(T));
  }
}

}  // namespace
}  // namespace attn

void attention_forward_f32(const AttentionForwardArgs<float>& args) { attn::forward_impl(args); }
void attention_forward_f64(const AttentionForwardArgs<double>& args) { attn::forward_impl(args); }
void vector_exp_f32(const float* x, float* y, int64_t n, bool base2) { attn::vector_exp_impl(x, y, n, base2); }
void vector_exp_f64(const double* x, double* y, int64_t n, bool base2) { attn::vector_exp_impl(x, y, n, base2); }

}  // namespace FASTNN_ISA_NS
}  // namespace fastnn
