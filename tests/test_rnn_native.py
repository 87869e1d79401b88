"""The fused native LSTM / GRU sequence kernels (_C.lstm_sequence_* / _C.gru_sequence_*): against the composite
(NumPy) reference at every ISA level (strided states and gradients, odd widths that leave vector tails),
bitwise the same for 1, 2 and 3 threads, clear errors for bad input; nn.LSTM / nn.GRU and the cells against
torch with the same weights (odd sizes, size-1 batch and sequence, float32 and float64) and a float64
gradcheck through whole modules."""
import numpy as np
import pytest

import fastnn
from fastnn import _C, nn
from fastnn.autograd import gradcheck
from fastnn.backend.composite import CompositeBackend
from op_helpers import assert_close

ISAS = list(_C.isa_levels())
COMPOSITE = CompositeBackend(fastnn.device("cpu"))
KTOL = {np.float64: dict(atol=1e-12, rtol=1e-10), np.float32: dict(atol=2e-5, rtol=2e-5)}
GATES = {"LSTM": 4, "GRU": 3}


def _native(mode, isa, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, dout, dcn, reverse, contiguous_whh):
    """One direction through the native kernels at level ``isa``, outputs into a strided column block as the
    layer op passes them: (out, c_n, dzx, dzh, dh0, dc0)."""
    n, hidden = h0.shape
    dt = x2.dtype
    gates = (x2 @ w_ih.T).reshape(length, n, -1).copy()
    y = np.full((length, n, 2 * hidden), np.nan, dt)
    out = y[:, :, hidden:]
    w_t = np.ascontiguousarray(w_hh.T) if contiguous_whh else w_hh.T
    dh0 = np.empty((n, hidden), dt)
    if mode == "LSTM":
        bias = None if b_ih is None else b_ih + b_hh
        c_n = np.empty((2, n, hidden), dt)[1]
        c = np.empty((length, n, hidden), dt)
        tanh_c = np.empty((length, n, hidden), dt)
        _C.lstm_sequence_forward(gates, bias, w_t, h0, c0, out, c_n, c, tanh_c, reverse, isa=isa)
        dz = np.empty_like(gates)
        dc0 = np.empty((n, hidden), dt)
        _C.lstm_sequence_backward(gates, c, tanh_c, c0, w_hh, dout, dcn, dz, dh0, dc0, reverse, isa=isa)
        return out.copy(), c_n.copy(), dz, dz, dh0, dc0
    bias = b_hn = None
    if b_ih is not None:
        bias = b_ih.copy()
        bias[:2 * hidden] += b_hh[:2 * hidden]
        b_hn = b_hh[2 * hidden:].copy()
    gh_n = np.empty((length, n, hidden), dt)
    _C.gru_sequence_forward(gates, bias, b_hn, w_t, h0, out, gh_n, reverse, isa=isa)
    dzx, dzh = np.empty_like(gates), np.empty_like(gates)
    _C.gru_sequence_backward(gates, gh_n, h0, out, w_hh, dout, dzx, dzh, dh0, reverse, isa=isa)
    return out.copy(), None, dzx, dzh, dh0, None


def _reference(mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, dout, dcn, reverse):
    n, hidden = h0.shape
    y = np.empty((length + 1, n, hidden), x2.dtype)
    saved = COMPOSITE.rnn_direction_forward(mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, y[:length],
                                            y[length] if mode == "LSTM" else None, reverse, True)
    dzx, dzh, dh0, dc0 = COMPOSITE.rnn_direction_backward(mode, saved, dout, dcn, w_hh, h0, c0, reverse, True)
    return y[:length], y[length] if mode == "LSTM" else None, dzx, dzh, dh0, dc0


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_kernels_match_reference(isa, mode, dtype):
    rng = np.random.default_rng(3 + len(mode))
    # (L, N, I, H): vector tails at every level (H = 1, 3, 17, 33), size-1 batch and sequence
    for length, n, in_size, hidden in [(5, 3, 4, 7), (1, 1, 1, 1), (3, 1, 5, 17), (2, 5, 3, 33), (1, 4, 2, 3)]:
        for reverse in (False, True):
            for bias in (True, False):
                def arr(*shape, scale=0.8):
                    return (scale * rng.standard_normal(shape)).astype(dtype)

                rows = GATES[mode] * hidden
                x2 = arr(length * n, in_size, scale=1.5)
                w_ih, w_hh = arr(rows, in_size), arr(rows, hidden)
                b_ih, b_hh = (arr(rows), arr(rows)) if bias else (None, None)
                h0 = arr(n, 2 * hidden)[:, :hidden]  # strided rows, as a column block of hx
                c0 = arr(n, hidden) if mode == "LSTM" else None
                g = arr(length + 1, n, 2 * hidden, scale=1.0)
                dout, dcn = g[:length, :, hidden:], g[length, :, hidden:] if mode == "LSTM" else None
                args = (mode, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, dout, dcn, reverse)
                want = _reference(*args)
                for contiguous in (True, False):
                    got = _native(mode, isa, *args[1:], contiguous)
                    where = f"{mode} {isa} L={length} N={n} H={hidden} rev={reverse} bias={bias}"
                    for name, a, b in zip(("out", "c_n", "dzx", "dzh", "dh0", "dc0"), got, want):
                        if b is None:
                            assert a is None, name
                            continue
                        np.testing.assert_allclose(a, b, err_msg=f"{name} {where}", **KTOL[dtype])


@pytest.mark.parametrize("isa", ISAS)
def test_activations_extremes(isa):
    """Saturated gates stay finite and exact at the limits (sigmoid -> 0/1, tanh -> -1/1); NaN propagates."""
    hidden, n = 5, 2
    for dtype in (np.float32, np.float64):
        pre = np.array([-1e4, -50.0, -1e-8, 0.0, 1e-8, 0.05, 60.0, 1e4, -0.069, 0.071], dtype)
        gates = np.tile(pre, 2 * 4 * hidden // pre.size)[:n * 4 * hidden].reshape(1, n, 4 * hidden).copy()
        ref = gates.astype(np.float64)
        zeros = np.zeros((n, hidden), dtype)
        out, c_n, c, tc = (np.empty((1, n, hidden), dtype), np.empty((n, hidden), dtype),
                           np.empty((1, n, hidden), dtype), np.empty((1, n, hidden), dtype))
        w_t = np.zeros((hidden, 4 * hidden), dtype)
        _C.lstm_sequence_forward(gates, None, w_t, zeros, zeros, out, c_n, c, tc, False, isa=isa)
        with np.errstate(over="ignore"):
            sig = 1 / (1 + np.exp(-ref))
        expect = np.concatenate([sig[..., :2 * hidden], np.tanh(ref[..., 2 * hidden:3 * hidden]),
                                 sig[..., 3 * hidden:]], axis=-1)
        tol = 1e-6 if dtype == np.float32 else 1e-15
        np.testing.assert_allclose(gates, expect, rtol=tol * 4, atol=tol)
        i, g, o = expect[..., :hidden], expect[..., 2 * hidden:3 * hidden], expect[..., 3 * hidden:]
        np.testing.assert_allclose(out, o * np.tanh(i * g), rtol=tol * 8, atol=tol)
        nan = np.full((1, 1, 4 * hidden), np.nan, dtype)
        z1 = np.zeros((1, hidden), dtype)
        o1, cn1 = np.empty((1, 1, hidden), dtype), np.empty((1, hidden), dtype)
        _C.lstm_sequence_forward(nan, None, w_t, z1, z1, o1, cn1, np.empty((1, 1, hidden), dtype), None, False,
                                 isa=isa)
        assert np.isnan(o1).all() and np.isnan(cn1).all()


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_bitwise_same_across_threads(threads, mode):
    rng = np.random.default_rng(9)
    length, n, in_size, hidden = 4, 96, 24, 160  # a cell step big enough for the threads to split it
    dt = np.float32
    rows = GATES[mode] * hidden
    x2 = rng.standard_normal((length * n, in_size)).astype(dt)
    w_ih = (0.2 * rng.standard_normal((rows, in_size))).astype(dt)
    w_hh = (0.2 * rng.standard_normal((rows, hidden))).astype(dt)
    b_ih, b_hh = rng.standard_normal(rows).astype(dt), rng.standard_normal(rows).astype(dt)
    h0 = rng.standard_normal((n, hidden)).astype(dt)
    c0 = rng.standard_normal((n, hidden)).astype(dt) if mode == "LSTM" else None
    g = rng.standard_normal((length + 1, n, 2 * hidden)).astype(dt)
    dout, dcn = g[:length, :, :hidden], g[length, :, :hidden] if mode == "LSTM" else None
    results = []
    for nt in (1, 2, 3):
        threads(nt)
        results.append(_native(mode, None, x2, length, w_ih, w_hh, b_ih, b_hh, h0, c0, dout, dcn, False, True))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            if a is not None:
                assert np.array_equal(a, b)


def test_bad_input_raises():
    h, n, length = 3, 2, 2
    f32 = np.float32

    def args(**over):
        a = dict(gates=np.zeros((length, n, 4 * h), f32), bias=None, w_hh_t=np.zeros((h, 4 * h), f32),
                 h0=np.zeros((n, h), f32), c0=np.zeros((n, h), f32), out=np.zeros((length, n, h), f32),
                 c_n=np.zeros((n, h), f32), c=np.zeros((length, n, h), f32), tanh_c=None, reverse=False)
        a.update(over)
        return a

    _C.lstm_sequence_forward(**args())  # the baseline is valid
    with pytest.raises(TypeError, match="lstm_sequence_forward: expected gates to be float32 or float64"):
        _C.lstm_sequence_forward(**args(gates=np.zeros((length, n, 4 * h), np.float16)))
    with pytest.raises(TypeError, match="expected h0 to have dtype float32, got float64"):
        _C.lstm_sequence_forward(**args(h0=np.zeros((n, h))))
    with pytest.raises(ValueError, match=r"expected gates of width 4 \* 3 = 12, got shape \(2, 2, 9\)"):
        _C.lstm_sequence_forward(**args(gates=np.zeros((length, n, 9), f32)))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 3\), got \(3, 3\)"):
        _C.lstm_sequence_forward(**args(c0=np.zeros((3, h), f32)))
    with pytest.raises(ValueError, match="h0 of shape .* must have contiguous rows"):
        _C.lstm_sequence_forward(**args(h0=np.zeros((h, n), f32).T))
    with pytest.raises(ValueError, match="expected gates .* to be C-contiguous"):
        _C.lstm_sequence_forward(**args(gates=np.zeros((n, length, 4 * h), f32).swapaxes(0, 1)))
    ro = np.zeros((length, n, h), f32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        _C.lstm_sequence_forward(**args(out=ro))
    with pytest.raises(ValueError, match="expected a non-empty sequence and batch"):
        _C.lstm_sequence_forward(**args(gates=np.zeros((0, n, 4 * h), f32), out=np.zeros((0, n, h), f32),
                                        c=np.zeros((0, n, h), f32)))
    with pytest.raises(ValueError, match="expected gates to be 3-D"):
        _C.gru_sequence_forward(np.zeros((n, 3 * h), f32), None, None, np.zeros((h, 3 * h), f32),
                                np.zeros((n, h), f32), np.zeros((length, n, h), f32), None, False)
    g = np.zeros((length, n, 3 * h), f32)
    dz = np.zeros_like(g)
    with pytest.raises(ValueError, match="dzx and dzh must be different arrays"):
        _C.gru_sequence_backward(g, np.zeros((length, n, h), f32), np.zeros((n, h), f32),
                                 np.zeros((length, n, h), f32), np.zeros((3 * h, h), f32),
                                 np.zeros((length, n, h), f32), dz, dz, None, False)
    with pytest.raises(ValueError, match="gru_sequence_forward: unknown ISA level"):
        _C.gru_sequence_forward(g, None, None, np.zeros((h, 3 * h), f32), np.zeros((n, h), f32),
                                np.zeros((length, n, h), f32), None, False, isa="no_such_level")


# ---- modules against torch -----------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
TOL = {np.float64: dict(atol=1e-10, rtol=1e-9), np.float32: dict(atol=2e-5, rtol=2e-5)}


def _pair(kind, *args, dtype, seed=0, **kw):
    torch.manual_seed(seed)
    tm = getattr(torch.nn, kind)(*args, **kw)
    fm = getattr(nn, kind)(*args, **kw)
    if dtype == np.float64:
        tm, fm = tm.double(), fm.double()
    fm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, fm


def _grads_match(tm, fm, t_outs, f_outs, leaves, rng, dtype):
    weights = [rng.standard_normal(tuple(o.shape)) for o in t_outs]
    sum((o * torch.tensor(w, dtype=o.dtype)).sum() for o, w in zip(t_outs, weights)).backward()
    sum((o * fastnn.tensor(w.astype(dtype))).sum() for o, w in zip(f_outs, weights)).backward()
    for k, (f, t) in enumerate(zip(f_outs, t_outs)):
        assert_close(f, t.detach().numpy(), msg=f"output {k}", **TOL[dtype])
    for k, (f, t) in enumerate(leaves):
        assert_close(f.grad, t.grad.numpy(), msg=f"leaf {k} grad", **TOL[dtype])
    for (name, fp), (_, tp) in zip(fm.named_parameters(), tm.named_parameters()):
        assert_close(fp.grad, tp.grad.numpy(), msg=f"{name} grad", **TOL[dtype])


def _leaf(arr):
    return fastnn.tensor(arr.copy(), requires_grad=True), torch.tensor(arr, requires_grad=True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", [(4, 3, 5, 17, 2, True, False), (1, 1, 3, 9, 1, False, True),
                                  (6, 2, 1, 33, 2, True, True), (3, 1, 7, 1, 3, False, False)],
                         ids=["L4N3H17bi2", "L1N1H9bf", "L6N2H33bi2bf", "L3N1H1x3"])
def test_modules_match_torch(kind, dtype, case):
    length, n, in_size, hidden, layers, bidir, batch_first = case
    rng = np.random.default_rng(hash(case) % 1000)
    tm, fm = _pair(kind, in_size, hidden, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
                   dtype=dtype)
    d = 2 if bidir else 1
    x = rng.standard_normal((n, length, in_size) if batch_first else (length, n, in_size)).astype(dtype)
    fx, tx = _leaf(x)
    states = [_leaf(rng.standard_normal((layers * d, n, hidden)).astype(dtype))
              for _ in range(2 if kind == "LSTM" else 1)]
    if kind == "LSTM":
        f_out, (fh, fc) = fm(fx, tuple(s[0] for s in states))
        t_out, (th, tc) = tm(tx, tuple(s[1] for s in states))
        f_outs, t_outs = [f_out, fh, fc], [t_out, th, tc]
    else:
        f_out, fh = fm(fx, states[0][0])
        t_out, th = tm(tx, states[0][1])
        f_outs, t_outs = [f_out, fh], [t_out, th]
    _grads_match(tm, fm, t_outs, f_outs, [(fx, tx)] + states, rng, dtype)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_cells_over_steps_match_torch(kind, dtype):
    """A cell looped over a sequence (the LSTMCell model of bench_overhead_steps): outputs and gradients."""
    rng = np.random.default_rng(2)
    tm, fm = _pair(kind, 5, 17, dtype=dtype)
    xs = [_leaf(rng.standard_normal((3, 5)).astype(dtype)) for _ in range(4)]
    lstm = kind == "LSTMCell"
    fh = th = None
    f_outs, t_outs = [], []
    for fx, tx in xs:
        fh, th = fm(fx, fh), tm(tx, th)
        f_outs += list(fh) if lstm else [fh]
        t_outs += list(th) if lstm else [th]
    _grads_match(tm, fm, t_outs, f_outs, xs, rng, dtype)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_module_gradcheck_float64(kind):
    """nn.LSTM / nn.GRU (2 layers, bidirectional, batch_first) in float64 against central differences."""
    rng = np.random.default_rng(4)
    m = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, batch_first=True).double()
    x = fastnn.tensor(rng.uniform(-1, 1, (2, 3, 2)), requires_grad=True)
    h0 = fastnn.tensor(rng.uniform(-1, 1, (4, 2, 3)), requires_grad=True)
    if kind == "LSTM":
        c0 = fastnn.tensor(rng.uniform(-1, 1, (4, 2, 3)), requires_grad=True)
        assert gradcheck(lambda x, h0, c0: m(x, (h0, c0))[0], (x, h0, c0))
    else:
        assert gradcheck(lambda x, h0: m(x, h0)[0], (x, h0))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_zero_sizes_like_torch(kind):
    """torch refuses input_size 0 and an empty sequence; an empty batch runs (empty outputs, zero gradients)."""
    for lib in (torch.nn, nn):
        with pytest.raises(ValueError, match="input_size must be greater than zero"):
            getattr(lib, kind)(0, 4)
    tm, fm = _pair(kind, 3, 4, dtype=np.float32)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        fm(fastnn.zeros(0, 2, 3))
    fx, tx = _leaf(np.zeros((5, 0, 3), np.float32))
    f_out, t_out = fm(fx)[0], tm(tx)[0]
    assert tuple(f_out.shape) == tuple(t_out.shape) == (5, 0, 4)
    f_out.sum().backward()
    t_out.sum().backward()
    assert_close(fx.grad, tx.grad.numpy())
