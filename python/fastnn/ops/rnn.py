"""Recurrent layers as autograd ops: one op per layer (both directions), whose backward runs through time.

A graph of per-step autograd ops would cost ~20 Python-level ops per time step in the forward and as many
nodes in the backward; here a layer is one node. Its forward projects the whole input sequence with one
GEMM per direction, then loops over time (on the CPU: one GEMM plus a few NumPy calls per step);
its backward runs the recurrence backwards and finishes with one GEMM each for dW_ih, dW_hh and dx. The
recurrences of one direction are the backend's kernels ``rnn_direction_forward`` / ``rnn_direction_backward``
(signatures: backend/composite/rnn.py); this module orchestrates the layer around them.

Autograd nodes here have one output, so a layer returns one packed array: (L, N, D*H) of hidden states
for RNN and GRU, and (L+1, N, D*H) for LSTM, whose extra row holds c_n. The next layer reads the first L
rows of it directly (no slicing op in between); ``final_states`` gathers h_n (and c_n) of all layers.
"""
from __future__ import annotations

from ..autograd.grad_mode import is_grad_enabled
from ..autograd.graph import record
from ..backend import backend_of
from .._tensor import Tensor

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")


def _arr(t):
    return None if t is None else t._data


def rnn_layer(mode: str, input: Tensor, seq_len: int, weights, hx: Tensor | None, cx: Tensor | None,
              layer: int) -> Tensor:
    """One layer of ``mode`` over the first ``seq_len`` rows of ``input`` (L', N, I), time-major.

    ``weights``: per direction (one or two) a tuple (w_ih, w_hh, b_ih, b_hh) of Tensors, biases None when
    the layer has none. ``hx``/``cx``: the whole (num_layers*D, N, H) initial states or None (zeros); this
    layer uses rows layer*D .. layer*D+D-1 and its backward returns a gradient for the whole tensor.
    Returns (L, N, D*H) hidden states, or (L+1, N, D*H) for LSTM with c_n (per direction) in row L.
    The caller validates shapes and dtypes. A cell step (nn.RNNCell & co.) may pass a 2-D input (N, I) and
    2-D states (N, H), read as a sequence of one and one layer: that spares it three unsqueeze ops (and
    their graph nodes) per step; the gradients come back in the 2-D shapes.
    """
    if mode not in MODES:
        raise ValueError(f"rnn_layer(): unknown mode {mode!r} (expected one of {', '.join(MODES)})")
    x = input._data
    if x.ndim == 2:
        x = x[None]
    length, n, in_size = seq_len, x.shape[1], x.shape[2]
    ndir = len(weights)
    hidden = weights[0][1].shape[1]
    dt = x.dtype
    be = backend_of(x, weights[0][1]._data, _arr(hx), _arr(cx))
    xp = be.xp
    x2 = x[:length].reshape(length * n, in_size)  # copies a strided (batch_first) input, once
    lstm = mode == "LSTM"
    y = xp.empty((length + 1 if lstm else length, n, ndir * hidden), dt)
    rows = slice(layer * ndir, layer * ndir + ndir)
    hx_a = None if hx is None else (hx._data if hx._data.ndim == 3 else hx._data[None])
    cx_a = None if cx is None else (cx._data if cx._data.ndim == 3 else cx._data[None])
    h0s = hx_a[rows] if hx is not None else xp.zeros((ndir, n, hidden), dt)
    c0s = (cx_a[rows] if cx is not None else xp.zeros((ndir, n, hidden), dt)) if lstm else [None] * ndir
    if n == 0:  # an empty batch: empty outputs and zero gradients (the GEMMs refuse empty strided views)
        return _empty_batch_layer(be, input, y, hx, cx, weights)
    flat = [w for ws in weights for w in ws]
    need_grad = is_grad_enabled() and any(t is not None and t._requires_grad for t in (input, hx, cx, *flat))
    saved = []
    for d, ws in enumerate(weights):
        cols = slice(d * hidden, (d + 1) * hidden)
        w_ih, w_hh, b_ih, b_hh = (_arr(w) for w in ws)
        saved.append(be.rnn_direction_forward(mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0s[d], c0s[d],
                                              y[:length, :, cols], y[length, :, cols] if lstm else None,
                                              d == 1, need_grad))

    def backward(g):
        gx = None
        if input._requires_grad:
            gx = xp.empty(x.shape, dt)
            gx[length:] = 0
            dx2 = gx[:length].reshape(length * n, in_size)
        ghx = xp.zeros(hx_a.shape, dt) if hx is not None and hx._requires_grad else None
        gcx = xp.zeros(cx_a.shape, dt) if cx is not None and cx._requires_grad else None
        wgrads = []
        for d, ws in enumerate(weights):
            cols = slice(d * hidden, (d + 1) * hidden)
            t_ih, t_hh, t_bih, t_bhh = ws
            w_ih, w_hh = t_ih._data, t_hh._data
            reverse = d == 1
            dzx, dzh, dh0, dc0 = be.rnn_direction_backward(
                mode, saved[d], g[:length, :, cols], g[length, :, cols] if lstm else None, w_hh, h0s[d], c0s[d],
                reverse, ghx is not None)
            gates = dzx.shape[-1]
            dzx2 = dzx.reshape(length * n, gates)
            dzh2 = dzh.reshape(length * n, gates)
            if gx is not None:
                be.gemm_into(dzx2, w_ih, dx2, 1.0, 0.0 if d == 0 else 1.0)
            gw_ih = be.matmul(dzx2.T, x2) if t_ih._requires_grad else None
            gw_hh = _hh_weight_grad(be, dzh, y[:length, :, cols], h0s[d], hx is not None, reverse) \
                if t_hh._requires_grad else None
            need_bih = t_bih is not None and t_bih._requires_grad
            need_bhh = t_bhh is not None and t_bhh._requires_grad
            gb_ih = dzx2.sum(axis=0) if need_bih else None
            gb_hh = None
            if need_bhh:  # RNN and LSTM: the same pre-activations take both biases
                gb_hh = gb_ih.copy() if need_bih and dzh is dzx else dzh2.sum(axis=0)
            wgrads += [gw_ih, gw_hh, gb_ih, gb_hh]
            if ghx is not None:
                ghx[layer * ndir + d] = dh0
            if gcx is not None:
                gcx[layer * ndir + d] = dc0
        if gx is not None and gx.ndim != input._data.ndim:  # a cell step: its 2-D shapes
            gx = gx[0]
        if ghx is not None and ghx.ndim != hx._data.ndim:
            ghx = ghx[0]
        if gcx is not None and gcx.ndim != cx._data.ndim:
            gcx = gcx[0]
        return (gx, ghx, gcx, *wgrads)

    return record(Tensor._wrap(y), f"{mode.replace('_', '')}LayerBackward0", (input, hx, cx, *flat), backward)


def _empty_batch_layer(be, input, y, hx, cx, weights):
    flat = [w for ws in weights for w in ws]

    def backward(g):
        return tuple(None if t is None else be.xp.zeros(t.shape, y.dtype) for t in (input, hx, cx, *flat))

    return record(Tensor._wrap(y), "RNNLayerBackward0", (input, hx, cx, *flat), backward)


def _hh_weight_grad(be, dzh, out, h0, has_h0: bool, reverse: bool):
    """dW_hh = Σ_t dzh_tᵀ h_{t-1}: one GEMM over the steps whose h_{t-1} is an output row, plus h0's step
    (skipped when h0 is the default zeros)."""
    length, n, gates = dzh.shape
    hidden = out.shape[-1]
    gw = be.xp.zeros((gates, hidden), dzh.dtype)
    if length > 1:
        dz_rows = dzh[:-1] if reverse else dzh[1:]
        h_rows = out[1:] if reverse else out[:-1]
        rows = (length - 1) * n
        be.gemm_into(dz_rows.reshape(rows, gates).T, h_rows.reshape(rows, hidden), gw, 1.0, 0.0)
    if has_h0:
        be.gemm_into(dzh[length - 1 if reverse else 0].T, h0, gw, 1.0, 1.0)
    return gw


def final_states(layer_outputs, seq_len: int, num_directions: int, with_cell: bool) -> Tensor:
    """h_n (num_layers*D, N, H), or [h_n, c_n] stacked as (2, num_layers*D, N, H) for LSTM, gathered from
    the layers' packed outputs: the forward direction's last step is row L-1, the reverse one's row 0."""
    ys = [t._data for t in layer_outputs]
    n = ys[0].shape[1]
    hidden = ys[0].shape[2] // num_directions
    dt = ys[0].dtype
    be = backend_of(ys[0])
    states = be.xp.empty((2 if with_cell else 1, len(ys) * num_directions, n, hidden), dt)

    def places(d):
        cols = slice(d * hidden, (d + 1) * hidden)
        return (seq_len - 1 if d == 0 else 0, slice(None), cols), (seq_len, slice(None), cols)

    for layer, y in enumerate(ys):
        for d in range(num_directions):
            h_at, c_at = places(d)
            states[0, layer * num_directions + d] = y[h_at]
            if with_cell:
                states[1, layer * num_directions + d] = y[c_at]

    def backward(g):
        g = g.reshape(states.shape)
        grads = []
        for layer, y in enumerate(ys):
            gy = be.xp.zeros(y.shape, dt)
            for d in range(num_directions):
                h_at, c_at = places(d)
                gy[h_at] = g[0, layer * num_directions + d]
                if with_cell:
                    gy[c_at] = g[1, layer * num_directions + d]
            grads.append(gy)
        return tuple(grads)

    out = states if with_cell else states[0]
    return record(Tensor._wrap(out), "StackBackward0", tuple(layer_outputs), backward)
