"""fastnn.keras' engine against Keras 3 (torch backend): losses, metrics, one optimizer step with identical
weights, fit/evaluate/predict, callbacks, progress output, summary, save/load, functional models."""
import os

import numpy as np
import pytest

import fastnn
from fastnn import keras as fk

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.torch

RNG = np.random.default_rng(0)


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


@pytest.mark.parametrize("name,kind", [("mse", "reg"), ("mae", "reg"), ("binary_crossentropy", "bin"),
                                       ("categorical_crossentropy", "cat"), ("hinge", "bin"),
                                       ("sparse_categorical_crossentropy", "sparse")])
def test_losses_match_keras_per_sample(name, kind):
    p = RNG.random((6, 4)).astype(np.float32) + 0.01
    if kind == "reg":
        y = RNG.standard_normal((6, 4)).astype(np.float32)
    elif kind == "bin":
        y = RNG.integers(0, 2, (6, 4)).astype(np.float32)
        p = np.clip(p, 0, 1)
    elif kind == "cat":
        y = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, 6)]
        p = p / p.sum(-1, keepdims=True)
    else:
        y = RNG.integers(0, 4, 6)
        p = p / p.sum(-1, keepdims=True)
    ours = fk.losses.get(name)(y, fastnn.tensor(p)).numpy()
    theirs = _np(keras.losses.get(name)(y, p))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss_cls", ["BinaryCrossentropy", "CategoricalCrossentropy",
                                      "SparseCategoricalCrossentropy"])
def test_from_logits_losses_match_keras(loss_cls):
    x = RNG.standard_normal((5, 3)).astype(np.float32) * 3
    if loss_cls == "SparseCategoricalCrossentropy":
        y = RNG.integers(0, 3, 5)
    elif loss_cls == "BinaryCrossentropy":
        y = RNG.integers(0, 2, (5, 3)).astype(np.float32)
    else:
        y = np.eye(3, dtype=np.float32)[RNG.integers(0, 3, 5)]
    ours = getattr(fk.losses, loss_cls)(from_logits=True)(y, fastnn.tensor(x)).item()
    theirs = float(_np(getattr(keras.losses, loss_cls)(from_logits=True)(y, x)))
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_metrics_match_keras():
    yb, pb = RNG.integers(0, 2, (40, 1)), RNG.random((40, 1))
    yc = RNG.integers(0, 4, 40)
    pc = RNG.random((40, 4))
    cases = [(fk.metrics.BinaryAccuracy(), keras.metrics.BinaryAccuracy(), yb, pb),
             (fk.metrics.Precision(), keras.metrics.Precision(), yb, pb),
             (fk.metrics.Recall(), keras.metrics.Recall(), yb, pb),
             (fk.metrics.SparseCategoricalAccuracy(), keras.metrics.SparseCategoricalAccuracy(), yc, pc),
             (fk.metrics.CategoricalAccuracy(), keras.metrics.CategoricalAccuracy(), np.eye(4)[yc], pc),
             (fk.metrics.F1Score(average="macro"), keras.metrics.F1Score(average="macro"), np.eye(4)[yc], pc),
             (fk.metrics.F1Score(average="micro"), keras.metrics.F1Score(average="micro"), np.eye(4)[yc], pc)]
    for ours, theirs, y, p in cases:
        for half in (slice(0, 20), slice(20, 40)):  # two updates: state accumulates
            ours.update_state(y[half], p[half])
            theirs.update_state(y[half], p[half].astype(np.float32))
        assert float(ours.result()) == pytest.approx(float(_np(theirs.result())), abs=1e-5), type(ours).__name__
    auc = fk.metrics.AUC()
    auc.update_state(yb, pb)
    kauc = keras.metrics.AUC(num_thresholds=2000)
    kauc.update_state(yb, pb.astype(np.float32))
    assert float(auc.result()) == pytest.approx(float(_np(kauc.result())), abs=2e-3)  # Keras interpolates thresholds


def _twin_models(optimizer_pair, loss="mse"):
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(3)])
    ours = fk.Sequential([fk.layers.Dense(8, activation="relu", input_shape=(5,)), fk.layers.Dense(3)])
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=optimizer_pair[1], loss=loss)
    ours.compile(optimizer=optimizer_pair[0], loss=loss)
    return ours, theirs


@pytest.mark.parametrize("opt", ["sgd", "adam", "rmsprop"])
def test_training_steps_match_keras_with_identical_weights(opt):
    kw = {"learning_rate": 0.05}
    name = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}[opt]
    ours, theirs = _twin_models((getattr(fk.optimizers, name)(**kw), getattr(keras.optimizers, name)(**kw)))
    x = RNG.standard_normal((16, 5)).astype(np.float32)
    y = RNG.standard_normal((16, 3)).astype(np.float32)
    for _ in range(3):
        lo = ours.train_on_batch(x, y)
        lt = float(np.ravel(theirs.train_on_batch(x, y))[0])
        assert lo == pytest.approx(lt, rel=1e-4)
    tol = 1e-5 if opt == "sgd" else 2e-3  # Keras' Adam/RMSprop place epsilon slightly differently than torch's
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_fit_learns_and_reports_history_and_progress(capsys):
    fastnn.manual_seed(0)
    x = RNG.standard_normal((256, 10)).astype(np.float32)
    y = (x[:, :1] + x[:, 1:2] > 0).astype(np.float32)
    model = fk.Sequential([fk.layers.Dense(16, activation="relu", input_shape=(10,)),
                           fk.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=fk.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.25, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/8" in out and "6/6" in out and " - loss: " in out and "val_accuracy" in out
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and hist.epoch == list(range(8))
    assert hist.history["loss"][-1] < hist.history["loss"][0] and hist.history["val_accuracy"][-1] > 0.85
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.85 and loss < 0.5
    assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}
    pred = model.predict(x, batch_size=100, verbose=0)
    assert pred.shape == (256, 1) and isinstance(pred, np.ndarray)
    model.fit(x, y, epochs=1, verbose=2)
    assert capsys.readouterr().out.count("\n") == 2  # "Epoch 1/1" + one summary line


def test_accuracy_variant_follows_the_loss():
    out = fastnn.tensor(np.eye(3, dtype=np.float32))
    m = fk.metrics.get("accuracy", "sparse_categorical_crossentropy", (None, 3))
    assert isinstance(m, fk.metrics.SparseCategoricalAccuracy)
    assert isinstance(fk.metrics.get("accuracy", "categorical_crossentropy", (None, 3)),
                      fk.metrics.CategoricalAccuracy)
    assert isinstance(fk.metrics.get("acc", "mse", (None, 1)), fk.metrics.BinaryAccuracy)
    m.update_state([0, 1, 1], out)
    assert float(m.result()) == pytest.approx(2 / 3)


def _small(seed=0):
    fastnn.manual_seed(seed)
    m = fk.Sequential([fk.layers.Dense(4, activation="relu", input_shape=(3,)), fk.layers.Dense(1)])
    m.compile(optimizer=fk.optimizers.SGD(learning_rate=0.1), loss="mse")
    return m


def test_callbacks_early_stopping_checkpoint_csv_lr(tmp_path):
    x = RNG.standard_normal((64, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    m = _small()
    seen = []
    es = fk.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)  # nothing counts as better
    ckpt = fk.callbacks.ModelCheckpoint(str(tmp_path / "m_{epoch:02d}.keras"), monitor="loss")
    csv = fk.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    sched = fk.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    lam = fk.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(m.optimizer.learning_rate))
    hist = m.fit(x, y, epochs=10, verbose=0, callbacks=[es, ckpt, sched, csv, lam])
    assert len(hist.epoch) == 2 and es.stopped_epoch == 1  # stops after `patience` epochs without improvement
    assert sorted(p.name for p in tmp_path.glob("m_*.keras")) == ["m_01.keras", "m_02.keras"]
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0] == "epoch,learning_rate,loss,val_learning_rate,val_loss" and len(lines) == 3  # Keras' header
    assert seen == pytest.approx([0.1, 0.05])
    reloaded = fk.models.load_model(tmp_path / "m_02.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)


def test_reduce_lr_on_plateau_and_best_only_checkpoint(tmp_path):
    x = RNG.standard_normal((32, 3)).astype(np.float32)
    m = _small()
    m.compile(optimizer=fk.optimizers.SGD(learning_rate=0.0), loss="mse")  # loss never improves
    rl = fk.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.0)
    m.optimizer.learning_rate = 0.0
    best = fk.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss", save_best_only=True)
    m.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[rl, best])
    assert (tmp_path / "best.keras").exists()
    m2 = _small()
    m2.optimizer.learning_rate = 1e-9
    rl2 = fk.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1.0)
    m2.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[rl2])
    assert m2.optimizer.learning_rate == pytest.approx(1e-9 / 4)


def test_class_weight_and_sample_weight_scale_the_loss():
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    y = np.array([0, 1] * 4, np.float32)[:, None]
    a, b = _small(), _small()
    la = a.train_on_batch(x, y)
    lb = b.train_on_batch(x, y, class_weight={0: 0.0, 1: 2.0})
    pred = _small().predict(x, verbose=0)
    per = ((pred - y) ** 2).ravel()
    assert la == pytest.approx(per.mean(), rel=1e-5)
    assert lb == pytest.approx((per * np.where(y.ravel() == 1, 2.0, 0.0)).mean(), rel=1e-5)


def test_summary_matches_keras_layout(capsys):
    ours = fk.Sequential([fk.layers.Dense(64, activation="relu", input_shape=(20,), name="d1"),
                          fk.layers.Dropout(0.5, name="drop"), fk.layers.Dense(10, name="d2")])
    theirs = keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu", name="d1"),
                               keras.layers.Dropout(0.5, name="drop"), keras.layers.Dense(10, name="d2")],
                              name=ours.name)
    ours.summary()
    mine = capsys.readouterr().out.splitlines()
    lines = []
    theirs.summary(print_fn=lambda s, **kw: lines.extend(s.splitlines()))
    strip = [ln.rstrip() for ln in lines if ln.strip()]
    assert [ln.rstrip() for ln in mine] == strip


def test_functional_model_with_two_inputs_and_outputs(tmp_path):
    a, b = fk.Input(shape=(6,)), fk.Input(shape=(4,))
    h = fk.layers.Dense(8, activation="relu")(a)
    out1 = fk.layers.Dense(1, activation="sigmoid", name="flag")(h)
    out2 = fk.layers.Dense(2, name="value")(fk.layers.Dense(5)(b))
    model = fk.Model(inputs=[a, b], outputs=[out1, out2])
    model.compile(optimizer="adam", loss={"flag": "binary_crossentropy", "value": "mse"},
                  metrics={"flag": ["accuracy"]})
    xa, xb = RNG.standard_normal((40, 6)).astype(np.float32), RNG.standard_normal((40, 4)).astype(np.float32)
    ya, yb = (xa[:, :1] > 0).astype(np.float32), xb[:, :2]
    hist = model.fit([xa, xb], [ya, yb], epochs=2, batch_size=8, verbose=0)
    assert "flag_accuracy" in hist.history
    p1, p2 = model.predict([xa, xb], verbose=0)
    assert p1.shape == (40, 1) and p2.shape == (40, 2)
    model.save(tmp_path / "f.keras")
    again = fk.models.load_model(tmp_path / "f.keras")
    for u, v in zip(again.predict([xa, xb], verbose=0), (p1, p2)):
        np.testing.assert_array_equal(u, v)
    assert again.optimizer.learning_rate == pytest.approx(0.001)


def test_clear_errors():
    m = fk.Sequential([fk.layers.Dense(2)])
    with pytest.raises(RuntimeError, match="compile"):
        m.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        m.compile(optimizer="sgd", loss="nope")
        m.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0)
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        m.compile(optimizer="adagradx", loss="mse")
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="cardinality"):
        m.fit(np.zeros((4, 3)), np.zeros((5, 2)), verbose=0)
    with pytest.raises(ValueError, match="units"):
        fk.layers.Dense(0)
    with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
        fk.layers.Dense(3, activation="swoosh")
    with pytest.raises(ValueError, match="not a model saved"):
        fastnn.save({"x": fastnn.ones(2)}, "/tmp/_fastnn_not_model.keras")
        fk.models.load_model("/tmp/_fastnn_not_model.keras")


def test_functional_summary_and_per_output_losses_match_keras(capsys):
    def build(lib):
        a, b = lib.Input((20,), name="a"), lib.Input((5,), name="b")
        h = lib.layers.Dense(8, name="h")(a)
        o1 = lib.layers.Dense(1, name="o1")(h)
        o2 = lib.layers.Dense(3, name="o2")(lib.layers.Dense(4, name="g")(b))
        m = lib.Model([a, b], [o1, o2], name="fm")
        m.compile(optimizer="sgd", loss=["mse", "mse"], metrics=[["mae"], ["mae"]])
        return m

    ours, theirs = build(fk), build(keras)
    ours.summary()
    mine = [ln.rstrip() for ln in capsys.readouterr().out.splitlines()]
    lines = []
    theirs.summary(print_fn=lambda s, **kw: lines.extend(s.splitlines()))
    assert mine == [ln.rstrip() for ln in lines if ln.strip()]
    data = ([np.zeros((8, 20)), np.zeros((8, 5))], [np.ones((8, 1)), np.ones((8, 3))])
    hist = ours.fit(*data, verbose=0)
    assert set(hist.history) == set(theirs.fit(*data, verbose=0).history)
    assert hist.history["loss"][0] == pytest.approx(hist.history["o1_loss"][0] + hist.history["o2_loss"][0])


def test_fit_accepts_fastnn_datasets_and_loaders():
    from fastnn.data import DataLoader, TensorDataset

    x = RNG.standard_normal((50, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    m = _small()
    hist = m.fit(TensorDataset(x, y), epochs=2, batch_size=10, verbose=0)
    assert len(hist.history["loss"]) == 2
    m.fit(DataLoader(TensorDataset(x, y), batch_size=25), epochs=1, verbose=0,
          validation_data=TensorDataset(x, y))
    assert isinstance(m.evaluate(TensorDataset(x, y), verbose=0), float)
    assert m.predict(TensorDataset(x), batch_size=7, verbose=0).shape == (50, 1)
    with pytest.raises(ValueError, match="not supported"):
        m.fit(TensorDataset(x, y), y, verbose=0)
