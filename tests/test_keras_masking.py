"""Keras masks flow as in Keras 3: Embedding(mask_zero=True) marks padded steps, layers that keep the steps
axis pass the mask on, and average pooling and attention leave padded steps out. Each model runs under
keras (torch backend) and fastnn.keras with the same weights."""
from __future__ import annotations

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import numpy as np
import pytest

import fastnn.keras as fk
from op_helpers import assert_close

keras = pytest.importorskip("keras")

TOKENS = np.array([[3, 5, 2, 0, 0], [1, 0, 0, 0, 0], [4, 4, 1, 2, 6]], np.int64)


def _pooled(K):
    inputs = K.Input(shape=(5,), dtype="int64")
    x = K.layers.Embedding(8, 4, mask_zero=True)(inputs)
    x = K.layers.Dense(4, activation="relu")(x)  # passes the mask on
    return K.Model(inputs, K.layers.GlobalAveragePooling1D()(x))


def _self_attention(K):
    inputs = K.Input(shape=(5,), dtype="int64")
    x = K.layers.Embedding(8, 4, mask_zero=True)(inputs)
    x = K.layers.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    x = K.layers.LayerNormalization()(x)
    return K.Model(inputs, K.layers.GlobalAveragePooling1D()(x))


def _dot_attention(K):
    inputs = K.Input(shape=(5,), dtype="int64")
    x = K.layers.Embedding(8, 4, mask_zero=True)(inputs)
    x = K.layers.Attention()([x, x])
    return K.Model(inputs, K.layers.GlobalAveragePooling1D()(x))


@pytest.mark.parametrize("make", [_pooled, _self_attention, _dot_attention])
def test_masked_models_match_keras(make):
    theirs, ours = make(keras), make(fk)
    ours.set_weights(theirs.get_weights())
    assert_close(ours.predict(TOKENS, verbose=0), theirs.predict(TOKENS, verbose=0), rtol=1e-5, atol=1e-6)


def test_masks_follow_the_tensor_and_pooling_skips_padded_steps():
    model = _pooled(fk)
    emb, dense = model.layers[1], model.layers[2]
    out = emb(TOKENS)
    assert np.array_equal(np.asarray(emb.compute_mask(TOKENS)), TOKENS != 0)
    assert np.array_equal(np.asarray(fk.masking.get_mask(out)), TOKENS != 0)
    assert fk.masking.get_mask(fk.layers.Dense(2)(np.ones((2, 3), np.float32))) is None
    table = emb.get_weights()[0]
    w, b = dense.get_weights()
    h = np.maximum(table[TOKENS] @ w + b, 0)
    keep = (TOKENS != 0)[..., None]
    expected = (h * keep).sum(1) / keep.sum(1)
    assert_close(model.predict(TOKENS, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, h.mean(1))  # the padded steps would have changed the mean


def test_a_layer_that_cannot_mask_warns_as_keras():
    x = fk.layers.Embedding(8, 4, mask_zero=True)(TOKENS)
    with pytest.warns(UserWarning, match="does not support masking"):
        fk.layers.Flatten()(x)


def test_the_compiled_loss_leaves_masked_steps_out_as_keras():
    def make(K):
        inputs = K.Input(shape=(5,), dtype="int64")
        x = K.layers.Embedding(8, 4, mask_zero=True)(inputs)
        model = K.Model(inputs, K.layers.Dense(1)(x))
        model.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
        return model

    theirs, ours = make(keras), make(fk)
    ours.set_weights(theirs.get_weights())
    y = np.random.default_rng(1).standard_normal((3, 5, 1)).astype(np.float32)
    a = ours.evaluate(TOKENS, y, verbose=0)
    b = theirs.evaluate(TOKENS, y, verbose=0)
    assert a == pytest.approx(float(b), rel=1e-5)
    h_ours = ours.fit(TOKENS, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    h_theirs = theirs.fit(TOKENS, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    assert h_ours == pytest.approx(h_theirs, rel=1e-4)


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional_lstm_on_masked_sequences_matches_keras(merge_mode):
    def make(K):
        inputs = K.Input(shape=(5,), dtype="int64")
        x = K.layers.Embedding(8, 4, mask_zero=True)(inputs)
        x = K.layers.Bidirectional(K.layers.LSTM(3, return_sequences=True), merge_mode=merge_mode)(x)
        x = K.layers.Bidirectional(K.layers.GRU(2))(x)
        return K.Model(inputs, x)

    theirs, ours = make(keras), make(fk)
    ours.set_weights(theirs.get_weights())
    assert_close(ours.predict(TOKENS, verbose=0), theirs.predict(TOKENS, verbose=0), rtol=1e-5, atol=1e-6)
