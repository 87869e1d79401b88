"""The new fastnn.keras layers inside models: one training step against Keras 3 (torch backend) with identical
weights, the functional API with Concatenate/Add, and issue 6's Keras snippets (imports changed only)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from keras_helpers import rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

import fastnn.keras as fk  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _one_step(build, x, y, loss, lr=0.1):
    """Builds the model in both libraries (``build(module)`` with keras or fastnn.keras), copies Keras'
    weights into ours, runs one SGD train_on_batch in each; returns (loss, weights) pairs."""
    theirs, ours = build(keras), build(fk)
    ours.set_weights(theirs.get_weights())
    for m in (theirs, ours):
        m.compile(optimizer=m_opt(m, lr), loss=loss)
    lt = float(np.asarray(theirs.train_on_batch(x, y)).reshape(-1)[0])
    lo = ours.train_on_batch(x, y)
    return (lo, lt), (ours.get_weights(), theirs.get_weights()), (ours, theirs)


def m_opt(model, lr):
    return (fk.optimizers.SGD if isinstance(model, fk.Model) else keras.optimizers.SGD)(learning_rate=lr)


def _compare(step, atol=1e-5, rtol=1e-4):
    (lo, lt), (wo, wt), _ = step
    assert abs(lo - lt) <= atol + rtol * abs(lt), (lo, lt)
    assert [w.shape for w in wo] == [w.shape for w in wt]
    for i, (u, v) in enumerate(zip(wo, wt)):
        assert_close(u, v, atol=atol, rtol=rtol, msg=f"weight {i} after one SGD step")


def test_cnn_batchnorm_one_sgd_step_matches_keras():
    def build(k):
        L = k.layers
        return k.Sequential([k.Input((10, 10, 2)), L.Conv2D(4, 3, activation="relu", padding="same"),
                             L.BatchNormalization(), L.MaxPooling2D(), L.Conv2D(3, 2, strides=2),
                             L.AveragePooling2D(2, padding="same"), L.Flatten(), L.Dense(3, activation="softmax")])

    x = rand(8, 10, 10, 2)
    y = np.arange(8) % 3
    step = _one_step(build, x, y, "sparse_categorical_crossentropy")
    _compare(step)  # includes BatchNormalization's moving mean and variance after the training step
    ours, theirs = step[2]
    assert_close(ours.predict(x, verbose=0), to_np(theirs.predict(x, verbose=0)), atol=1e-5, rtol=1e-4)


def test_recurrent_one_sgd_step_matches_keras():
    def build(k):
        L = k.layers
        return k.Sequential([k.Input((6,), dtype="int32"), L.Embedding(30, 8), L.GRU(5, return_sequences=True),
                             L.LayerNormalization(), L.LSTM(4), L.Dense(1)])

    x = np.random.default_rng(0).integers(0, 30, (6, 6))
    y = rand(6, 1, seed=2)
    _compare(_one_step(build, x, y, "mse", lr=0.5))


def test_functional_concatenate_add_matches_keras():
    def build(k):
        L = k.layers
        a, b = k.Input((5,)), k.Input((5,))
        h1, h2 = L.Dense(4, activation="tanh")(a), L.Dense(4)(b)
        merged = L.Concatenate()([L.Add()([h1, h2]), a])
        return k.Model([a, b], L.Dense(2)(merged))

    theirs, ours = build(keras), build(fk)
    # Dense layers in creation order on both sides (functional layer lists need not share an order)
    for lo, lt in zip(_dense_layers(ours), _dense_layers(theirs)):
        lo.set_weights(lt.get_weights())
    xa, xb = rand(7, 5), rand(7, 5, seed=1)
    assert_close(ours.predict([xa, xb], verbose=0), to_np(theirs.predict([xa, xb], verbose=0)), atol=1e-5, rtol=1e-5)
    ours.compile("adam", "mse")
    history = ours.fit([xa, xb], rand(7, 2, seed=3), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def _dense_layers(model):
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    return sorted(dense, key=lambda layer: int(layer.name.rsplit("_", 1)[-1]) if "_" in layer.name else 0)


# ---- issue 6's Keras snippets, run as a user would (imports changed only), on small random data -----------------
def test_snippet_cnn():
    from fastnn.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from fastnn.keras.models import Sequential

    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(MaxPooling2D((2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 32)
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history
    assert [layer.output_shape for layer in model.layers] == [(None, 26, 26, 32), (None, 13, 13, 32),
                                                              (None, 11, 11, 64), (None, 5, 5, 64), (None, 1600),
                                                              (None, 128), (None, 10)]
    assert model.count_params() == 320 + 18496 + 204928 + 1290
    probs = model.predict(x[:5], verbose=0)
    assert probs.shape == (5, 10) and np.allclose(probs.sum(-1), 1, atol=1e-5)


def test_snippet_stacked_lstm():
    from fastnn.keras.layers import LSTM, Dense
    from fastnn.keras.models import Sequential

    model = Sequential()
    model.add(LSTM(64, return_sequences=True, input_shape=(100, 64)))
    model.add(LSTM(64, return_sequences=True))
    model.add(LSTM(64))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((16, 100, 64)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x[:3], verbose=0).shape == (3, 10)


def test_snippet_embedding_lstm_attention():
    from fastnn.keras.layers import LSTM, Attention, Dense, Embedding
    from fastnn.keras.models import Sequential

    model = Sequential([Embedding(10000, 64), LSTM(64, return_sequences=True), Attention(), LSTM(64),
                        Dense(10)])
    model.compile(optimizer="adam", loss=keras_free_loss(), metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 10000, (16, 20)), rng.integers(0, 10, 16)
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert [layer.output_shape for layer in model.layers] == [(None, 20, 64), (None, 20, 64), (None, 20, 64),
                                                              (None, 64), (None, 10)]


def keras_free_loss():
    from fastnn.keras.losses import SparseCategoricalCrossentropy

    return SparseCategoricalCrossentropy(from_logits=True)


def test_snippet_dense_binary_classifier():
    from fastnn.keras.layers import Activation, Dense
    from fastnn.keras.models import Sequential
    from fastnn.keras.optimizers import Adam

    model = Sequential()
    model.add(Dense(64, input_dim=20))
    model.add(Activation("relu"))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    model.compile(optimizer=Adam(learning_rate=0.001), loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 20)).astype(np.float32), rng.integers(0, 2, (100, 1))
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_save_and_load_model_with_new_layers(tmp_path):
    from fastnn.keras.models import load_model

    L = fk.layers
    a, b = fk.Input((5, 6)), fk.Input((7, 8))
    att = L.MultiHeadAttention(2, 3)(a, b, b)
    pooled = L.GlobalAveragePooling2D()(L.Reshape((5, 12, 1))(L.Concatenate()([att, a])))
    functional = fk.Model([a, b], L.Dense(2)(L.Add()([pooled, L.LayerNormalization()(pooled)])))
    seq = fk.Sequential([fk.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same"), L.BatchNormalization(),
                         L.MaxPooling2D(), L.AveragePooling2D(2), L.Flatten(), L.Dense(3)])
    rec = fk.Sequential([fk.Input((5,), dtype="int64"), L.Embedding(50, 8), L.LSTM(8, return_sequences=True),
                         L.Attention(), L.GRU(4, return_sequences=True), L.SimpleRNN(3), L.Dense(2)])
    data = [[rand(3, 5, 6), rand(3, 7, 8, seed=1)], rand(3, 8, 8, 1), np.random.default_rng(0).integers(0, 50, (3, 5))]
    for i, (model, x) in enumerate(zip((functional, seq, rec), data)):
        path = tmp_path / f"m{i}.keras"
        model.save(path)
        loaded = load_model(path)
        assert [type(la).__name__ for la in loaded.layers] == [type(la).__name__ for la in model.layers]
        assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=0, rtol=0)
