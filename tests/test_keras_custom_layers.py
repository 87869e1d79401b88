"""Custom Keras layers as Keras 3 users write them: call(self, inputs) without training/mask (Keras passes
those only to a call that declares them), add_weight in Keras 3's keyword form, and keras.utils'
to_categorical / pad_sequences against Keras 3.15."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import keras as fk
from op_helpers import assert_close

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")


class Scale(fk.layers.Layer):  # the Keras 3 guide's pattern: no training argument at all
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", trainable=True, name="w")
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros")

    def call(self, inputs):
        return inputs * self.w + self.b


class Flagged(fk.layers.Layer):
    def call(self, inputs, training=None):
        return inputs * (2.0 if training else 1.0)


class Masked(fk.layers.Layer):
    def call(self, inputs, mask=None):
        return inputs if mask is None else inputs * mask


def test_call_without_training_works_in_fit_and_predict():
    model = fk.Sequential([fk.layers.Dense(4), Scale(), fk.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).standard_normal((32, 3)).astype("float32")
    hist = model.fit(x, x[:, :1], epochs=2, batch_size=8, verbose=0)
    assert len(hist.history["loss"]) == 2
    assert model.predict(x, verbose=0).shape == (32, 1)
    scale = model.layers[1]
    assert [tuple(w.shape) for w in scale.weights] == [(4,), (4,)]
    assert scale.trainable_weights[0] is scale.w


def test_training_and_mask_reach_only_calls_that_declare_them():
    x = fastnn.ones(2, 3)
    assert Flagged()(x, training=True).numpy().max() == 2.0
    assert Flagged()(x).numpy().max() == 1.0
    assert Scale()(x, training=True).shape == (2, 3)  # dropped, not an error
    m = fastnn.tensor([[1.0, 0.0, 1.0]] * 2)
    assert Masked()(x, mask=m).numpy().tolist() == m.numpy().tolist()
    assert Scale()(x, mask=m).shape == (2, 3)


def test_add_weight_keyword_form_defaults_and_legacy_order():
    layer = fk.layers.Layer()
    w = layer.add_weight(shape=(2, 3))  # glorot_uniform by default, auto-named
    assert tuple(w.shape) == (2, 3) and w.requires_grad and float(np.abs(w.detach().numpy()).sum()) > 0
    i = layer.add_weight(shape=(2,), dtype="int64", trainable=False)  # ints default to zeros
    assert i.dtype == fastnn.int64 and i.numpy().tolist() == [0, 0]
    legacy = layer.add_weight("kernel", (3,), "ones")  # Keras 2's order still works
    assert legacy.detach().numpy().tolist() == [1.0, 1.0, 1.0]
    r = layer.add_weight(shape=(2,), initializer="ones", regularizer="l2")  # Keras' l2 default: 0.01 * sum(w^2)
    assert r.requires_grad and [round(float(v.item()), 6) for v in layer.losses] == [0.02]


@pytest.mark.parametrize("x,n", [([0, 2, 1], None), (np.array([[1], [2], [0]]), 4), (np.array([[0, 1], [2, 2]]), 3),
                                 ([3], None)])
def test_to_categorical_matches_keras(x, n):
    ours, theirs = fk.utils.to_categorical(x, n), keras.utils.to_categorical(x, n)
    assert isinstance(ours, np.ndarray) and ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert_close(ours, theirs)


@pytest.mark.parametrize("kw", [{}, {"maxlen": 2}, {"padding": "post", "truncating": "post", "value": -1},
                                {"maxlen": 4, "padding": "post"}, {"dtype": "float32"}])
def test_pad_sequences_matches_keras(kw):
    seqs = [[1, 2, 3], [4, 5], [6], []]
    ours, theirs = fk.utils.pad_sequences(seqs, **kw), keras.utils.pad_sequences(seqs, **kw)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.tolist() == theirs.tolist()
    with pytest.raises(ValueError, match="Padding type"):
        fk.utils.pad_sequences(seqs, padding="middle")


def test_mean_and_sum_metrics_match_keras():
    batches = [([1.0, 2.0, 3.0], None), ([4.0], [2.0]), (np.array([[0.5, 1.5]]), np.array([[1.0, 3.0]]))]
    pairs = ((fk.metrics.Mean(), keras.metrics.Mean()), (fk.metrics.Sum(name="s"), keras.metrics.Sum(name="s")))
    for ours, theirs in pairs:
        assert ours.name == theirs.name
        for values, w in batches:
            ours.update_state(values, sample_weight=w)
            theirs.update_state(values, sample_weight=w)
            assert abs(float(ours.result()) - float(theirs.result())) < 1e-6
        ours.reset_state()
        theirs.reset_state()
        assert float(ours.result()) == float(theirs.result()) == 0.0
    tracker = fk.metrics.Mean(name="loss")
    tracker.update_state(fastnn.tensor(2.5))
    assert float(tracker.result()) == 2.5 and tracker.name == "loss"
