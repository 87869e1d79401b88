"""Keras 3's custom-training recipes ("Customizing what happens in fit() with PyTorch") run on fastnn by
changing imports, and give Keras' numbers: the same programs run under keras (torch backend) and
fastnn.keras from the same weights, data and batch order, and their histories and weights agree."""
from __future__ import annotations

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND before keras is imported)
import numpy as np
import pytest

import fastnn
import fastnn.keras as fk
from op_helpers import assert_close

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.random((64, 8)).astype(np.float32)
Y = RNG.random((64, 1)).astype(np.float32)
SW = RNG.uniform(0.2, 2.0, 64).astype(np.float32)


def _guide_model_v1(K, T):
    """The guide's first program: compile(loss, metrics), train_step with compute_loss, optimizer.apply,
    self.metrics."""

    class CustomModel(K.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with T.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = K.Input(shape=(8,))
    outputs = K.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def _guide_model_v2(K, T):
    """The guide's lower-level program: no compiled loss, the model's own metrics and a `metrics` property."""

    class CustomModel(K.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = K.metrics.Mean(name="loss")
            self.mae_metric = K.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = K.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with T.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    inputs = K.Input(shape=(8,))
    outputs = K.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam")
    return model


def _guide_model_sample_weight(K, T):
    """The guide's sample_weight variant: data arrives as (x, y, sample_weight)."""

    class CustomModel(K.Model):
        def train_step(self, data):
            x, y, sample_weight = data if len(data) == 3 else (*data, None)
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with T.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred, sample_weight=sample_weight)
            return {m.name: m.result() for m in self.metrics}

    inputs = K.Input(shape=(8,))
    outputs = K.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def _twins(make):
    theirs, ours = make(keras, torch), make(fk, fastnn)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _same_history(h_ours, h_theirs, rtol=1e-4):
    assert set(h_ours) == set(h_theirs), (sorted(h_ours), sorted(h_theirs))
    for k in h_theirs:
        assert_close(np.array(h_ours[k]), np.array(h_theirs[k]), rtol=rtol, atol=1e-6, msg=k)


@pytest.mark.parametrize("make", [_guide_model_v1, _guide_model_v2])
def test_custom_train_step_programs_match_keras(make):
    ours, theirs = _twins(make)
    h_theirs = theirs.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    h_ours = ours.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    _same_history(h_ours, h_theirs)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_custom_train_step_with_sample_weight_matches_keras():
    ours, theirs = _twins(_guide_model_sample_weight)
    h_theirs = theirs.fit(X, Y, sample_weight=SW, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    h_ours = ours.fit(X, Y, sample_weight=SW, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    _same_history(h_ours, h_theirs)


def test_train_step_override_is_not_ignored():
    calls = []

    class Counting(fk.Sequential):
        def train_step(self, data):
            calls.append(len(data))
            return {"custom": 1.0}

    model = Counting([fk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    assert calls == [2, 2, 2, 2] and hist.history == {"custom": [1.0, 1.0]}


def _custom_test_step(K, T):
    class CustomModel(K.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name != "loss":
                    metric.update_state(y, y_pred)
                else:
                    metric.update_state(loss)
            return {m.name: m.result() for m in self.metrics}

    inputs = K.Input(shape=(8,))
    outputs = K.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(loss="mse", metrics=["mae"])
    return model


def test_custom_test_step_and_evaluate_return_dict_match_keras():
    ours, theirs = _twins(_custom_test_step)
    a = ours.evaluate(X, Y, batch_size=16, verbose=0, return_dict=True)
    b = theirs.evaluate(X, Y, batch_size=16, verbose=0, return_dict=True)
    assert set(a) == set(b) == {"loss", "mae"}
    for k in b:
        assert a[k] == pytest.approx(float(b[k]), rel=1e-5)
    assert ours.evaluate(X, Y, batch_size=16, verbose=0) == pytest.approx(
        [float(v) for v in theirs.evaluate(X, Y, batch_size=16, verbose=0)], rel=1e-5)


def _compute_loss_override(K, T):
    class CustomModel(K.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            return loss + 0.1 * K.ops.mean(K.ops.abs(y_pred))

    inputs = K.Input(shape=(8,))
    outputs = K.layers.Dense(1)(inputs)
    model = CustomModel(inputs, outputs)
    model.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
    return model


def test_compute_loss_override_is_used_by_fit():
    ours, theirs = _twins(_compute_loss_override)
    _same_history(ours.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0).history,
                  theirs.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0).history)


def _regularized(K, T):
    model = K.Sequential([K.Input(shape=(8,)),
                          K.layers.Dense(6, activation="relu", kernel_regularizer=K.regularizers.L2(0.05),
                                         activity_regularizer=K.regularizers.L1(0.01)),
                          K.layers.Dense(1, kernel_constraint=K.constraints.MaxNorm(0.5),
                                         bias_regularizer="l1")])
    model.compile(optimizer=K.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    return model


def test_regularizers_and_constraints_in_fit_match_keras():
    ours, theirs = _twins(_regularized)
    _same_history(ours.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0).history,
                  theirs.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0).history)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert len(ours.losses) == len(theirs.losses) == 3


def test_add_loss_in_a_custom_layer_matches_keras():
    def make(K, T):
        class ActivityPenalty(K.layers.Layer):
            def call(self, inputs):
                self.add_loss(0.01 * K.ops.sum(K.ops.square(inputs)))
                return inputs

        model = K.Sequential([K.Input(shape=(8,)), K.layers.Dense(4), ActivityPenalty(), K.layers.Dense(1)])
        model.compile(optimizer=K.optimizers.SGD(0.05), loss="mse")
        return model

    ours, theirs = _twins(make)
    _same_history(ours.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0).history,
                  theirs.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0).history)


def test_metrics_property_and_names():
    model = fk.Sequential([fk.Input(shape=(8,)), fk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    model.fit(X, Y, sample_weight=SW, epochs=1, batch_size=32, verbose=0)
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    logs = model.evaluate(X, Y, sample_weight=SW, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mae", "weighted_mae"]
    assert logs["mae"] != pytest.approx(logs["weighted_mae"])  # only weighted_metrics see the weights


class _Batches:
    """A keras.utils.PyDataset-like object: len() batches and ds[i]."""

    def __init__(self, x, y, batch):
        self.x, self.y, self.batch = x, y, batch
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        sl = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[sl], self.y[sl]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_on_an_indexed_dataset_and_on_a_generator_equals_fit_on_arrays():
    def fresh():
        m = fk.Sequential([fk.Input(shape=(8,)), fk.layers.Dense(1)])
        m.compile(optimizer=fk.optimizers.SGD(0.1), loss="mse")
        m.set_weights([np.full((8, 1), 0.1, np.float32), np.zeros(1, np.float32)])
        return m

    ref = fresh().fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0).history["loss"]
    ds = _Batches(X, Y, 16)
    got = fresh().fit(ds, epochs=2, shuffle=False, verbose=0).history["loss"]
    assert got == pytest.approx(ref, rel=1e-6) and ds.epochs_ended == 2

    def endless():
        while True:
            for i in range(4):
                yield X[i * 16:(i + 1) * 16], Y[i * 16:(i + 1) * 16]

    got = fresh().fit(endless(), steps_per_epoch=4, epochs=2, verbose=0).history["loss"]
    assert got == pytest.approx(ref, rel=1e-6)
    with pytest.raises(ValueError, match="`y` argument is not supported"):
        fresh().fit(ds, Y)


def test_class_weight_with_sample_weight_is_refused_as_keras():
    model = fk.Sequential([fk.Input(shape=(8,)), fk.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(X, Y, sample_weight=SW, class_weight={0: 1.0}, verbose=0)


def test_training_flag_reaches_nested_layers_through_a_custom_call():
    seen = []

    class Probe(fk.layers.Layer):
        def call(self, inputs, training=None):
            seen.append(training)
            return inputs

    class Outer(fk.Model):
        def __init__(self):
            super().__init__()
            self.probe = Probe()
            self.dense = fk.layers.Dense(1)

        def call(self, x):  # passes no training to its layers: they inherit the outer call's value
            return self.dense(self.probe(x))

    model = Outer()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X[:8], Y[:8], batch_size=8, epochs=1, verbose=0)
    model.predict(X[:8], verbose=0)
    assert True in seen and seen[-1] is False
