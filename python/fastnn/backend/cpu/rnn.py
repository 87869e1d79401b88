"""The RNN kernels on the CPU: the recurrences of one layer direction (tanh/relu RNN, LSTM, GRU), a forward
loop over time and a hand-written backward through time, side by side, in NumPy plus the native GEMM.
Signatures and semantics: backend/composite/rnn.py (the plain reference); what differs here is speed.

The layer op (ops/rnn.py) hands over the whole input sequence, turned into gate pre-activations here with
one GEMM (RNN and GRU with the bias fused in; LSTM adds its bias per step); then each time step costs one
GEMM (h_prev @ W_hhᵀ, all gates at once, accumulated in place into the step's (N, gates*H) block) and a
few NumPy calls on arrays of one step, which stay in cache. Every NumPy call writes into preallocated
storage (``out=``); the whole-block calls (tanh, the sigmoid's affine, the slopes) run on contiguous
16k-element rows, which matters: a 12k-element column slice of those rows costs 4.3 us against 1.8 us
contiguous. The big per-call arrays come from the recycling pool of rnn_workspace.py.

Sigmoid is computed as 0.5 * tanh(x / 2) + 0.5 with the 1/2 folded into the weights and biases of the
sigmoid gates (a power of two: exact), so a step runs one tanh over all its gates plus two affine calls
instead of exp, add and reciprocal per sigmoid gate (expit: 39 us per 12k elements, tanh: 4.8 per 16k).

Each ``*_forward`` returns the arrays its backward needs; each ``*_backward`` returns (dzx, dzh, dh0, dc0):
the gradients of the input pre-activations (for W_ih, b_ih and the input), of the recurrent
pre-activations (for W_hh and b_hh; the same array except in GRU), and of the initial states.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from .rnn_workspace import empty as _empty

_gemm = _C.gemm


class CpuRNNKernels:
    def rnn_direction_forward(self, mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, out, c_n, reverse,
                              need_grad):
        hidden = w_hh.shape[1]
        dt = x2.dtype
        if mode == "LSTM":
            scale, _ = lstm_scales(dt, hidden)
            bias = None if b_ih is None else (b_ih + b_hh) * scale
            zx = projection(x2, w_ih * scale[:, None], length)
            whh_t = np.ascontiguousarray((w_hh * scale[:, None]).T)
            return lstm_forward(zx, bias, whh_t, h0, c0, out, c_n, reverse, need_grad)
        if mode == "GRU":
            scale = gru_scale(dt, hidden)
            bias = b_hn = None
            if b_ih is not None:  # b_hr and b_hz add like b_ih; b_hn sits inside r * (...), so it stays per step
                bias = b_ih.copy()
                bias[: 2 * hidden] += b_hh[: 2 * hidden]
                bias *= scale
                b_hn = b_hh[2 * hidden:]
            zx = _C.linear(x2, w_ih * scale[:, None], bias).reshape(length, -1, 3 * hidden)
            whh_t = np.ascontiguousarray((w_hh * scale[:, None]).T)
            return gru_forward(zx, whh_t, b_hn, h0, out, reverse)
        bias = None if b_ih is None else b_ih + b_hh
        z = _C.linear(x2, w_ih, bias).reshape(length, -1, hidden)
        return rnn_forward(z, w_hh, h0, out, reverse, mode == "RNN_RELU")

    def rnn_direction_backward(self, mode, saved, dout, dcn, w_hh, h0, c0, reverse, need_h0):
        if mode == "LSTM":
            _, scale = lstm_scales(w_hh.dtype, w_hh.shape[1])
            return lstm_backward(saved, dout, dcn, w_hh * scale[:, None], h0, c0, reverse, need_h0) + (scale,)
        if mode == "GRU":
            return gru_backward(saved, dout, dcn, w_hh, h0, c0, reverse) + (None,)
        return rnn_backward(saved, dout, dcn, w_hh, h0, c0, reverse, mode == "RNN_RELU") + (None,)


def projection(x2, w, length):
    """x2 @ wᵀ for the whole sequence in one GEMM, (L, N, G), into a workspace array: a fresh 3 MB output
    (as _C.linear allocates) cost its page faults on every call while the saved arrays of the training
    step were alive (2.5 ms against 1.2 ms). The bias goes in per step, an add on a block in cache."""
    rows = x2.shape[0]
    z = _empty((length, rows // length, w.shape[0]), x2.dtype)
    _gemm(x2, w.T, z.reshape(rows, w.shape[0]), 1.0, 0.0)
    return z


def _tiled(bias, rows: int):
    """The bias repeated over ``rows`` rows: adding a (rows, G) array runs twice as fast as broadcasting
    a (G,) one (1.8 against 3.5 us on 32x512 float32)."""
    if bias is None:
        return None
    return np.ascontiguousarray(np.broadcast_to(bias, (rows, bias.shape[0])))


def _steps(length: int, reverse: bool):
    return range(length - 1, -1, -1) if reverse else range(length)


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

_SCALES: dict = {}


def _cached(key, make):
    """Read-only scale vectors made once per (kind, dtype, hidden): a cell step calls for them twice a
    forward and once a backward, and two np.repeat calls cost ~4 us of a ~60 us step."""
    arr = _SCALES.get(key)
    if arr is None:
        if len(_SCALES) > 256:
            _SCALES.clear()
        arr = _SCALES[key] = make()
    return arr


def lstm_scales(dt, hidden: int):
    return _cached(("lstm", np.dtype(dt), hidden), lambda: _lstm_scales(dt, hidden))


def _lstm_scales(dt, hidden: int):
    """(forward, backward) per-row scales of the gates i, f, g, o. Forward: 1/2 on the sigmoid gates
    (sigmoid(a) = (tanh(a/2) + 1) / 2), so one tanh covers a step's four gates. Backward: every gate's
    slope is taken as 1 - T² from its tanh value T; a sigmoid gate's true slope s(1-s) = (1 - T²)/4, so 1/4
    scales its rows of the weights and of the weight gradients instead of every step's gate gradients."""
    fwd = np.repeat(np.array([0.5, 0.5, 1.0, 0.5], dt), hidden)
    bwd = np.repeat(np.array([0.25, 0.25, 1.0, 0.25], dt), hidden)
    fwd.flags.writeable = bwd.flags.writeable = False
    return fwd, bwd


def lstm_forward(zx, bias, whh_t, h0, c0, out, c_n, reverse, need_grad=True):
    """zx (L, N, 4H): x W_ihᵀ with the forward scales, turned in place into the gates' tanh values T; bias:
    (b_ih + b_hh) scaled alike, or None; whh_t: (W_hh scaled)ᵀ, (H, 4H). Writes h_t into out (L, N, H) and
    the last cell state into c_n. Saves T, S = (T + 1)/2 (the sigmoid gates), c and tanh(c); S's unused g
    block keeps o (1 - tanh²c) = o - h tanh c for the backward (two small calls here save it three).
    A step is one (N, 4H) row block: the GEMM and the big element-wise calls run on it whole."""
    length, n, width = zx.shape
    hidden = width // 4
    dt = zx.dtype
    half = dt.type(0.5)
    sg = _empty((length, n, width), dt)
    c = _empty((length, n, hidden), dt)
    tanh_c = _empty((length, n, hidden), dt)
    tmp = np.empty((n, hidden), dt)
    i_, f_, g_, o_ = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
    if length > 1:  # tiling pays only when reused; a cell step adds the (4H,) bias once, broadcast
        bias = _tiled(bias, n)
    mul, add, tanh, gemm = np.multiply, np.add, np.tanh, _gemm  # locals: ~2600 calls a training step
    h_prev, c_prev = h0, c0
    for t in _steps(length, reverse):
        tt, st, ct, tct, ht = zx[t], sg[t], c[t], tanh_c[t], out[t]
        if bias is not None:
            add(tt, bias, out=tt)
        gemm(h_prev, whh_t, tt, 1.0, 1.0)
        tanh(tt, out=tt)
        mul(tt, half, out=st)
        add(st, half, out=st)
        s_o = st[:, o_]
        mul(st[:, f_], c_prev, out=ct)
        mul(st[:, i_], tt[:, g_], out=tmp)
        add(ct, tmp, out=ct)
        tanh(ct, out=tct)
        mul(s_o, tct, out=ht)
        if need_grad:
            mul(ht, tct, out=tmp)
            np.subtract(s_o, tmp, out=st[:, g_])
        h_prev, c_prev = ht, ct
    c_n[...] = c_prev
    return zx, sg, c, tanh_c


def lstm_backward(saved, dout, dcn, w_hh_k, h0, c0, reverse, need_h0=True):
    """Through time: dh_t = dout_t + dz_{t+1} W_hh; dc_t = dc_{t+1} f_{t+1} + dh_t o_t (1 - tanh²c_t); the
    gates' output gradients (i: dc g, f: dc c_{t-1}, g: dc i, o: dh tanh c) times their slopes 1 - T².

    ``w_hh_k``: W_hh times the backward scales (so dz @ w_hh_k is the true dh). Returns dz lacking the
    backward scales (the caller applies them to the weight gradients); dh0 is None unless ``need_h0``."""
    tg, sg, c, tanh_c = saved
    length, n, width = tg.shape
    hidden = width // 4
    dt = tg.dtype
    dz = _empty((length, n, width), dt)
    post = np.empty((n, width), dt)
    dh = np.empty((n, hidden), dt)
    t1 = np.empty((n, hidden), dt)
    dc = np.array(dcn, copy=True)
    one = dt.type(1)
    i_, f_, g_, o_ = (slice(k * hidden, (k + 1) * hidden) for k in range(4))
    p_i, p_f, p_g, p_o = post[:, i_], post[:, f_], post[:, g_], post[:, o_]
    mul, add, gemm = np.multiply, np.add, _gemm
    first = length - 1 if reverse else 0
    t_next = None
    for t in _steps(length, not reverse):
        if t_next is None:
            dht = dout[t]
        else:
            gemm(dz[t_next], w_hh_k, dh, 1.0, 0.0)
            add(dh, dout[t], out=dh)
            dht = dh
        tt, st, tc, dzt = tg[t], sg[t], tanh_c[t], dz[t]
        c_prev = c0 if t == first else c[t - 1 if not reverse else t + 1]
        mul(dht, st[:, g_], out=t1)  # dc += dh o (1 - tanh²c), the factor saved by the forward
        add(dc, t1, out=dc)
        mul(dc, tt[:, g_], out=p_i)
        mul(dc, c_prev, out=p_f)
        mul(dc, st[:, i_], out=p_g)
        mul(dht, tc, out=p_o)
        mul(tt, tt, out=dzt)
        np.subtract(one, dzt, out=dzt)
        mul(dzt, post, out=dzt)
        mul(dc, st[:, f_], out=dc)  # dc_{t-1}
        t_next = t
    dh0 = _C.matmul(dz[t_next], w_hh_k) if need_h0 else None
    return dz, dz, dh0, dc


# ---- GRU: gates r, z, n; n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)), h' = (1 - z) n + z h -----------------

def gru_scale(dt, hidden: int):
    """Forward per-row scales: 1/2 on r and z (sigmoid by tanh); n's rows stay."""
    return _cached(("gru", np.dtype(dt), hidden), lambda: _gru_scale(dt, hidden))


def _gru_scale(dt, hidden: int):
    arr = np.repeat(np.array([0.5, 0.5, 1.0], dt), hidden)
    arr.flags.writeable = False
    return arr


def gru_forward(zx, whh_t, b_hn, h0, out, reverse):
    """zx (L, N, 3H): x W_ihᵀ + b_ih + [b_hr, b_hz, 0] with gru_scale, turned in place into the gates r, z,
    n; whh_t: (W_hh scaled)ᵀ, (H, 3H); b_hn: the n part of b_hh (None without biases), which stays inside
    r * (h W_hnᵀ + b_hn). Saves the gates, gh_n = h W_hnᵀ + b_hn per step, and out."""
    length, n, width = zx.shape
    hidden = width // 3
    dt = zx.dtype
    half = dt.type(0.5)
    gh = np.empty((n, width), dt)
    gh_n = _empty((length, n, hidden), dt)
    tmp = np.empty((n, hidden), dt)
    rz_, r_, z_, n_ = slice(0, 2 * hidden), slice(0, hidden), slice(hidden, 2 * hidden), slice(2 * hidden, width)
    gh_rz, gh_nn = gh[:, rz_], gh[:, n_]
    b_hn = _tiled(b_hn, n)
    h_prev = h0
    for t in _steps(length, reverse):
        _gemm(h_prev, whh_t, gh, 1.0, 0.0)
        zt = zx[t]
        rzt = zt[:, rz_]
        np.add(rzt, gh_rz, out=rzt)
        np.tanh(rzt, out=rzt)
        np.multiply(rzt, half, out=rzt)
        np.add(rzt, half, out=rzt)
        ght = gh_n[t]
        if b_hn is not None:
            np.add(gh_nn, b_hn, out=ght)
        else:
            np.copyto(ght, gh_nn)
        nt = zt[:, n_]
        np.multiply(zt[:, r_], ght, out=tmp)
        np.add(nt, tmp, out=nt)
        np.tanh(nt, out=nt)
        ht = out[t]
        np.subtract(h_prev, nt, out=tmp)
        np.multiply(zt[:, z_], tmp, out=tmp)
        np.add(nt, tmp, out=ht)
        h_prev = ht
    return zx, gh_n, out


def gru_backward(saved, dout, dcn, w_hh, h0, c0, reverse):
    """dn = dh (1-z) (1-n²); dz = dh (h_prev - n) z(1-z); dr = dn gh_n r(1-r); d(gh_n) = dn r;
    dh_prev = dh z + [dr, dz, dn r] W_hh."""
    a, gh_n, out = saved
    length, n, width = a.shape
    hidden = width // 3
    dt = a.dtype
    dh = _empty(dout.shape, dt)
    np.copyto(dh, dout)
    dzx = _empty((length, n, width), dt)
    dzh = _empty((length, n, width), dt)
    t1 = np.empty((n, hidden), dt)
    t2 = np.empty((n, hidden), dt)
    rz_, r_, z_, n_ = slice(0, 2 * hidden), slice(0, hidden), slice(hidden, 2 * hidden), slice(2 * hidden, width)
    first = length - 1 if reverse else 0
    t_next = None
    for t in _steps(length, not reverse):
        dht = dh[t]
        if t_next is not None:
            _gemm(dzh[t_next], w_hh, dht, 1.0, 1.0)
            np.multiply(dh[t_next], a[t_next][:, z_], out=t1)  # the z h_prev path of step t_next
            np.add(dht, t1, out=dht)
        at = a[t]
        r, zg, ng = at[:, r_], at[:, z_], at[:, n_]
        h_prev = h0 if t == first else out[t - 1 if not reverse else t + 1]
        dxt, dzht = dzx[t], dzh[t]
        dn = dxt[:, n_]
        # dn = dh (1 - z) (1 - n²)
        np.multiply(ng, ng, out=t1)
        np.subtract(1, t1, out=t1)
        np.subtract(1, zg, out=t2)
        np.multiply(t1, t2, out=t1)
        np.multiply(t1, dht, out=dn)
        np.multiply(dn, r, out=dzht[:, n_])
        # dz = dh (h_prev - n) z (1 - z)
        np.subtract(h_prev, ng, out=t1)
        np.multiply(t1, dht, out=t1)
        np.subtract(1, zg, out=t2)
        np.multiply(t2, zg, out=t2)
        np.multiply(t1, t2, out=dxt[:, z_])
        # dr = dn gh_n r (1 - r)
        np.multiply(dn, gh_n[t], out=t1)
        np.subtract(1, r, out=t2)
        np.multiply(t2, r, out=t2)
        np.multiply(t1, t2, out=dxt[:, r_])
        np.copyto(dzht[:, rz_], dxt[:, rz_])
        t_next = t
    dh0 = _C.matmul(dzh[t_next], w_hh)
    np.multiply(dh[t_next], a[t_next][:, z_], out=t1)
    dh0 += t1
    return dzx, dzh, dh0, None
