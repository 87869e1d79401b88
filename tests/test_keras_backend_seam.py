"""fastnn.keras, fastnn.data and fastnn.metrics on the backend seam: tensors given as data stay tensors,
per-step metric counting matches the plain NumPy formulas, and every write into a weight bumps its
version (so autograd refuses a backward through a stale saved weight)."""
import numpy as np
import pytest

import fastnn
from fastnn import keras as fk
from fastnn.data import DataLoader, TensorDataset, default_collate

RNG = np.random.default_rng(3)


def _model(seed: int):
    fastnn.manual_seed(seed)
    m = fk.Sequential([fk.layers.Dense(8, activation="relu", input_shape=(5,)), fk.layers.Dense(3)])
    m.compile(optimizer=fk.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
              loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


def test_fit_on_tensors_equals_fit_on_arrays():
    x = RNG.standard_normal((40, 5)).astype(np.float32)
    y = RNG.integers(0, 3, 40)
    sw = RNG.uniform(0.5, 1.5, 40).astype(np.float32)
    runs = []
    for data in ((x, y, sw), (fastnn.tensor(x), fastnn.tensor(y), sw)):
        m = _model(0)
        fastnn.manual_seed(1)  # the shuffle order
        hist = m.fit(data[0], data[1], sample_weight=data[2], batch_size=8, epochs=2, validation_split=0.25,
                     verbose=0)
        pred = m.predict(data[0], verbose=0)
        runs.append((hist.history, [w.copy() for w in m.get_weights()], pred))
    (h_a, w_a, p_a), (h_b, w_b, p_b) = runs
    assert h_a == h_b
    for a, b in zip(w_a, w_b):
        assert np.array_equal(a, b)
    assert type(p_b) is np.ndarray and np.array_equal(p_a, p_b)


def test_metric_counting_matches_the_numpy_formulas():
    yp = RNG.random((12, 4)).astype(np.float32)
    yt = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, 12)]
    w = RNG.uniform(0.0, 2.0, 12)
    m = fk.metrics.CategoricalAccuracy()
    m.update_state(yt, fastnn.tensor(yp), sample_weight=w)
    hits = (yt.argmax(-1) == yp.argmax(-1)).astype(np.float64)
    assert float(m.result()) == pytest.approx(float(np.sum(hits * w)) / float(np.sum(w)), rel=1e-6)  # float32 state
    mae = fk.metrics.MeanAbsoluteError()
    mae.update_state(fastnn.tensor(yt), fastnn.tensor(yp))
    assert float(mae.result()) == pytest.approx(float(np.abs(yp - yt).mean()), rel=1e-6)
    prec = fk.metrics.Precision()
    prec.update_state(yt, fastnn.tensor(yp))
    pred, true = yp > 0.5, yt > 0.5
    assert float(prec.result()) == pytest.approx((pred & true).sum() / pred.sum())


@pytest.mark.parametrize("average", [None, "weighted"])
def test_f1_per_class_and_weighted_match_the_counts(average):
    yp = RNG.random((30, 3))
    yt = np.eye(3)[RNG.integers(0, 3, 30)]
    f1 = fk.metrics.F1Score(average=average)
    for part in (slice(0, 17), slice(17, 30)):  # two steps accumulate
        f1.update_state(yt[part], fastnn.tensor(yp[part]))
    pred = np.eye(3, dtype=bool)[yp.argmax(-1)]
    true = yt > 0.5
    tp, fp, fn = (pred & true).sum(0), (pred & ~true).sum(0), (~pred & true).sum(0)
    want = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    got = f1.result()  # a float32 tensor, with Keras' epsilon in the divisions
    if average is None:
        assert isinstance(got, fastnn.Tensor) and np.allclose(np.asarray(got), want, rtol=1e-5)
    else:
        assert float(got) == pytest.approx(float(np.sum(want * (tp + fn)) / (tp + fn).sum()), rel=1e-5)


def test_sparse_crossentropy_on_probabilities_builds_the_one_hot_targets():
    p = RNG.random((6, 4)).astype(np.float32) + 0.01
    labels = RNG.integers(0, 4, 6)
    sparse = fk.losses.sparse_categorical_crossentropy(labels, fastnn.tensor(p)).numpy()
    dense = fk.losses.categorical_crossentropy(np.eye(4, dtype=np.float32)[labels], fastnn.tensor(p)).numpy()
    assert np.array_equal(sparse, dense)


def test_writes_into_weights_bump_their_versions():
    m = fk.Sequential([fk.layers.Dense(2, input_shape=(3,)), fk.layers.BatchNormalization()])
    kernel, moving_mean = m.layers[0].kernel, m.layers[1].moving_mean
    before = kernel._version
    m.set_weights([w + 1.0 for w in m.get_weights()])
    assert kernel._version == before + 1
    before = moving_mean._version
    m(fastnn.randn(4, 3), training=True)
    assert moving_mean._version == before + 1
    m.compile(optimizer="rmsprop", loss="mse")
    before = kernel._version
    m.train_on_batch(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32))
    assert kernel._version == before + 1


def test_a_stale_weight_is_refused_after_set_weights():
    layer = fk.layers.Dense(2)
    x = fastnn.randn(3, 4, requires_grad=True)
    layer(x)  # builds
    out = (layer(x) * layer(x)).sum()
    layer.set_weights([w * 2.0 for w in layer.get_weights()])
    with pytest.raises(RuntimeError):
        out.backward()


def test_loader_batches_stay_on_their_tensors_backend():
    x, y = fastnn.randn(10, 3), fastnn.arange(10)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[0].numpy() for b in batches]), x.numpy())
    stacked = default_collate([x[i] for i in range(3)])
    assert np.array_equal(stacked.numpy(), x.numpy()[:3]) and stacked.dtype is fastnn.float32
    assert stacked._data is not x._data and not np.shares_memory(stacked._data, x._data)


def test_metrics_functions_take_tensors():
    t, p = fastnn.tensor([0, 1, 1, 2]), fastnn.tensor([0, 1, 2, 2])
    assert fastnn.metrics.accuracy(t, p) == 0.75
    assert fastnn.metrics.confusion_matrix(t, p).tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
