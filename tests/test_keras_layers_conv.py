"""fastnn.keras Conv2D, pooling, normalisation, Embedding and merge layers against Keras 3 (torch backend)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from keras_helpers import check_layer, rand, to_np  # noqa: E402
from op_helpers import assert_close  # noqa: E402

from fastnn.keras import layers as L  # noqa: E402

# Keras' own variables and torch tensors raise NumPy 2's __array__(copy=) DeprecationWarning: not ours.
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KL = keras.layers


@pytest.mark.parametrize("kw", [
    dict(filters=4, kernel_size=3),
    dict(filters=4, kernel_size=(3, 2), padding="same"),
    dict(filters=6, kernel_size=3, strides=2, padding="same", activation="relu"),
    dict(filters=6, kernel_size=(2, 3), strides=(2, 1), padding="same"),
    dict(filters=4, kernel_size=3, dilation_rate=2, padding="same", use_bias=False),
    dict(filters=4, kernel_size=3, groups=2, activation="tanh"),
    dict(filters=5, kernel_size=2, strides=3),
])
def test_conv2d_matches_keras(kw):
    x = rand(2, 9, 8, 4)
    ours, theirs = L.Conv2D(**kw), KL.Conv2D(**kw)
    check_layer(ours, theirs, x)
    assert ours.kernel.shape == tuple(theirs.kernel.shape)


def test_conv2d_channels_first():
    x = rand(2, 3, 7, 7)
    check_layer(L.Conv2D(4, 3, data_format="channels_first", padding="same"),
                KL.Conv2D(4, 3, data_format="channels_first", padding="same"), x)


def test_conv2d_default_init_and_errors():
    layer = L.Conv2D(8, 3)
    layer(rand(1, 5, 5, 2))
    w = layer.get_weights()
    limit = np.sqrt(6.0 / (9 * 2 + 9 * 8))  # glorot_uniform with Keras' receptive-field fans
    assert w[0].shape == (3, 3, 2, 8) and np.abs(w[0]).max() <= limit and np.all(w[1] == 0)
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="dilation_rate"):
        L.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="ndim=4"):
        L.Conv2D(4, 3)(rand(2, 5, 5))


@pytest.mark.parametrize("cls", ["MaxPooling2D", "AveragePooling2D"])
@pytest.mark.parametrize("kw", [dict(pool_size=2), dict(pool_size=3, strides=2),
                                dict(pool_size=3, strides=2, padding="same"), dict(pool_size=2, padding="same"),
                                dict(pool_size=(3, 2), strides=1, padding="same")])
def test_pooling_matches_keras(cls, kw):
    x = rand(2, 7, 8, 3)
    check_layer(getattr(L, cls)(**kw), getattr(KL, cls)(**kw), x)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling(keepdims):
    x = rand(2, 5, 4, 3)
    check_layer(L.GlobalAveragePooling2D(keepdims=keepdims), KL.GlobalAveragePooling2D(keepdims=keepdims), x)
    check_layer(L.GlobalAveragePooling2D(data_format="channels_first"),
                KL.GlobalAveragePooling2D(data_format="channels_first"), x)


def _randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()])


@pytest.mark.parametrize("shape,axis", [((6, 5), -1), ((4, 5, 6, 3), -1), ((4, 3, 5, 5), 1), ((4, 5, 3), 1)])
def test_batch_normalization_train_and_inference(shape, axis):
    x = rand(*shape) * 2 + 3
    ours, theirs = L.BatchNormalization(axis=axis), KL.BatchNormalization(axis=axis)
    theirs(x)
    _randomise(theirs)
    check_layer(ours, theirs, x)  # inference: moving statistics
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert len(ours.trainable_weights) == 2 and len(ours.non_trainable_weights) == 2
    for _ in range(2):  # training: batch statistics, moving averages updated with Keras' momentum
        a, b = to_np(ours(x, training=True)), to_np(theirs(x, training=True))
        assert_close(a, b, atol=1e-5, rtol=1e-5)
    for u, v in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(u, v, atol=1e-6, rtol=1e-5)


def test_batch_normalization_options_and_single_sample():
    x = rand(1, 4)
    ours, theirs = L.BatchNormalization(center=False, momentum=0.5), KL.BatchNormalization(center=False, momentum=0.5)
    check_layer(ours, theirs, x)
    assert len(ours.get_weights()) == 3
    # one value per feature in training: variance 0 (torch's op refuses that batch, Keras does not)
    xb = rand(1, 4, seed=3)
    assert_close(to_np(ours(xb, training=True)), to_np(theirs(xb, training=True)), atol=1e-5, rtol=1e-5)
    for u, v in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(u, v, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kw,shape", [(dict(), (3, 4, 6)), (dict(axis=[1, 2]), (3, 4, 6)),
                                      (dict(epsilon=1e-5, center=False), (5, 7))])
def test_layer_normalization(kw, shape):
    x = rand(*shape) * 3 + 1
    ours, theirs = L.LayerNormalization(**kw), KL.LayerNormalization(**kw)
    theirs(x)
    _randomise(theirs)
    check_layer(ours, theirs, x)


def test_embedding():
    idx = np.random.default_rng(0).integers(0, 20, (3, 7))
    ours, theirs = L.Embedding(20, 5), KL.Embedding(20, 5)
    check_layer(ours, theirs, idx, atol=0, rtol=0)
    w = ours.get_weights()[0]
    assert w.shape == (20, 5) and np.abs(w).max() <= 0.05  # Keras' "uniform" initialiser
    assert tuple(ours(idx.astype(np.float32)).shape) == (3, 7, 5)  # float indices are cast, as Keras
    with pytest.raises(IndexError):
        ours(np.array([[20]]))


def test_merge_layers():
    a, b, c = rand(3, 4), rand(3, 4, seed=1), rand(3, 2, seed=2)
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        check_layer(getattr(L, name)(), getattr(KL, name)(), [a, b])
    check_layer(L.Concatenate(), KL.Concatenate(), [a, c])
    check_layer(L.Concatenate(axis=1), KL.Concatenate(axis=1), [rand(2, 3, 4), rand(2, 1, 4)])
    with pytest.raises(ValueError, match="matching shapes"):
        L.Concatenate()([rand(2, 3), rand(3, 3)])
    with pytest.raises(ValueError, match="list"):
        L.Add()(a)
