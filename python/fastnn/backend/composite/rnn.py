"""rnn kernels in ``xp`` calls: the references of backend/cpu/rnn.py.

One direction of one recurrent layer, run forward over time and backward through time. The layer op
(ops/rnn.py) owns everything around it: the output array, both directions, the weight and bias gradients
(GEMMs over the gate gradients these kernels return) and the initial-state gradients.

Formulas and gate order are PyTorch's (G gate blocks of H rows each in the weights):

- RNN_TANH / RNN_RELU (G = 1): h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
- LSTM (G = 4: i, f, g, o): [i f g o] = [σ σ tanh σ](x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh),
  c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
- GRU (G = 3: r, z, n): gx = x_t W_ihᵀ + b_ih, gh = h_{t-1} W_hhᵀ + b_hh, r = σ(gx_r + gh_r),
  z = σ(gx_z + gh_z), n = tanh(gx_n + r gh_n) (b_hn inside r * (...)), h_t = (1 - z) n + z h_{t-1}

``rnn_direction_forward(mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, out, c_n, reverse, need_grad)
-> saved``
    x2 (L*N, I): the input sequence, time-major (rows t*N .. t*N+N-1 are step t), length = L >= 1;
    w_ih (G*H, I), w_hh (G*H, H); b_ih, b_hh (G*H,) or both None; h0 (N, H); c0 (N, H) for LSTM, else
    None. Writes h_t into row t of ``out`` (L, N, H; may be a strided view) and, for LSTM, the last cell
    state into ``c_n`` (N, H; None otherwise). ``reverse`` runs t = L-1 .. 0 (a bidirectional layer's
    second direction), so h_{t-1} means the previous step in that order. ``need_grad`` False lets a
    backend skip what only the backward needs. ``saved`` is opaque, for this backend's backward only; it
    may refer to ``out``, which must not change before the backward.

``rnn_direction_backward(mode, saved, dout, dcn, w_hh, h0, c0, reverse, need_h0)
-> (dzx, dzh, dh0, dc0)``
    dout (L, N, H): the gradient of ``out`` (may be strided); dcn (N, H): of ``c_n`` (LSTM; else None).
    dzx (L, N, G*H): the gradient of the input pre-activations x_t W_ihᵀ + b_ih; dzh: of the recurrent
    ones h_{t-1} W_hhᵀ + b_hh, the same array object as dzx for RNN and LSTM (both sums meet before the
    gates), a separate one for GRU. dh0 (N, H): the gradient of h0 (may be None when ``need_h0`` is
    False); dc0 (N, H) of c0 for LSTM, else None.
"""
from __future__ import annotations


def _sigmoid(xp, a):
    # The tanh form never overflows (1 / (1 + exp(-a)) does in exp for a < -88 in float32) and equals it.
    return 0.5 * (xp.tanh(0.5 * a) + 1)


def _steps(length: int, reverse: bool):
    """The forward's time order; the backward runs it reversed."""
    return range(length - 1, -1, -1) if reverse else range(length)


def _before(seq, t: int, first, reverse: bool):
    """The state preceding step t in the forward's order: ``first`` (h0 or c0) at the first step."""
    if t == (len(seq) - 1 if reverse else 0):
        return first
    return seq[t + 1] if reverse else seq[t - 1]


class RNNKernels:
    def rnn_direction_forward(self, mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, out, c_n, reverse,
                              need_grad):
        xp = self.xp
        n, hidden = h0.shape
        gx_all = xp.matmul(x2, w_ih.T).reshape(length, n, w_ih.shape[0])
        if b_ih is not None:
            gx_all = gx_all + b_ih
        hs = xp.empty((length, n, hidden), x2.dtype)  # h_t, kept apart from ``out`` so saved is self-contained
        gates = xp.empty(gx_all.shape, x2.dtype)  # the activated gates (RNN: unused)
        cs = xp.empty((length, n, hidden), x2.dtype)  # LSTM: c_t
        gh_n = xp.empty((length, n, hidden), x2.dtype)  # GRU: h_{t-1} W_hnᵀ + b_hn
        h, c = h0, c0
        for t in _steps(length, reverse):
            gh = xp.matmul(h, w_hh.T)
            if b_hh is not None:
                gh = gh + b_hh
            gx = gx_all[t]
            if mode == "LSTM":
                a = gx + gh
                i, f, o = (_sigmoid(xp, a[:, k * hidden:(k + 1) * hidden]) for k in (0, 1, 3))
                g = xp.tanh(a[:, 2 * hidden:3 * hidden])
                c = f * c + i * g
                h = o * xp.tanh(c)
                gates[t] = xp.concatenate([i, f, g, o], axis=1)
                cs[t] = c
            elif mode == "GRU":
                r = _sigmoid(xp, gx[:, :hidden] + gh[:, :hidden])
                z = _sigmoid(xp, gx[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
                gh_n[t] = gh[:, 2 * hidden:]
                new = xp.tanh(gx[:, 2 * hidden:] + r * gh_n[t])
                h = (1 - z) * new + z * h
                gates[t] = xp.concatenate([r, z, new], axis=1)
            else:
                a = gx + gh
                h = xp.tanh(a) if mode == "RNN_TANH" else xp.maximum(a, 0)
            hs[t] = h
            out[t] = h
        if mode == "LSTM":
            c_n[...] = c
        return hs, gates, cs, gh_n

    def rnn_direction_backward(self, mode, saved, dout, dcn, w_hh, h0, c0, reverse, need_h0):
        xp = self.xp
        hs, gates, cs, gh_n = saved
        length, n, hidden = hs.shape
        dt = hs.dtype
        dzx = xp.empty(gates.shape, dt)
        dzh = xp.empty(gates.shape, dt) if mode == "GRU" else dzx
        dh_next = xp.zeros((n, hidden), dt)  # what h_t receives from step t+1 (in the forward's order)
        dc = None if mode != "LSTM" else xp.array(dcn, dtype=dt)  # what c_t receives from c_n or step t+1
        for t in reversed(_steps(length, reverse)):
            dh = dout[t] + dh_next
            h = hs[t]
            if mode == "LSTM":
                gt = gates[t]
                i, f, g, o = (gt[:, k * hidden:(k + 1) * hidden] for k in range(4))
                tanh_c = xp.tanh(cs[t])
                dc = dc + dh * o * (1 - tanh_c * tanh_c)
                c_prev = _before(cs, t, c0, reverse)
                dzx[t] = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                         dh * tanh_c * o * (1 - o)], axis=1)
                dc = dc * f
                dh_next = xp.matmul(dzx[t], w_hh)
            elif mode == "GRU":
                gt = gates[t]
                r, z, new = gt[:, :hidden], gt[:, hidden:2 * hidden], gt[:, 2 * hidden:]
                h_prev = _before(hs, t, h0, reverse)
                d_new = dh * (1 - z) * (1 - new * new)
                d_z = dh * (h_prev - new) * z * (1 - z)
                d_r = d_new * gh_n[t] * r * (1 - r)
                dzx[t] = xp.concatenate([d_r, d_z, d_new], axis=1)
                dzh[t] = xp.concatenate([d_r, d_z, d_new * r], axis=1)
                dh_next = xp.matmul(dzh[t], w_hh) + dh * z  # through W_hh, and through z h_{t-1}
            else:
                slope = 1 - h * h if mode == "RNN_TANH" else (h > 0).astype(dt)
                dzx[t] = dh * slope
                dh_next = xp.matmul(dzx[t], w_hh)
        return dzx, dzh, dh_next, dc
