"""The conv and rnn kernel families: the composite (xp-only) kernels against the CPU backend's native ones
over many shapes and parameters, the same exception types for bad input, and the CPU RNN workspace pool."""
import numpy as np
import pytest

import fastnn
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend
from fastnn.backend.cpu import rnn_workspace

COMPOSITE = CompositeBackend(fastnn.device("cpu"))
CPU = CpuBackend(fastnn.device("cpu"))
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def assert_same(a, b, dtype, what):
    """Composite result a against CPU result b: shape, dtype, then values."""
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert a.dtype == b.dtype == np.dtype(dtype), (what, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


# ---- conv ------------------------------------------------------------------------------------------------------

# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups)
CONV_CASES = [
    (1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 3, 9, 7, 4, 3, 3, (1, 1), (1, 1), (1, 1), 1),
    (3, 4, 10, 11, 6, 3, 2, (2, 1), (0, 2), (1, 2), 2),
    (2, 8, 5, 5, 8, 1, 1, (1, 1), (0, 0), (1, 1), 1),
    (2, 6, 7, 17, 6, 3, 3, (2, 3), (1, 1), (2, 1), 6),  # depthwise, output rows the stride skips
    (1, 3, 13, 13, 5, 2, 4, (3, 2), (2, 1), (1, 1), 1),
    (2, 4, 1, 9, 2, 1, 3, (1, 2), (0, 1), (1, 3), 2),  # one input row
    (1, 2, 3, 3, 3, 3, 3, (1, 1), (0, 0), (1, 1), 1),  # kernel as big as the input: 1x1 output
    (1, 1, 2, 2, 1, 3, 3, (5, 5), (1, 1), (1, 1), 1),  # stride past the edge
    (0, 3, 5, 5, 2, 3, 3, (1, 1), (1, 1), (1, 1), 1),  # empty batch
]


def _strided(rng, shape, dtype):
    """A non-contiguous array of ``shape``: every other element along the last dim of a wider array."""
    wide = rng.standard_normal(shape[:-1] + (2 * shape[-1],)).astype(dtype)
    return wide[..., ::2]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[:7])) + f"-g{c[-1]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("contiguous", [True, False], ids=["contig", "strided"])
def test_conv_kernels_match(case, dtype, contiguous):
    n, c, h, w_, o, kh, kw, stride, pad, dil, groups = case
    rng = np.random.default_rng(sum(case[:7]))
    make = (lambda shape: rng.standard_normal(shape).astype(dtype)) if contiguous else \
        (lambda shape: _strided(rng, shape, dtype))
    x, w = make((n, c, h, w_)), make((o, c // groups, kh, kw))
    b = rng.standard_normal(o).astype(dtype)
    params = (stride, pad, dil, groups)
    for bias in (b, None):
        y = COMPOSITE.conv2d_forward(x, w, bias, *params)
        assert_same(y, CPU.conv2d_forward(x, w, bias, *params), dtype, f"forward bias={bias is not None}")
        assert y.flags.c_contiguous
    g = make(y.shape)
    dx = COMPOSITE.conv2d_backward_data(g, w, (h, w_), *params)
    assert_same(dx, CPU.conv2d_backward_data(g, w, (h, w_), *params), dtype, "backward_data")
    dw = COMPOSITE.conv2d_backward_weight(g, x, (kh, kw), *params)
    assert_same(dw, CPU.conv2d_backward_weight(g, x, (kh, kw), *params), dtype, "backward_weight")
    assert_same(COMPOSITE.conv2d_backward_bias(g), CPU.conv2d_backward_bias(g), dtype, "backward_bias")
    assert dx.flags.c_contiguous and dw.flags.c_contiguous


def _f32(*shape):
    return np.ones(shape, np.float32)


P1 = ((1, 1), (0, 0), (1, 1))
BAD_CONV = {
    "int dtype": ("conv2d_forward", (np.ones((1, 1, 4, 4), np.int64), np.ones((1, 1, 3, 3), np.int64), None, *P1, 1)),
    "dtypes differ": ("conv2d_forward", (_f32(1, 1, 4, 4), np.ones((1, 1, 3, 3)), None, *P1, 1)),
    "bias dtype": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 3, 3), np.ones(1), *P1, 1)),
    "3-D input": ("conv2d_forward", (_f32(1, 4, 4), _f32(1, 1, 3, 3), None, *P1, 1)),
    "3-D weight": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 3, 3), None, *P1, 1)),
    "stride 0": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 3, 3), None, (0, 1), (0, 0), (1, 1), 1)),
    "negative padding": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 3, 3), None, (1, 1), (0, -1), (1, 1), 1)),
    "dilation 0": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 3, 3), None, (1, 1), (0, 0), (1, 0), 1)),
    "groups 0": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 3, 3), None, *P1, 0)),
    "channels % groups": ("conv2d_forward", (_f32(1, 4, 5, 5), _f32(3, 2, 3, 3), None, *P1, 2)),
    "channel mismatch": ("conv2d_forward", (_f32(1, 3, 5, 5), _f32(2, 4, 3, 3), None, *P1, 1)),
    "empty kernel": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 0, 3), None, *P1, 1)),
    "kernel too big": ("conv2d_forward", (_f32(1, 1, 2, 2), _f32(1, 1, 3, 3), None, *P1, 1)),
    "dilated kernel too big": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(1, 1, 3, 3), None, (1, 1), (0, 0),
                                                  (2, 1), 1)),
    "bias length": ("conv2d_forward", (_f32(1, 1, 4, 4), _f32(2, 1, 3, 3), _f32(3), *P1, 1)),
    "data: grad shape": ("conv2d_backward_data", (_f32(1, 1, 3, 3), _f32(1, 1, 3, 3), (4, 4), *P1, 1)),
    "data: int grad": ("conv2d_backward_data", (np.ones((1, 1, 2, 2), np.int32), _f32(1, 1, 3, 3), (4, 4), *P1, 1)),
    "data: kernel too big": ("conv2d_backward_data", (_f32(1, 1, 1, 1), _f32(1, 1, 3, 3), (2, 2), *P1, 1)),
    "weight: bad groups": ("conv2d_backward_weight", (_f32(1, 2, 2, 2), _f32(1, 3, 4, 4), (3, 3), *P1, 2)),
    "weight: grad shape": ("conv2d_backward_weight", (_f32(1, 2, 3, 3), _f32(1, 1, 4, 4), (3, 3), *P1, 1)),
    "weight: dtypes differ": ("conv2d_backward_weight", (_f32(1, 1, 2, 2), np.ones((1, 1, 4, 4)), (3, 3), *P1, 1)),
    "bias: 3-D grad": ("conv2d_backward_bias", (_f32(1, 2, 3),)),
    "bias: int grad": ("conv2d_backward_bias", (np.ones((1, 2, 3, 3), np.int64),)),
}


@pytest.mark.parametrize("name", list(BAD_CONV))
def test_conv_errors_same_type(name):
    kernel, args = BAD_CONV[name]
    with pytest.raises((TypeError, ValueError)) as native:
        getattr(CPU, kernel)(*args)
    with pytest.raises(native.type):
        getattr(COMPOSITE, kernel)(*args)


# ---- rnn -------------------------------------------------------------------------------------------------------

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
RNN_SHAPES = [(5, 3, 4, 6), (1, 2, 3, 4), (4, 1, 2, 3), (1, 1, 1, 1)]  # (L, N, I, H)


def _run_direction(be, mode, x2, length, weights, h0, c0, dout, dcn, reverse, need_h0):
    """Forward into a strided column block of a two-direction output, as the layer op does, then backward.
    Returns (out, c_n, dzx, dzh, dh0, dc0), and whether dzh is dzx."""
    n, hidden = h0.shape
    lstm = mode == "LSTM"
    y = np.full((length + 1 if lstm else length, n, 2 * hidden), np.nan, x2.dtype)
    cols = slice(hidden, 2 * hidden)
    saved = be.rnn_direction_forward(mode, x2, length, *weights, h0, c0, y[:length, :, cols],
                                     y[length, :, cols] if lstm else None, reverse, True)
    dzx, dzh, dh0, dc0 = be.rnn_direction_backward(mode, saved, dout, dcn, weights[1], h0, c0, reverse, need_h0)
    same = dzh is dzx
    return (y[:length, :, cols].copy(), y[length, :, cols].copy() if lstm else None, dzx, dzh, dh0, dc0), same


@pytest.mark.parametrize("mode", list(GATES))
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("states", [True, False], ids=["h0", "zeros"])
def test_rnn_kernels_match(mode, reverse, bias, states):
    lstm = mode == "LSTM"
    rng = np.random.default_rng(len(mode) + 2 * reverse + 4 * bias + 8 * states)
    for length, n, in_size, hidden in RNN_SHAPES:
        for dtype in (np.float64, np.float32):
            def arr(*shape, scale=0.7):
                return (scale * rng.standard_normal(shape)).astype(dtype)

            rows = GATES[mode] * hidden
            # a batch_first input sliced to time-major rows, so x2 arrives as the op makes it
            x2 = arr(n, length, in_size).swapaxes(0, 1).reshape(length * n, in_size)
            w_ih, w_hh = arr(rows, in_size), arr(rows, hidden)
            b_ih, b_hh = (arr(rows), arr(rows)) if bias else (None, None)
            h0 = arr(n, hidden) if states else np.zeros((n, hidden), dtype)
            c0 = (arr(n, hidden) if states else np.zeros((n, hidden), dtype)) if lstm else None
            g = arr(length + 1, n, 2 * hidden, scale=1.0)  # strided gradient views, as the op passes them
            dout, dcn = g[:length, :, hidden:], g[length, :, hidden:] if lstm else None
            args = (mode, x2, length, (w_ih, w_hh, b_ih, b_hh), h0, c0, dout, dcn, reverse, states)
            got, got_same = _run_direction(COMPOSITE, *args)
            want, want_same = _run_direction(CPU, *args)
            assert got_same == want_same == (mode != "GRU")
            where = f"{mode} L={length} N={n} I={in_size} H={hidden} {np.dtype(dtype)}"
            for name, a, b in zip(("out", "c_n", "dzx", "dzh", "dh0", "dc0"), got, want):
                if name == "dh0" and not states:
                    continue  # not asked for: a backend may skip it
                if b is None:
                    assert a is None, (name, where)
                    continue
                assert_same(a, b, dtype, f"{name} {where}")


def test_rnn_relu_slope_at_zero():
    """A pre-activation of exactly 0 has slope 0 in both backends (h > 0), as in PyTorch."""
    x2 = np.zeros((2, 1))
    w_ih, w_hh, h0 = np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1))
    dout = np.ones((2, 1, 1))
    for be in (COMPOSITE, CPU):
        out = np.empty((2, 1, 1))
        saved = be.rnn_direction_forward("RNN_RELU", x2, 2, w_ih, w_hh, None, None, h0, None, out, None, False, True)
        dzx, _, dh0, _ = be.rnn_direction_backward("RNN_RELU", saved, dout, None, w_hh, h0, None, False, True)
        assert not out.any() and not dzx.any() and not dh0.any()


# ---- the CPU workspace pool ------------------------------------------------------------------------------------

def test_workspace_reuses_an_array_only_when_free():
    rnn_workspace.clear()
    shape = (3, 1000, 17)  # 400 kB: big enough to be pooled
    a = rnn_workspace.empty(shape, np.float64)
    a_id = id(a)
    b = rnn_workspace.empty(shape, np.float64)
    assert b is not a  # a is still held by this frame
    view = b[1]
    del b
    kept = [rnn_workspace.empty(shape, np.float64)]
    assert kept[0] is not view.base and kept[0] is not a  # a view keeps its base out of reuse
    held_by_closure = kept[0]
    kept.clear()

    def closure():
        return held_by_closure

    assert rnn_workspace.empty(shape, np.float64) is not closure()
    del a
    assert id(rnn_workspace.empty(shape, np.float64)) == a_id  # free now: handed out again
    assert id(rnn_workspace.empty(shape, np.float32)) != a_id  # another dtype: another key
    rnn_workspace.clear()
