"""fastnn.keras SimpleRNN, LSTM and GRU against Keras 3 (torch backend): outputs, states, weights, gradients."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from keras_helpers import check_layer, rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn  # noqa: E402
from fastnn.keras import layers as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers
RNNS = ["SimpleRNN", "LSTM", "GRU"]


def _perturb_bias(layer, seed=5):
    """Keras starts biases at 0 (LSTM's forget gate at 1): random biases test their layout too."""
    ws = layer.get_weights()
    rng = np.random.default_rng(seed)
    ws[-1] = rng.uniform(-0.5, 0.5, ws[-1].shape).astype(np.float32)
    layer.set_weights(ws)


@pytest.mark.parametrize("cls", RNNS)
@pytest.mark.parametrize("kw", [dict(), dict(return_sequences=True), dict(return_state=True),
                                dict(return_sequences=True, return_state=True, go_backwards=True),
                                dict(use_bias=False, go_backwards=True)])
def test_rnn_matches_keras(cls, kw):
    x = rand(3, 6, 5)
    ours, theirs = getattr(L, cls)(4, **kw), getattr(KL, cls)(4, **kw)
    theirs(x)
    if kw.get("use_bias", True):
        _perturb_bias(theirs)
    a, b = check_layer(ours, theirs, x)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]


def test_weight_layouts_and_defaults():
    lstm, gru, rnn = L.LSTM(3), L.GRU(3), L.SimpleRNN(3)
    x = rand(2, 4, 5)
    for layer in (lstm, gru, rnn):
        layer(x)
    assert [w.shape for w in lstm.get_weights()] == [(5, 12), (3, 12), (12,)]
    assert [w.shape for w in gru.get_weights()] == [(5, 9), (3, 9), (2, 9)]
    assert [w.shape for w in rnn.get_weights()] == [(5, 3), (3, 3), (3,)]
    assert np.array_equal(lstm.get_weights()[2], np.r_[np.zeros(3), np.ones(3), np.zeros(6)])  # unit_forget_bias
    rk = lstm.get_weights()[1]
    assert_close(rk @ rk.T, np.eye(3), atol=1e-5, rtol=0)  # orthogonal recurrent kernel (rows of a (3, 12))
    assert not np.any(gru.get_weights()[2])


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_initial_state(cls):
    x = rand(2, 5, 3)
    states = [rand(2, 4, seed=7)] * (2 if cls == "LSTM" else 1)
    ours, theirs = getattr(L, cls)(4, return_state=True), getattr(KL, cls)(4, return_state=True)
    check_layer(ours, theirs, x, initial_state=states)


def test_simple_rnn_relu_and_unsupported():
    x = rand(2, 5, 3)
    check_layer(L.SimpleRNN(4, activation="relu", return_sequences=True),
                KL.SimpleRNN(4, activation="relu", return_sequences=True), x)
    # reset_after=False, recurrent_dropout and other activations run the cell loop: test_keras_layers_cells.py
    with pytest.raises(ValueError, match="batch, time, features"):
        L.LSTM(4)(rand(2, 3))


def test_dropout_shares_one_mask_over_time():
    layer = L.SimpleRNN(3, dropout=0.5, use_bias=False, return_sequences=True)
    x = np.ones((4, 6, 8), np.float32)
    layer(x)
    ws = layer.get_weights()
    layer.set_weights([ws[0], np.zeros_like(ws[1])])  # no recurrence: step outputs depend on x_t's mask only
    y = to_np(layer(x, training=True))
    assert np.allclose(y, y[:, :1])  # the same dropped features at every step
    assert not np.allclose(to_np(layer(x, training=True)), y)
    assert_close(to_np(layer(x)), np.tanh(x[..., :3] * 0 + x @ ws[0]), atol=1e-6, rtol=1e-6)  # inference: none


@pytest.mark.parametrize("cls", RNNS)
def test_gradients_match_keras(cls):
    """d(loss)/d(weights) and d(loss)/d(x) of sum(output * r) through one layer, ours vs Keras' autograd."""
    x = rand(2, 5, 3)
    r = rand(2, 5, 4, seed=3)
    ours, theirs = getattr(L, cls)(4, return_sequences=True), getattr(KL, cls)(4, return_sequences=True)
    theirs(x)
    _perturb_bias(theirs)
    ours(x)
    ours.set_weights(theirs.get_weights())
    xt = torch.tensor(x, requires_grad=True)
    (theirs(xt) * torch.tensor(r)).sum().backward()
    xf = fastnn.tensor(x, requires_grad=True)
    (ours(xf) * fastnn.tensor(r)).sum().backward()
    assert_close(xf.grad, xt.grad.numpy(), atol=1e-5, rtol=1e-4, msg="input grad")
    for wo, wt in zip(ours.weights, theirs.weights):
        assert_close(wo.grad, wt.value.grad.numpy(), atol=1e-5, rtol=1e-4, msg=wt.path)


def test_stacked_in_sequential_matches_keras():
    from fastnn.keras.models import Sequential

    x = rand(4, 7, 5)
    ours = Sequential([L.LSTM(6, return_sequences=True, input_shape=(7, 5)), L.GRU(5, return_sequences=True),
                       L.SimpleRNN(3)])
    theirs = keras.Sequential([keras.Input((7, 5)), KL.LSTM(6, return_sequences=True),
                               KL.GRU(5, return_sequences=True), KL.SimpleRNN(3)])
    ours.set_weights(theirs.get_weights())
    assert_close(to_np(ours.predict(x, verbose=0)), to_np(theirs.predict(x, verbose=0)), atol=1e-5, rtol=1e-5)
    assert ours.layers[0].output_shape == (None, 7, 6) and ours.layers[2].output_shape == (None, 3)


def test_encoder_states_feed_decoder_in_functional_model(tmp_path):
    """The seq2seq pattern: an encoder's return_state outputs (the sequence output unused) become the
    decoder's initial_state; the model also survives save/load."""
    import fastnn.keras as fk

    def build(k):
        enc_in, dec_in = k.Input((6, 4)), k.Input((5, 3))
        enc, dec, head = k.layers.LSTM(8, return_state=True), k.layers.LSTM(8, return_sequences=True), \
            k.layers.Dense(2)
        _, h, c = enc(enc_in)
        return k.Model([enc_in, dec_in], head(dec(dec_in, initial_state=[h, c]))), (enc, dec, head)

    (theirs, tl), (ours, ol) = build(keras), build(fk)
    for a, b in zip(ol, tl):
        a.set_weights(b.get_weights())
    xa, xb = rand(3, 6, 4), rand(3, 5, 3, seed=1)
    assert_close(ours.predict([xa, xb], verbose=0), to_np(theirs.predict([xa, xb], verbose=0)), atol=1e-5, rtol=1e-5)
    ours.save(tmp_path / "s2s.keras")
    loaded = fk.models.load_model(tmp_path / "s2s.keras")
    assert_close(loaded.predict([xa, xb], verbose=0), ours.predict([xa, xb], verbose=0), atol=0, rtol=0)
