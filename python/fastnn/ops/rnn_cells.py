"""The recurrences of one RNN layer direction (tanh/relu RNN, LSTM, GRU): a forward loop over time and a
hand-written backward through time, side by side, in NumPy plus the native GEMM.

The layer op (ops/rnn.py) has already turned the whole input sequence into gate pre-activations with one
GEMM; here each time step costs one GEMM (h_prev @ W_hhᵀ, all gates at once) and a few NumPy calls on
arrays of one step, which stay in cache. Every NumPy call writes into preallocated storage (``out=``).

Layouts. The forward keeps pre-activations gate-major, (gates, L, N, H): one gate of one step is then a
contiguous (N, H) block, and element-wise NumPy runs ~2.6x faster on it than on a (N, H) column slice of a
(N, gates*H) row (1.1 vs 2.9 us on 32x128 float32). The recurrent GEMM writes all gates of a step in one
batched call (the h_prev operand broadcast over the gate axis with a zero stride). The backward writes
gate gradients time-major in torch's gate order, (L, N, gates*H), so the per-step dh GEMM and the weight
gradient GEMMs at the end are single GEMMs against the weights as stored.

Sigmoid is computed as 0.5 * tanh(x / 2) + 0.5 with the 1/2 folded into the weights and biases of the
sigmoid gates (a power of two: exact), so a step runs one tanh over all its gates plus two affine calls
instead of exp, add and reciprocal per sigmoid gate.

Each ``*_forward`` returns the arrays its backward needs; each ``*_backward`` returns (dzx, dzh, dh0, dc0):
the gradients of the input pre-activations (for W_ih, b_ih and the input), of the recurrent
pre-activations (for W_hh and b_hh; the same array except in GRU), and of the initial states.
"""
from __future__ import annotations

import sys

import numpy as np

from .. import _C

_gemm = _C.gemm

# ---- workspace ---------------------------------------------------------------------------------------------
# The big per-call arrays (projections, saved gates, gate gradients: ~15 MB per layer of the benchmark LSTM)
# are recycled instead of freshly allocated: glibc hands out arrays this size as new mmap'd pages, and
# first-touch page faults cost more than the element-wise work of the whole forward loop (fwd loop of one
# layer 6.4 -> 4.1 ms; 245k minor faults in a 20-step run). An array is reused only when nothing but the
# pool refers to it (sys.getrefcount, as the autograd engine's buffer adoption does): saved arrays return
# once their graph is freed, and views, closures or callers holding one keep it out of reuse.
_POOL: dict = {}
_POOL_LIMIT_BYTES = 256 << 20
_POOL_MIN_BYTES = 1 << 16  # smaller arrays come from malloc's heap without page faults
_pool_bytes = 0


def _empty(shape, dt):
    """np.empty(shape, dt), recycled from the workspace when a free array of that shape and dtype exists."""
    global _pool_bytes
    key = (shape, dt)
    arrays = _POOL.get(key)
    if arrays is not None:
        for arr in arrays:
            if sys.getrefcount(arr) == 3:  # the list, the loop variable and getrefcount's argument
                return arr
    arr = np.empty(shape, dt)
    if _POOL_MIN_BYTES <= arr.nbytes and _pool_bytes + arr.nbytes <= _POOL_LIMIT_BYTES:
        _POOL.setdefault(key, []).append(arr)
        _pool_bytes += arr.nbytes
    return arr


def clear_workspace() -> None:
    """Drops the recycled arrays (the memory returns once no graph holds them)."""
    global _pool_bytes
    _POOL.clear()
    _pool_bytes = 0


def _steps(length: int, reverse: bool):
    return range(length - 1, -1, -1) if reverse else range(length)


def _broadcast_steps(h_seq, h0, gates):
    """(view of h_seq[t], view of h0) broadcast over a leading gate axis with zero strides, built once: the
    batched recurrent GEMM reads h_prev once per gate without copies, and slicing a prebuilt view costs
    0.1 us where np.broadcast_to per step costs ~2 us."""
    ls = np.lib.stride_tricks.as_strided
    st = h_seq.strides
    seq = ls(h_seq, (h_seq.shape[0], gates) + h_seq.shape[1:], (st[0], 0) + st[1:], writeable=False)
    return seq, np.broadcast_to(h0, (gates,) + h0.shape)


def gate_rows(order, hidden: int) -> np.ndarray:
    """Row indices that put the gate blocks of a (gates*H, ·) weight in ``order``."""
    return (np.asarray(order)[:, None] * hidden + np.arange(hidden)).reshape(-1)


def projection(x2, w_ih, length, rows, scale, bias=None):
    """x2 @ W_ihᵀ for the whole sequence in one GEMM, gates reordered by ``rows`` and scaled per row:
    (L, N, G), time-major, in a workspace array. The bias is added per step, where the loop copies a step
    into its own contiguous block anyway (free there, where a separate pass would cost a full sweep)."""
    w = w_ih[rows] * scale[:, None]
    z = _empty((length, x2.shape[0] // length if length else 0, w.shape[0]), x2.dtype)
    _gemm(x2, w.T, z.reshape(x2.shape[0], w.shape[0]), 1.0, 0.0)
    if bias is not None:  # GRU: one pass (its loop has no copy to hide the bias in)
        np.add(z, bias[rows] * scale, out=z)
    return z


def step_bias(bias, rows, scale, gates):
    """The bias in the per-step block layout (gates, 1, H) (zeros without a bias)."""
    hidden = rows.shape[0] // gates
    if bias is None:
        return np.zeros((gates, 1, hidden), scale.dtype)
    return (bias[rows] * scale).reshape(gates, 1, hidden)


def recurrent_weights(w_hh, rows, scale):
    """W_hh with gates reordered and scaled, as (gates, H, H) B operands of one batched GEMM: gate k of
    h_prev @ this is h_prev @ W_kᵀ. Packed contiguous: the GEMM reads them faster (33 vs 42 us a step)."""
    hidden = w_hh.shape[1]
    w = (w_hh[rows] * scale[:, None]).reshape(-1, hidden, hidden)
    return np.ascontiguousarray(w.transpose(0, 2, 1))


def _gate_steps(z, gates):
    """(L, N, gates*H) time-major pre-activations as (L, gates, N, H) views: step t's gates as planes the
    batched GEMM accumulates into (strided: no copy of the projection into a gate-major layout)."""
    length, n, width = z.shape
    return z.reshape(length, n, gates, width // gates).transpose(0, 2, 1, 3)


# ---- Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) ------------------------------------------

def rnn_forward(z, w_hh, h0, out, reverse, relu):
    """z (L, N, H): the input projection plus both biases (overwritten); out (L, N, H): receives h_t."""
    whh_t = np.ascontiguousarray(w_hh.T)
    h_prev = h0
    for t in _steps(z.shape[0], reverse):
        zt = z[t]
        _gemm(h_prev, whh_t, zt, 1.0, 1.0)
        ht = out[t]
        if relu:
            np.maximum(zt, 0, out=ht)
        else:
            np.tanh(zt, out=ht)
        h_prev = ht
    return (out,)


def rnn_backward(saved, dout, dcn, w_hh, h0, c0, reverse, relu):
    (out,) = saved
    length, n, hidden = out.shape
    dh = _empty(dout.shape, dout.dtype)  # accumulates dL/dh_t: the output's gradient plus the recurrent one
    np.copyto(dh, dout)
    dz = _empty(dout.shape, dout.dtype)
    tmp = np.empty((n, hidden), dh.dtype)
    t_next = None
    for t in _steps(length, not reverse):
        dht = dh[t]
        if t_next is not None:
            _gemm(dz[t_next], w_hh, dht, 1.0, 1.0)
        if relu:
            np.greater(out[t], 0, out=tmp)  # bool into float: 1.0 / 0.0
            np.multiply(dht, tmp, out=dz[t])
        else:
            np.multiply(out[t], out[t], out=tmp)
            np.subtract(1, tmp, out=tmp)
            np.multiply(dht, tmp, out=dz[t])
        t_next = t
    dh0 = _C.matmul(dz[t_next], w_hh) if t_next is not None else np.zeros((n, hidden), dh.dtype)
    return dz, dz, dh0, None


# ---- LSTM: gates i, f, g, o (torch's order); c_t = f c_{t-1} + i g, h_t = o tanh(c_t) -----------------------

LSTM_ORDER = [0, 1, 3, 2]  # internal gate order i, f, o, g: the three sigmoid gates side by side


def lstm_scales(dt, hidden: int):
    """(forward, backward) per-row scales of the internally ordered gates. Forward: 1/2 on the sigmoid
    gates (sigmoid(a) = (tanh(a/2) + 1) / 2). Backward: every gate's slope is taken as 1 - T² from its tanh
    value T; a sigmoid gate's true slope s(1-s) = (1 - T²)/4, so 1/4 scales its rows of the weights and of
    the weight gradients instead of every step's gate gradients."""
    fwd = np.repeat(np.array([0.5, 0.5, 0.5, 1.0], dt), hidden)
    bwd = np.repeat(np.array([0.25, 0.25, 0.25, 1.0], dt), hidden)
    return fwd, bwd


def lstm_forward(zx, bias, whh, h0, c0, out, c_n, reverse):
    """zx (L, N, 4H): projection(...) in LSTM_ORDER with the forward scales; bias: step_bias(b_ih + b_hh);
    whh: recurrent_weights(...) alike. Writes h_t into out (L, N, H) and the last cell state into c_n. Saves
    the gates' tanh values T and the sigmoid gates, (L, 4, N, H) and (L, 3, N, H), c and tanh(c)."""
    length, n, width = zx.shape
    hidden = width // 4
    dt = zx.dtype
    half = dt.type(0.5)
    z_steps = _gate_steps(zx, 4)
    tg = _empty((length, 4, n, hidden), dt)
    sg = _empty((length, 3, n, hidden), dt)
    c = _empty((length, n, hidden), dt)
    tanh_c = _empty((length, n, hidden), dt)
    tmp = np.empty((n, hidden), dt)
    h_seq, h_first = _broadcast_steps(out, h0, 4)
    h_prev, c_prev = h_first, c0
    for t in _steps(length, reverse):
        tt, st = tg[t], sg[t]
        np.add(z_steps[t], bias, out=tt)  # step t's projection into one contiguous block (one strided read)
        _gemm(h_prev, whh, tt, 1.0, 1.0)
        np.tanh(tt, out=tt)
        np.multiply(tt[:3], half, out=st)
        np.add(st, half, out=st)
        ct = c[t]
        np.multiply(st[1], c_prev, out=ct)
        np.multiply(st[0], tt[3], out=tmp)
        np.add(ct, tmp, out=ct)
        tct = tanh_c[t]
        np.tanh(ct, out=tct)
        np.multiply(st[2], tct, out=out[t])
        h_prev, c_prev = h_seq[t], ct
    c_n[...] = c_prev
    return tg, sg, c, tanh_c


def lstm_backward(saved, dout, dcn, w_hh_k, h0, c0, reverse):
    """Through time: dh_t = dout_t + dz_{t+1} W_hh; dc_t = dc_{t+1} f_{t+1} + dh_t o_t (1 - tanh²c_t); the
    gates' output gradients (i: dc g, f: dc c_{t-1}, o: dh tanh c, g: dc i) times their slopes 1 - T².

    ``w_hh_k``: W_hh in LSTM_ORDER times the backward scales (so dz @ w_hh_k is the true dh). Returns dz
    in LSTM_ORDER still lacking the backward scales (the caller applies them to the weight gradients)."""
    tg, sg, c, tanh_c = saved
    length, _, n, hidden = tg.shape
    dt = tg.dtype
    dz = _empty((length, n, 4 * hidden), dt)
    dz_steps = _gate_steps(dz, 4)
    post = np.empty((4, n, hidden), dt)
    slope = np.empty((4, n, hidden), dt)
    dh = np.empty((n, hidden), dt)
    t1 = np.empty((n, hidden), dt)
    dc = np.array(dcn, copy=True)
    first = length - 1 if reverse else 0
    t_next = None
    for t in _steps(length, not reverse):
        if t_next is None:
            dht = dout[t]
        else:
            _gemm(dz[t_next], w_hh_k, dh, 1.0, 0.0)
            np.add(dh, dout[t], out=dh)
            dht = dh
        tt, st, tc = tg[t], sg[t], tanh_c[t]
        c_prev = c0 if t == first else c[t - 1 if not reverse else t + 1]
        # dc += dh o (1 - tanh²c)
        np.multiply(tc, tc, out=t1)
        np.subtract(1, t1, out=t1)
        np.multiply(t1, st[2], out=t1)
        np.multiply(t1, dht, out=t1)
        np.add(dc, t1, out=dc)
        np.multiply(dc, tt[3], out=post[0])
        np.multiply(dc, c_prev, out=post[1])
        np.multiply(dht, tc, out=post[2])
        np.multiply(dc, st[0], out=post[3])
        np.multiply(tt, tt, out=slope)
        np.subtract(1, slope, out=slope)
        np.multiply(post, slope, out=dz_steps[t])
        np.multiply(dc, st[1], out=dc)  # dc_{t-1}
        t_next = t
    dh0 = _C.matmul(dz[t_next], w_hh_k)
    return dz, dz, dh0, dc


# ---- GRU: gates r, z, n; n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)), h' = (1 - z) n + z h -----------------

GRU_ORDER = [0, 1, 2]


def gru_scale(dt, hidden: int):
    """Forward per-row scales: 1/2 on r and z (sigmoid by tanh); n's rows stay."""
    return np.repeat(np.array([0.5, 0.5, 1.0], dt), hidden)


def gru_forward(zx, whh, b_hh, h0, out, reverse):
    """zx (L, N, 3H): projection(...) with gru_scale (b_ih, and b_hh of r and z, folded in); whh:
    recurrent_weights(...) alike; b_hh: the recurrent bias (None without biases), whose n part stays
    inside r * (h W_hnᵀ + b_hn). Saves the gates (3, L, N, H), gh_n = h W_hnᵀ + b_hn per step, and out."""
    length, n, width = zx.shape
    hidden = width // 3
    dt = zx.dtype
    half = dt.type(0.5)
    z_steps = _gate_steps(zx, 3)
    gates = _empty((3, length, n, hidden), dt)
    gh = np.empty((3, n, hidden), dt)
    gh_n = _empty((length, n, hidden), dt)
    b_n = b_hh[2 * hidden:] if b_hh is not None else None
    tmp = np.empty((n, hidden), dt)
    rz, g_r, g_z, g_n = gates[:2], gates[0], gates[1], gates[2]
    h_seq, h_first = _broadcast_steps(out, h0, 3)
    h_prev, h_prev_2d = h_first, h0
    for t in _steps(length, reverse):
        _gemm(h_prev, whh, gh, 1.0, 0.0)
        zt = z_steps[t]
        rzt = rz[:, t]
        np.add(zt[:2], gh[:2], out=rzt)
        np.tanh(rzt, out=rzt)
        np.multiply(rzt, half, out=rzt)
        np.add(rzt, half, out=rzt)
        ght = gh_n[t]
        if b_n is not None:
            np.add(gh[2], b_n, out=ght)
        else:
            ght[...] = gh[2]
        nt = g_n[t]
        np.multiply(g_r[t], ght, out=tmp)
        np.add(zt[2], tmp, out=nt)
        np.tanh(nt, out=nt)
        ht = out[t]
        np.subtract(h_prev_2d, nt, out=tmp)
        np.multiply(g_z[t], tmp, out=tmp)
        np.add(nt, tmp, out=ht)
        h_prev, h_prev_2d = h_seq[t], ht
    return gates, gh_n, out


def gru_backward(saved, dout, dcn, w_hh, h0, c0, reverse):
    """dn = dh (1-z) (1-n²); dz = dh (h_prev - n) z(1-z); dr = dn gh_n r(1-r); d(gh_n) = dn r;
    dh_prev = dh z + [dr, dz, dn r] W_hh."""
    a, gh_n, out = saved
    _, length, n, hidden = a.shape
    dt = a.dtype
    dh = _empty(dout.shape, dt)
    np.copyto(dh, dout)
    dzx = _empty((length, n, 3 * hidden), dt)
    dzh = _empty((length, n, 3 * hidden), dt)
    dzx3 = dzx.reshape(length, n, 3, hidden)
    dzh3 = dzh.reshape(length, n, 3, hidden)
    t1 = np.empty((n, hidden), dt)
    t2 = np.empty((n, hidden), dt)
    ar, az, an = a[0], a[1], a[2]
    first = length - 1 if reverse else 0
    t_next = None
    for t in _steps(length, not reverse):
        dht = dh[t]
        if t_next is not None:
            _gemm(dzh[t_next], w_hh, dht, 1.0, 1.0)
            np.multiply(dh[t_next], az[t_next], out=t1)  # the z h_prev path of step t_next
            np.add(dht, t1, out=dht)
        r, zg, ng = ar[t], az[t], an[t]
        h_prev = h0 if t == first else out[t - 1 if not reverse else t + 1]
        dxt, dht3 = dzx3[t], dzh3[t]
        # dn = dh (1 - z) (1 - n²)
        np.multiply(ng, ng, out=t1)
        np.subtract(1, t1, out=t1)
        np.subtract(1, zg, out=t2)
        np.multiply(t1, t2, out=t1)
        np.multiply(t1, dht, out=dxt[:, 2])
        np.multiply(dxt[:, 2], r, out=dht3[:, 2])
        # dz = dh (h_prev - n) z (1 - z)
        np.subtract(h_prev, ng, out=t1)
        np.multiply(t1, dht, out=t1)
        np.subtract(1, zg, out=t2)
        np.multiply(t2, zg, out=t2)
        np.multiply(t1, t2, out=dxt[:, 1])
        # dr = dn gh_n r (1 - r)
        np.multiply(dxt[:, 2], gh_n[t], out=t1)
        np.subtract(1, r, out=t2)
        np.multiply(t2, r, out=t2)
        np.multiply(t1, t2, out=dxt[:, 0])
        dht3[:, :2] = dxt[:, :2]
        t_next = t
    dh0 = _C.matmul(dzh[t_next], w_hh)
    np.multiply(dh[t_next], az[t_next], out=t1)
    dh0 += t1
    return dzx, dzh, dh0, None
