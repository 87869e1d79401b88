"""fastnn.keras SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells and the generic RNN layer against Keras 3
(torch backend) with identical weights: outputs, final states, and the gradients w.r.t. the input and every
weight (torch autograd on the Keras side); masks, go_backwards, return_state, initial states, a user-defined
cell as in Keras' "Working with RNNs" guide, stateful, dropout, get_config / from_config, errors."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402
from fastnn.keras import ops as fops  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers


def _randomise_keras(layer, seed=3):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in layer.get_weights()])


def _flat(x):
    return [t for v in x for t in _flat(v)] if isinstance(x, (list, tuple)) else [x]


def run_pair(ours, theirs, x, mask=None, rtol=2e-4, atol=2e-5, **kw):
    """Builds both, copies Keras' (randomised) weights into ours, compares every output and the gradients of
    a random projection of all outputs w.r.t. the input and every weight."""
    theirs(x, **kw)
    ours(x, **kw)
    _randomise_keras(theirs)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    xf, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mf = None if mask is None else fastnn.tensor(mask)
    mt = None if mask is None else torch.tensor(mask)
    yf = ours(xf, mask=mf, **kw) if mask is not None else ours(xf, **kw)
    yt = theirs(xt, mask=mt, **kw) if mask is not None else theirs(xt, **kw)
    yf, yt = _flat(yf), _flat(yt)
    assert len(yf) == len(yt)
    rng = np.random.default_rng(11)
    lf, lt = 0, 0
    for i, (a, b) in enumerate(zip(yf, yt)):
        assert tuple(a.shape) == tuple(b.shape), f"output {i}"
        assert_close(to_np(a), b.detach().numpy(), rtol=rtol, atol=atol, msg=f"output {i}")
        g = rng.standard_normal(tuple(b.shape)).astype(np.float32)
        lf = lf + (a * fastnn.tensor(g)).sum()
        lt = lt + (b * torch.tensor(g)).sum()
    lf.backward()
    lt.backward()
    assert_close(np.asarray(xf.grad), xt.grad.numpy(), rtol=rtol, atol=atol, msg="input gradient")
    for w_ours, w_theirs in zip(ours.weights, theirs.weights):
        assert_close(np.asarray(w_ours.grad), w_theirs.value.grad.numpy(), rtol=rtol, atol=atol,
                     msg=f"gradient of {w_theirs.path}")
    return yf, yt


CELLS = [
    ("SimpleRNNCell", dict(units=4)),
    ("SimpleRNNCell", dict(units=3, activation="relu", use_bias=False)),
    ("LSTMCell", dict(units=4)),
    ("LSTMCell", dict(units=3, activation="relu", recurrent_activation="tanh", use_bias=False)),
    ("GRUCell", dict(units=4)),
    ("GRUCell", dict(units=3, reset_after=False)),
    ("GRUCell", dict(units=3, use_bias=False, activation="sigmoid")),
]


@pytest.mark.parametrize("name,kw", CELLS)
@pytest.mark.parametrize("rnn_kw", [dict(), dict(return_sequences=True, return_state=True),
                                    dict(go_backwards=True, return_sequences=True)])
def test_rnn_of_cell(name, kw, rnn_kw):
    x = rand(3, 5, 2)
    ours, theirs = L.RNN(getattr(L, name)(**kw), **rnn_kw), KL.RNN(getattr(KL, name)(**kw), **rnn_kw)
    run_pair(ours, theirs, x)


@pytest.mark.parametrize("name,kw", CELLS[::2])
@pytest.mark.parametrize("rnn_kw", [dict(return_sequences=True, return_state=True),
                                    dict(go_backwards=True, return_state=True),
                                    dict(return_sequences=True, zero_output_for_mask=True)])
def test_rnn_mask_carries_states(name, kw, rnn_kw):
    x = rand(3, 6, 2)
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 1]], bool)
    run_pair(L.RNN(getattr(L, name)(**kw), **rnn_kw), KL.RNN(getattr(KL, name)(**kw), **rnn_kw), x, mask=mask)


def test_stacked_cells_list_and_explicit():
    x = rand(2, 4, 3)
    kw = dict(return_sequences=True, return_state=True)
    run_pair(L.RNN([L.LSTMCell(4), L.GRUCell(3), L.SimpleRNNCell(2)], **kw),
             KL.RNN([KL.LSTMCell(4), KL.GRUCell(3), KL.SimpleRNNCell(2)], **kw), x)
    run_pair(L.RNN(L.StackedRNNCells([L.SimpleRNNCell(3), L.LSTMCell(2)])),
             KL.RNN(KL.StackedRNNCells([KL.SimpleRNNCell(3), KL.LSTMCell(2)])), x)
    stacked = L.StackedRNNCells([L.LSTMCell(4), L.GRUCell(3)])
    assert stacked.state_size == [[4, 4], 3] and stacked.output_size == 3


def test_cells_called_directly_on_one_step():
    x = rand(3, 2)
    for name, kw in CELLS:
        ours, theirs = getattr(L, name)(**kw), getattr(KL, name)(**kw)
        h = rand(3, kw["units"], seed=4)
        states = [h, rand(3, kw["units"], seed=5)] if name == "LSTMCell" else [h]
        theirs(x, [torch.tensor(s) for s in states])
        ours(fastnn.tensor(x), [fastnn.tensor(s) for s in states])
        _randomise_keras(theirs)
        ours.set_weights(theirs.get_weights())
        out_t, st_t = theirs(x, [torch.tensor(s) for s in states])
        out_f, st_f = ours(fastnn.tensor(x), [fastnn.tensor(s) for s in states])
        assert_close(to_np(out_f), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
        assert len(st_f) == len(st_t)
        for a, b in zip(st_f, st_t):
            assert_close(to_np(a), b.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_initial_state_and_functional_model():
    x = rand(2, 4, 3)
    h0, c0 = rand(2, 5, seed=1), rand(2, 5, seed=2)
    ours, theirs = L.RNN(L.LSTMCell(5), return_state=True), KL.RNN(KL.LSTMCell(5), return_state=True)
    theirs(x)
    ours(x)
    _randomise_keras(theirs)
    ours.set_weights(theirs.get_weights())
    a = ours(fastnn.tensor(x), initial_state=[fastnn.tensor(h0), fastnn.tensor(c0)])
    b = theirs(x, initial_state=[torch.tensor(h0), torch.tensor(c0)])
    for u, v in zip(a, b):
        assert_close(to_np(u), v.detach().numpy(), rtol=1e-4, atol=1e-5)
    from fastnn import keras as fk
    inp = fk.Input((4, 3))
    out = L.RNN(L.GRUCell(6), return_sequences=True)(inp)
    out = L.RNN(L.SimpleRNNCell(2))(out)
    model = fk.Model(inp, out)
    assert tuple(model(x).shape) == (2, 2)


class MinimalRNNCell(L.Layer):
    """The custom cell of Keras' RNN documentation / "Working with RNNs" guide, in fastnn.keras."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        h = fops.matmul(inputs, self.kernel)
        output = h + fops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]


class KerasMinimalRNNCell(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        output = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(prev_output, self.recurrent_kernel)
        return output, [output]


def test_user_defined_cell():
    x = rand(2, 5, 3)
    run_pair(L.RNN(MinimalRNNCell(4), return_sequences=True), KL.RNN(KerasMinimalRNNCell(4), return_sequences=True),
             x)
    run_pair(L.RNN([MinimalRNNCell(4), MinimalRNNCell(2)], return_state=True),
             KL.RNN([KerasMinimalRNNCell(4), KerasMinimalRNNCell(2)], return_state=True), x)
    mask = np.array([[1, 1, 0, 1, 1], [1, 0, 0, 0, 0]], bool)
    run_pair(L.RNN(MinimalRNNCell(3)), KL.RNN(KerasMinimalRNNCell(3)), x, mask=mask)


def test_stateful_carries_states_across_calls():
    x1, x2 = rand(2, 3, 2, seed=1), rand(2, 4, 2, seed=2)
    ours = L.RNN(L.GRUCell(3), stateful=True)
    ref = L.RNN(L.GRUCell(3))
    ours(x1)
    ref(x1)
    ref.set_weights(ours.get_weights())
    ours.reset_state()
    ours(x1)
    y = ours(x2)
    want = ref(np.concatenate([x1, x2], axis=1))
    assert_close(to_np(y), to_np(want), rtol=1e-5, atol=1e-6)
    ours.reset_state()
    assert_close(to_np(ours(x2)), to_np(ref(x2)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="batch size"):
        ours(rand(3, 2, 2))


def test_dropout_masks_are_per_sequence():
    cell = L.SimpleRNNCell(4, dropout=0.5, recurrent_dropout=0.5, kernel_initializer="ones",
                           recurrent_initializer="zeros")
    layer = L.RNN(cell, return_sequences=True)
    x = np.ones((2, 6, 3), np.float32)
    y_inf = to_np(layer(x))
    assert_close(y_inf, np.full((2, 6, 4), np.tanh(3.0), np.float32), rtol=1e-6, atol=1e-6)
    y = to_np(layer(x, training=True))
    # recurrent kernel 0: each step sees the same masked inputs, so every step of a sequence is equal
    assert_close(y, np.repeat(y[:, :1], 6, axis=1), rtol=1e-6, atol=1e-6)
    assert not np.allclose(y, y_inf)
    assert cell._dropout_mask is None  # reset after the sequence


def test_configs_round_trip_and_errors():
    for name, kw in CELLS:
        a, b = getattr(L, name)(**kw).get_config(), getattr(KL, name)(**kw).get_config()
        assert set(a) == set(b), set(a) ^ set(b)
        for key, value in b.items():
            if key not in ("dtype", "name") and not isinstance(value, dict):
                assert a[key] == value, (name, key)
    layer = L.RNN([L.LSTMCell(3), L.GRUCell(2, reset_after=False)], return_sequences=True, go_backwards=True)
    cfg = layer.get_config()
    theirs = KL.RNN([KL.LSTMCell(3), KL.GRUCell(2, reset_after=False)]).get_config()
    assert set(cfg) == set(theirs), set(cfg) ^ set(theirs)
    clone = L.RNN.from_config(cfg)
    assert clone.return_sequences and clone.go_backwards
    assert [type(c).__name__ for c in clone.cell.cells] == ["LSTMCell", "GRUCell"]
    assert clone.cell.cells[1].reset_after is False
    x = rand(2, 3, 4)
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    assert_close(to_np(clone(x)), to_np(layer(x)))
    for mod in (L, KL):
        with pytest.raises(ValueError, match="units"):
            mod.LSTMCell(0)
        with pytest.raises(ValueError, match="state_size"):
            mod.RNN(object.__new__(type("NoState", (), {"call": lambda self, x, s: (x, s)})))
        with pytest.raises(ValueError, match="call"):
            mod.StackedRNNCells([object()])


@pytest.mark.parametrize("rank,shape,kw", [
    (1, (2, 3, 6, 2), dict(filters=2, kernel_size=3, strides=2, go_backwards=True, return_state=True)),
    (2, (2, 2, 2, 5, 4), dict(filters=2, kernel_size=2, padding="same", data_format="channels_first",
                              return_sequences=True, return_state=True)),
    (3, (2, 2, 4, 3, 4, 2), dict(filters=2, kernel_size=2, dilation_rate=(1, 2, 1))),
])
def test_conv_lstm(rank, shape, kw):
    name = f"ConvLSTM{rank}D"
    run_pair(getattr(L, name)(**kw), getattr(KL, name)(**kw), rand(*shape))


def test_conv_lstm_mask_config_dropout_errors():
    x = rand(2, 3, 4, 4, 2)
    mask = np.array([[1, 0, 1], [1, 0, 0]], bool)
    kw = dict(filters=2, kernel_size=3, padding="same", return_sequences=True)
    run_pair(L.ConvLSTM2D(**kw), KL.ConvLSTM2D(**kw), x, mask=mask)
    ours, theirs = L.ConvLSTM2D(3, 2, strides=2), KL.ConvLSTM2D(3, 2, strides=2)
    a, b = ours.get_config(), theirs.get_config()
    assert set(a) == set(b), set(a) ^ set(b)
    for key, value in b.items():
        if key not in ("dtype", "name") and not isinstance(value, dict):
            assert a[key] == value, key
    assert ours.filters == 3 and ours.strides == (2, 2)
    clone = L.ConvLSTM2D.from_config(a)
    assert clone.get_config() == {**a, "name": clone.name}
    drop = L.ConvLSTM1D(2, 2, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)
    x1 = rand(2, 3, 5, 2)
    y_inf, y_train = to_np(drop(x1)), drop(fastnn.tensor(x1), training=True)
    assert y_train.shape == y_inf.shape and not np.allclose(to_np(y_train), y_inf)
    y_train.sum().backward()
    assert all(w.grad is not None for w in drop.weights)
    for mod in (L, KL):
        with pytest.raises(ValueError, match="dilation_rate"):
            mod.ConvLSTM2D(2, 3, strides=2, dilation_rate=2)
        with pytest.raises(ValueError, match="ndim=5"):
            mod.ConvLSTM2D(2, 3)(rand(2, 3, 5, 2))


def test_cell_regularizers_reach_the_loss():
    x = rand(2, 4, 3)
    make = lambda m: m.RNN(m.LSTMCell(3, kernel_regularizer="l2", recurrent_regularizer="l1",  # noqa: E731
                                      bias_constraint="non_neg"))
    ours, theirs = make(L), make(KL)
    run_pair(ours, theirs, x)
    want = sum(float(to_np(v)) for v in theirs.losses)
    got = sum(float(to_np(v)) for v in ours.losses)
    assert len(ours.losses) == len(theirs.losses) == 2 and abs(got - want) <= 1e-4 * max(1.0, abs(want))
    cfg = ours.cell.get_config()
    assert cfg["kernel_regularizer"]["class_name"] == "L2" and cfg["bias_constraint"]["class_name"] == "NonNeg"


def test_model_save_and_load_with_cells(tmp_path):
    from fastnn import keras as fk
    inp = fk.Input((5, 3))
    h = L.RNN([L.LSTMCell(4), L.GRUCell(3, reset_after=False)], return_sequences=True)(inp)
    h = L.RNN(L.StackedRNNCells([L.SimpleRNNCell(2)]), go_backwards=True)(h)
    model = fk.Model(inp, L.Dense(1)(h))
    seq = fk.Sequential([fk.Input((2, 4, 4, 1)), L.ConvLSTM2D(2, 3, padding="same"), L.GlobalMaxPooling2D()])
    for m, x in ((model, rand(2, 5, 3)), (seq, rand(2, 2, 4, 4, 1))):
        path = str(tmp_path / "m.keras")
        m.save(path)
        loaded = fk.models.load_model(path)
        assert_close(to_np(loaded(x)), to_np(m(x)), rtol=1e-6, atol=1e-6)


def test_bidirectional_rnn_of_cell():
    run_pair(L.Bidirectional(L.RNN(L.LSTMCell(3), return_sequences=True)),
             KL.Bidirectional(KL.RNN(KL.LSTMCell(3), return_sequences=True)), rand(2, 4, 3))


def test_user_cell_config_round_trip():
    layer = L.RNN(MinimalRNNCell(3), return_sequences=True)
    cfg = layer.get_config()
    assert cfg["cell"]["class_name"] == "MinimalRNNCell" and cfg["cell"]["config"]["units"] == 3
    clone = L.RNN.from_config(cfg, custom_objects={"MinimalRNNCell": MinimalRNNCell})
    assert isinstance(clone.cell, MinimalRNNCell) and clone.cell is not layer.cell and clone.return_sequences


def test_embedding_mask_flows_into_rnn():
    tokens = np.array([[3, 1, 4, 0, 0], [2, 7, 1, 8, 2], [5, 0, 0, 0, 0]])
    from fastnn import keras as fk

    def build(mod, km):
        inp = km.Input((5,), dtype="int64")
        h = mod.Embedding(10, 4, mask_zero=True)(inp)
        h = mod.RNN(mod.GRUCell(3), return_sequences=True)(h)
        return km.Model(inp, mod.RNN(mod.SimpleRNNCell(2))(h))

    ours, theirs = build(L, fk), build(KL, keras)
    ours.set_weights(theirs.get_weights())
    assert_close(to_np(ours(tokens)), to_np(theirs(tokens)), rtol=1e-4, atol=1e-5)
    eager = L.RNN(L.LSTMCell(3), return_sequences=True)
    emb = L.Embedding(10, 4, mask_zero=True)
    y = eager(emb(tokens))
    from fastnn.keras import masking
    assert np.array_equal(np.asarray(masking.get_mask(y)), tokens != 0)  # compute_mask passes it on


@pytest.mark.parametrize("name,kw", [("LSTM", dict(units=3, return_sequences=True, return_state=True)),
                                     ("GRU", dict(units=3, go_backwards=True)),
                                     ("SimpleRNN", dict(units=2, activation="relu", return_state=True))])
def test_fused_rnn_layers_take_masks(name, kw):
    """The fused SimpleRNN / LSTM / GRU run their cell step by step when given a mask (Keras' results)."""
    x = rand(3, 5, 2)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], bool)
    ours, theirs = getattr(L, name)(**kw), getattr(KL, name)(**kw)
    run_pair(ours, theirs, x, mask=mask)
    assert len(ours.weights) == 3  # the masked loop adds no weights of its own
    from fastnn import keras as fk
    tokens = np.array([[3, 1, 4, 0, 0], [5, 0, 0, 0, 0]])

    def build(mod, km):
        inp = km.Input((5,), dtype="int64")
        h = mod.Embedding(10, 4, mask_zero=True)(inp)
        return km.Model(inp, getattr(mod, name)(**{**kw, "return_state": False, "return_sequences": False})(h))

    m_ours, m_theirs = build(L, fk), build(KL, keras)
    m_ours.set_weights(m_theirs.get_weights())
    assert_close(to_np(m_ours(tokens)), to_np(m_theirs(tokens)), rtol=1e-4, atol=1e-5)


def test_fused_lstm_stateful_as_keras():
    """Keras' "cross-batch statefulness" recipe: a stateful LSTM fed a long sequence in pieces."""
    x = rand(2, 6, 3)
    ours, theirs = L.LSTM(4, stateful=True), KL.LSTM(4, stateful=True)
    theirs(x[:, :3])
    ours(x[:, :3])
    _randomise_keras(theirs)
    ours.set_weights(theirs.get_weights())
    theirs.reset_states()
    ours.reset_states()
    for part in (x[:, :2], x[:, 2:5], x[:, 5:]):
        assert_close(to_np(ours(part)), to_np(theirs(part)), rtol=1e-4, atol=1e-5)
    assert [tuple(s.shape) for s in ours.states] == [(2, 4), (2, 4)]
    ours.reset_states()
    theirs.reset_states()
    assert_close(to_np(ours(x)), to_np(theirs(x)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,kw", [("GRU", dict(units=3, reset_after=False, return_sequences=True)),
                                     ("LSTM", dict(units=3, activation="relu", recurrent_activation="tanh")),
                                     ("SimpleRNN", dict(units=3, activation="sigmoid", go_backwards=True))])
def test_fused_rnn_layers_fall_back_to_the_cell_loop(name, kw):
    """What the fused op cannot run (Keras 1's GRU, other activations) runs the layer's cell, as Keras."""
    run_pair(getattr(L, name)(**kw), getattr(KL, name)(**kw), rand(2, 4, 3))


def test_fused_lstm_recurrent_dropout():
    layer = L.LSTM(4, recurrent_dropout=0.5, return_sequences=True)
    theirs = KL.LSTM(4, recurrent_dropout=0.5, return_sequences=True)
    x = rand(2, 5, 3)
    run_pair(layer, theirs, x)  # inference: no dropout, the fused op
    y = layer(fastnn.tensor(x), training=True)
    assert not np.allclose(to_np(y), to_np(layer(x)))
    y.sum().backward()
    assert all(w.grad is not None for w in layer.weights)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        L.GRU(2, recurrent_dropout=1.5)
