"""Keras' ``seed=`` and ``noise_shape=`` on Dropout and the attention layers are honoured (not ignored):
a seed gives the same masks whatever else draws random numbers; noise_shape shares one draw across the
axes it sets to 1. MultiHeadAttention's regularizers penalise every projection as Keras'."""
from __future__ import annotations

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import numpy as np
import pytest

import fastnn
import fastnn.keras as fk

keras = pytest.importorskip("keras")
X = np.ones((4, 6, 8), np.float32)
R = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)


def test_dropout_noise_shape_shares_the_draw_and_scales_the_kept_values():
    out = np.asarray(fk.layers.Dropout(0.5, noise_shape=(None, 1, 8), seed=3)(X, training=True))
    assert np.all(out == out[:, :1]) and set(np.unique(out)) <= {0.0, 2.0} and 0 < (out == 0).mean() < 1
    assert np.array_equal(np.asarray(fk.layers.Dropout(0.5, noise_shape=(None, 1, 8))(X)), X)  # inference


def test_a_seed_fixes_the_masks_whatever_else_draws():
    a = np.asarray(fk.layers.Dropout(0.5, seed=7)(X, training=True))
    fastnn.manual_seed(123)
    fastnn.rand(100)  # the global stream moves on
    b = np.asarray(fk.layers.Dropout(0.5, seed=7)(X, training=True))
    c = np.asarray(fk.layers.Dropout(0.5, seed=8)(X, training=True))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="seed"):
        fk.layers.Dropout(0.5, seed=-1)


def test_seeded_attention_dropout_repeats():
    m1, m2 = (fk.layers.MultiHeadAttention(2, 4, dropout=0.5, seed=1) for _ in range(2))
    m1(R, R)
    m2(R, R)
    m2.set_weights(m1.get_weights())
    assert np.allclose(np.asarray(m1(R, R, training=True)), np.asarray(m2(R, R, training=True)))
    a1, a2 = fk.layers.Attention(dropout=0.5, seed=4), fk.layers.Attention(dropout=0.5, seed=4)
    assert np.allclose(np.asarray(a1([R, R], training=True)), np.asarray(a2([R, R], training=True)))


def test_multi_head_attention_regularizers_match_keras():
    ours = fk.layers.MultiHeadAttention(2, 4, kernel_regularizer=fk.regularizers.L2(0.1), bias_regularizer="l1")
    theirs = keras.layers.MultiHeadAttention(2, 4, kernel_regularizer=keras.regularizers.L2(0.1),
                                             bias_regularizer="l1")
    theirs(R, R)
    ours(R, R)
    ours.set_weights(theirs.get_weights())
    ours(R, R)
    assert sum(float(v) for v in ours.losses) == pytest.approx(sum(float(v) for v in theirs.losses), rel=1e-5)
    config, kconfig = ours.get_config(), theirs.get_config()
    assert config["kernel_regularizer"] == kconfig["kernel_regularizer"]
    assert "query_kernel_regularizer" not in config
