"""nn.RNN / LSTM / GRU and the cells against torch 2.13 with the same weights: outputs, final states,
input / initial-state / weight gradients; the layer ops' float64 gradcheck; errors; state_dict; dropout."""
import math
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.autograd import gradcheck
from fastnn.ops.rnn import rnn_layer
from op_helpers import assert_close

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

MODES = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
MODE_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
TOL = {np.float64: dict(atol=1e-10, rtol=1e-9), np.float32: dict(atol=1e-5, rtol=1e-5)}


def _pair(kind, kwargs, *args, dtype=np.float64, seed=0, **more):
    """(torch module, fastnn module) of the same class and arguments, fastnn loaded with torch's weights."""
    torch.manual_seed(seed)
    tm = getattr(torch.nn, kind)(*args, **kwargs, **more)
    fm = getattr(nn, kind)(*args, **kwargs, **more)
    if dtype == np.float64:
        tm, fm = tm.double(), fm.double()
    fm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, fm


def _leaf(arr):
    return torch.tensor(arr, requires_grad=True), fastnn.tensor(arr.copy(), requires_grad=True)


def _as_list(out, lstm):
    if lstm:
        o, (h, c) = out
        return [o, h, c]
    o, h = out
    return [o, h]


def _run_both(tm, fm, x, states, lstm, rng):
    """Runs both modules, backpropagates a random weighting of every output, returns the pairs to compare."""
    tx, fx = _leaf(x)
    t_states, f_states = zip(*[_leaf(s) for s in states]) if states else ((), ())
    if lstm:
        t_hx = tuple(t_states) if states else None
        f_hx = tuple(f_states) if states else None
    else:
        t_hx = t_states[0] if states else None
        f_hx = f_states[0] if states else None
    t_out = _as_list(tm(tx, t_hx), lstm)
    f_out = _as_list(fm(fx, f_hx), lstm)
    weights = [rng.standard_normal(tuple(o.shape)) for o in t_out]
    sum(((o * torch.tensor(w, dtype=o.dtype)).sum() for o, w in zip(t_out, weights))).backward()
    sum(((o * fastnn.tensor(w.astype(x.dtype))).sum() for o, w in zip(f_out, weights))).backward()
    pairs = [(f, t, name) for f, t, name in zip(f_out, t_out, ["output", "h_n", "c_n"])]
    pairs.append((fx.grad, tx.grad, "input grad"))
    for k, (f, t) in enumerate(zip(f_states, t_states)):
        pairs.append((f.grad, t.grad, f"hx[{k}] grad"))
    for (name, fp), (_, tp) in zip(fm.named_parameters(), tm.named_parameters()):
        pairs.append((fp.grad, tp.grad, f"{name} grad"))
    return pairs


def _check(pairs, dtype):
    for f, t, name in pairs:
        assert f is not None, f"{name} missing"
        assert_close(f, t.detach().numpy(), msg=name, **TOL[dtype])


@pytest.mark.parametrize("kind,kwargs", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_torch(kind, kwargs, num_layers, bidirectional, batch_first):
    rng = np.random.default_rng(num_layers + 2 * bidirectional + 4 * batch_first)
    tm, fm = _pair(kind, kwargs, 5, 4, num_layers, batch_first=batch_first, bidirectional=bidirectional)
    seq, batch = 6, 3
    x = rng.standard_normal((batch, seq, 5) if batch_first else (seq, batch, 5))
    d = 2 if bidirectional else 1
    states = [rng.standard_normal((num_layers * d, batch, 4)) for _ in range(2 if kind == "LSTM" else 1)]
    _check(_run_both(tm, fm, x, states, kind == "LSTM", rng), np.float64)


@pytest.mark.parametrize("kind,kwargs", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("case", ["no_hx", "unbatched", "unbatched_hx", "no_bias", "float32", "seq1"])
def test_matches_torch_variants(kind, kwargs, case):
    rng = np.random.default_rng(7)
    lstm = kind == "LSTM"
    dtype = np.float32 if case == "float32" else np.float64
    more = {"bias": False} if case == "no_bias" else {}
    tm, fm = _pair(kind, kwargs, 3, 5, 2, dtype=dtype, bidirectional=True, **more)
    seq = 1 if case == "seq1" else 7
    shape = (seq, 3) if case.startswith("unbatched") else (seq, 2, 3)
    x = rng.standard_normal(shape).astype(dtype)
    states = []
    if case in ("unbatched_hx", "float32", "no_bias", "seq1"):
        sshape = (4, 5) if case == "unbatched_hx" else (4, 2, 5)
        states = [rng.standard_normal(sshape).astype(dtype) for _ in range(2 if lstm else 1)]
    _check(_run_both(tm, fm, x, states, lstm, rng), dtype)


@pytest.mark.parametrize("kind,kwargs", MODES, ids=MODE_IDS)
def test_zero_batch(kind, kwargs):
    tm, fm = _pair(kind, kwargs, 3, 4, 2)
    x = np.zeros((5, 0, 3))
    t_out = _as_list(tm(torch.tensor(x)), kind == "LSTM")
    fx = fastnn.tensor(x, requires_grad=True)
    f_out = _as_list(fm(fx), kind == "LSTM")
    for f, t in zip(f_out, t_out):
        assert tuple(f.shape) == tuple(t.shape)
    f_out[0].sum().backward()
    assert fx.grad.shape == (5, 0, 3)
    assert all(np.all(p.grad.numpy() == 0) for p in fm.parameters())


@pytest.mark.parametrize("kind,kwargs", MODES, ids=MODE_IDS)
def test_two_graphs_alive(kind, kwargs):
    """Two forwards before either backward (the recycled workspace must not hand out saved arrays)."""
    rng = np.random.default_rng(3)
    tm, fm = _pair(kind, kwargs, 4, 6, 2)
    xs = [rng.standard_normal((9, 3, 4)) for _ in range(2)]
    t_losses, f_losses = [], []
    for x in xs:
        t_losses.append((tm(torch.tensor(x))[0] ** 2).sum())
        f_losses.append((fm(fastnn.tensor(x))[0] ** 2).sum())
    for tl, fl in zip(reversed(t_losses), reversed(f_losses)):
        tl.backward()
        fl.backward()
    for (name, fp), (_, tp) in zip(fm.named_parameters(), tm.named_parameters()):
        assert_close(fp.grad, tp.grad.numpy(), msg=name, **TOL[np.float64])


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("ndir", [1, 2])
def test_layer_op_gradcheck(mode, ndir):
    """The layer op alone, in float64, against central differences: input, h0, c0 and every weight."""
    rng = np.random.default_rng(11)
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    hidden, n, in_size, length = 3, 2, 2, 4

    def leaf(*shape):
        return fastnn.tensor(rng.uniform(-0.8, 0.8, shape), requires_grad=True)

    x = leaf(length, n, in_size)
    h0 = leaf(ndir, n, hidden)
    c0 = leaf(ndir, n, hidden) if mode == "LSTM" else None
    weights = [(leaf(gates * hidden, in_size), leaf(gates * hidden, hidden), leaf(gates * hidden),
                leaf(gates * hidden)) for _ in range(ndir)]
    flat = [w for ws in weights for w in ws]

    def fn(x, h0, *rest):
        c = rest[0] if mode == "LSTM" else None
        ws = rest[1:] if mode == "LSTM" else rest
        packed = [tuple(ws[4 * d:4 * d + 4]) for d in range(ndir)]
        return rnn_layer(mode, x, length, packed, h0, c, 0)

    inputs = (x, h0) + ((c0,) if c0 is not None else ()) + tuple(flat)
    if mode == "RNN_RELU":  # keep pre-activations away from relu's kink
        with fastnn.no_grad():
            for w in flat:
                w._data[...] = np.abs(w._data)
            x._data[...] = np.abs(x._data)
    assert gradcheck(fn, inputs)


# ---- cells ----------------------------------------------------------------------------------------------------

CELLS = [("RNNCell", {"nonlinearity": "tanh"}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("GRUCell", {})]
CELL_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


@pytest.mark.parametrize("kind,kwargs", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("case", ["batched", "no_hx", "unbatched", "no_bias", "float32"])
def test_cell_matches_torch(kind, kwargs, case):
    rng = np.random.default_rng(5)
    dtype = np.float32 if case == "float32" else np.float64
    more = {"bias": False} if case == "no_bias" else {}
    tm, fm = _pair(kind, kwargs, 4, 3, dtype=dtype, **more)
    lstm = kind == "LSTMCell"
    shape, sshape = ((4,), (3,)) if case == "unbatched" else ((5, 4), (5, 3))
    tx, fx = _leaf(rng.standard_normal(shape).astype(dtype))
    states = [] if case == "no_hx" else [_leaf(rng.standard_normal(sshape).astype(dtype))
                                         for _ in range(2 if lstm else 1)]
    t_hx = (tuple(s[0] for s in states) if lstm else states[0][0]) if states else None
    f_hx = (tuple(s[1] for s in states) if lstm else states[0][1]) if states else None
    t_out, f_out = tm(tx, t_hx), fm(fx, f_hx)
    t_out, f_out = (list(t_out), list(f_out)) if lstm else ([t_out], [f_out])
    weights = [rng.standard_normal(tuple(o.shape)) for o in t_out]
    sum(((o * torch.tensor(w, dtype=o.dtype)).sum() for o, w in zip(t_out, weights))).backward()
    sum(((o * fastnn.tensor(w.astype(dtype))).sum() for o, w in zip(f_out, weights))).backward()
    pairs = [(f, t, f"out{k}") for k, (f, t) in enumerate(zip(f_out, t_out))] + [(fx.grad, tx.grad, "input grad")]
    pairs += [(s[1].grad, s[0].grad, f"hx[{k}] grad") for k, s in enumerate(states)]
    for (name, fp), (_, tp) in zip(fm.named_parameters(), tm.named_parameters()):
        pairs.append((fp.grad, tp.grad, name))
    _check(pairs, dtype)


@pytest.mark.parametrize("kind,kwargs", CELLS, ids=CELL_IDS)
def test_cell_state_dict_and_repr(kind, kwargs):
    tm, fm = _pair(kind, kwargs, 4, 3, dtype=np.float32, bias=False)
    assert list(fm.state_dict()) == list(tm.state_dict())
    assert repr(fm) == repr(tm)


def test_cell_errors():
    cell = nn.LSTMCell(4, 3)
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        cell(fastnn.randn(2, 5, 4))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 4"):
        cell(fastnn.randn(2, 5))
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 4, expected 3"):
        cell(fastnn.randn(2, 4), (fastnn.randn(2, 4), fastnn.randn(2, 3)))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden1 batch size 3"):
        cell(fastnn.randn(2, 4), (fastnn.randn(2, 3), fastnn.randn(3, 3)))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNNCell(2, 3, nonlinearity="gelu")


# ---- module surface ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,kwargs", MODES, ids=MODE_IDS)
def test_state_dict_keys_shapes_and_repr(kind, kwargs):
    tm, fm = _pair(kind, kwargs, 5, 4, 2, dtype=np.float32, bidirectional=True, batch_first=True, bias=False)
    t_sd, f_sd = tm.state_dict(), fm.state_dict()
    assert list(f_sd) == list(t_sd)
    assert all(tuple(f_sd[k].shape) == tuple(t_sd[k].shape) for k in t_sd)
    assert repr(fm) == repr(tm)
    tm2, fm2 = _pair(kind, kwargs, 5, 4, dtype=np.float32, dropout=0.0)
    assert repr(fm2) == repr(tm2)
    # round trip fastnn -> torch
    tm2.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in fm2.state_dict().items()})


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_default_init_range(kind):
    fastnn.manual_seed(0)
    m = getattr(nn, kind)(6, 16)
    bound = 1 / math.sqrt(16)
    for name, p in m.named_parameters():
        v = p.detach().numpy()
        assert v.dtype == np.float32
        assert np.all(np.abs(v) <= bound) and np.abs(v).max() > 0.8 * bound, name


def test_attributes_like_torch():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert (m.mode, m.input_size, m.hidden_size, m.num_layers, m.bias, m.batch_first, m.dropout,
            m.bidirectional, m.proj_size) == ("LSTM", 3, 4, 2, True, False, 0.0, True, 0)
    assert len(m.all_weights) == 4 and [tuple(w.shape) for w in m.all_weights[2]] == [(16, 8), (16, 4), (16,), (16,)]
    assert nn.RNN(2, 3, nonlinearity="relu").mode == "RNN_RELU"
    assert nn.GRU(2, 3).weight_hh_l0.shape == (9, 3)


def test_dropout_between_layers():
    rng = np.random.default_rng(2)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)
    tm, fm = _pair("LSTM", {}, 3, 4, 3, dropout=0.5)
    x = rng.standard_normal((6, 2, 3))
    tm.eval()
    fm.eval()
    with torch.no_grad():
        t_out = tm(torch.tensor(x))
    f_out = fm(fastnn.tensor(x))
    assert_close(f_out[0], t_out[0].numpy(), **TOL[np.float64])
    assert_close(f_out[1][0], t_out[1][0].numpy(), **TOL[np.float64])
    fm.train()
    runs = []
    for _ in range(2):
        fastnn.manual_seed(123)
        runs.append(fm(fastnn.tensor(x))[0].detach().numpy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], f_out[0].detach().numpy())
    fx = fastnn.tensor(x, requires_grad=True)
    fm(fx)[0].sum().backward()
    assert np.all(np.isfinite(fx.grad.numpy()))


def test_errors_like_torch():
    m = nn.LSTM(10, 20, 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 10, got 7"):
        m(fastnn.randn(5, 3, 7))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 20\), got \[1, 3, 20\]"):
        m(fastnn.randn(5, 3, 10), (fastnn.randn(1, 3, 20), fastnn.randn(2, 3, 20)))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 3, 20\), got \[2, 4, 20\]"):
        m(fastnn.randn(5, 3, 10), (fastnn.randn(2, 3, 20), fastnn.randn(2, 4, 20)))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx and cx should also be 3-D"):
        m(fastnn.randn(5, 3, 10), (fastnn.randn(2, 20), fastnn.randn(2, 20)))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D instead"):
        m(fastnn.randn(5, 3, 10, 1))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        m(fastnn.randn(5, 3, 10).double())
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        m(fastnn.randn(0, 3, 10))
    g = nn.GRU(10, 20)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3, 20\), got \[1, 3, 21\]"):
        g(fastnn.randn(5, 3, 10), fastnn.randn(1, 3, 21))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"):
        g(fastnn.randn(5, 10), fastnn.randn(1, 1, 20))
    with pytest.raises(ValueError, match="Unknown nonlinearity 'foo'"):
        nn.RNN(10, 20, nonlinearity="foo")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(10, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.RNN(10, 20, 0)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(10, 20, dropout=1.5)
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(10, 20, proj_size=5)


def test_no_grad_forward_builds_no_graph():
    m = nn.GRU(3, 4, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fastnn.no_grad():
            out, h = m(fastnn.randn(5, 2, 3))
    assert out.grad_fn is None and h.grad_fn is None and not out.requires_grad

