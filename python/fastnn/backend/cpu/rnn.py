"""The RNN kernels on the CPU: the recurrences of one layer direction (tanh/relu RNN, LSTM, GRU), a forward
loop over time and a hand-written backward through time. Signatures and semantics: backend/composite/rnn.py
(the plain reference); what differs here is speed.

The layer op (ops/rnn.py) hands over the whole input sequence, turned into gate pre-activations here with
one GEMM. LSTM and GRU then run natively (_C.lstm_sequence_* / _C.gru_sequence_*): per step one recurrent
GEMM (h_prev @ W_hhᵀ, all gates at once) and one fused pass over the step's gates, with no Python per step.
The tanh/relu RNN keeps its NumPy loop: one GEMM and one or two NumPy calls on arrays of one step, every
call writing into preallocated storage (``out=``). The big per-call arrays come from the recycling pool of
rnn_workspace.py (fresh ones cost their first-touch page faults on every call).

Each ``*_forward`` returns the arrays its backward needs; each ``*_backward`` returns (dzx, dzh, dh0, dc0):
the gradients of the input pre-activations (for W_ih, b_ih and the input), of the recurrent
pre-activations (for W_hh and b_hh; the same array except in GRU), and of the initial states.
"""
from __future__ import annotations

import numpy as np

from ... import _C
from .layout import contiguous_rows
from .rnn_workspace import empty as _empty

_gemm = _C.gemm


class CpuRNNKernels:
    def rnn_direction_forward(self, mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, out, c_n, reverse,
                              need_grad):
        if mode == "LSTM":
            return lstm_forward(x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, out, c_n, reverse, need_grad)
        if mode == "GRU":
            return gru_forward(x2, length, w_ih, w_hh, b_ih, b_hh, h0, out, reverse, need_grad)
        hidden = w_hh.shape[1]
        bias = None if b_ih is None else b_ih + b_hh
        z = _C.linear(x2, w_ih, bias).reshape(length, -1, hidden)
        return rnn_forward(z, w_hh, h0, out, reverse, mode == "RNN_RELU")

    def rnn_direction_backward(self, mode, saved, dout, dcn, w_hh, h0, c0, reverse, need_h0):
        if mode == "LSTM":
            return lstm_backward(saved, dout, dcn, w_hh, c0, reverse, need_h0)
        if mode == "GRU":
            return gru_backward(saved, dout, w_hh, h0, reverse, need_h0)
        return rnn_backward(saved, dout, dcn, w_hh, h0, c0, reverse, mode == "RNN_RELU")


def projection(x2, w, length):
    """x2 @ wᵀ for the whole sequence in one GEMM, (L, N, G), into a workspace array: a fresh 3 MB output
    (as _C.linear allocates) cost its page faults on every call while the saved arrays of the training
    step were alive (2.5 ms against 1.2 ms). The biases go in per step, in the fused cell."""
    rows = x2.shape[0]
    z = _empty((length, rows // length, w.shape[0]), x2.dtype)
    _gemm(x2, w.T, z.reshape(rows, w.shape[0]), 1.0, 0.0)
    return z


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


# ---- LSTM and GRU: the native sequence loops (csrc/cpu/rnn_dispatch.cpp, fused cells in rnn_cell.cpp) --------
#
# LSTM: gates i, f, g, o (torch's order); c_t = f c_{t-1} + i g, h_t = o tanh(c_t). GRU: gates r, z, n;
# n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn)), h_t = (1 - z) n + z h_{t-1}. The input projection of all
# steps is one GEMM here; the native loop then runs per step one recurrent GEMM and one fused pass over the
# step's gates (nonlinearities, state update, output, and what the backward needs), and its backward the
# mirror image, with no Python call per step.

def _recurrent_operand(w_hh, length: int):
    """W_hhᵀ for h_{t-1} W_hhᵀ: made contiguous once per sequence, so the GEMM reads its short rows in place at
    every step (its direct-B path: W_hhᵀ is packed once, by this copy, not once per step); a single step
    (a cell) passes the transposed view, which the GEMM packs once, as the copy would."""
    return w_hh.T if length == 1 else np.ascontiguousarray(w_hh.T)


def lstm_forward(x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, out, c_n, reverse, need_grad):
    """Writes h_t into out (L, N, H) and the last cell state into c_n; saves the gate activations
    (L, N, 4H), c_t and tanh(c_t) (the latter only when a backward may follow)."""
    hidden = w_hh.shape[1]
    dt = x2.dtype
    bias = None if b_ih is None else b_ih + b_hh
    gates = projection(x2, w_ih, length)
    n = gates.shape[1]
    c = _empty((length, n, hidden), dt)
    tanh_c = _empty((length, n, hidden), dt) if need_grad else None
    _C.lstm_sequence_forward(gates, bias, _recurrent_operand(w_hh, length), contiguous_rows(h0), contiguous_rows(c0),
                             out, c_n, c, tanh_c, reverse)
    return gates, c, tanh_c


def lstm_backward(saved, dout, dcn, w_hh, c0, reverse, need_h0):
    gates, c, tanh_c = saved
    length, n, width = gates.shape
    dt = gates.dtype
    dz = _empty((length, n, width), dt)
    dh0 = np.empty((n, width // 4), dt) if need_h0 else None
    dc0 = np.empty((n, width // 4), dt)
    _C.lstm_sequence_backward(gates, c, tanh_c, contiguous_rows(c0), w_hh, contiguous_rows(dout),
                              None if dcn is None else contiguous_rows(dcn), dz, dh0, dc0, reverse)
    return dz, dz, dh0, dc0


def gru_forward(x2, length, w_ih, w_hh, b_ih, b_hh, h0, out, reverse, need_grad):
    """Writes h_t into out; saves the gates r, z, n (L, N, 3H), gh_n = h_{t-1} W_hnᵀ + b_hn (when a backward
    may follow) and out (the backward's h_{t-1})."""
    hidden = w_hh.shape[1]
    dt = x2.dtype
    bias = b_hn = None
    if b_ih is not None:  # b_hr and b_hz add like b_ih; b_hn sits inside r * (...), so it goes in separately
        bias = b_ih.copy()
        bias[: 2 * hidden] += b_hh[: 2 * hidden]
        b_hn = np.ascontiguousarray(b_hh[2 * hidden:])
    gates = projection(x2, w_ih, length)
    gh_n = _empty((length, gates.shape[1], hidden), dt) if need_grad else None
    _C.gru_sequence_forward(gates, bias, b_hn, _recurrent_operand(w_hh, length), contiguous_rows(h0), out, gh_n,
                            reverse)
    return gates, gh_n, out


def gru_backward(saved, dout, w_hh, h0, reverse, need_h0):
    gates, gh_n, out = saved
    length, n, width = gates.shape
    dt = gates.dtype
    dzx = _empty((length, n, width), dt)
    dzh = _empty((length, n, width), dt)
    dh0 = np.empty((n, width // 3), dt) if need_h0 else None
    _C.gru_sequence_backward(gates, gh_n, contiguous_rows(h0), out, w_hh, contiguous_rows(dout), dzx, dzh, dh0,
                             reverse)
    return dzx, dzh, dh0, None
