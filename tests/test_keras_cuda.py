"""fastnn.keras on a CUDA device, as Keras 3 on torch runs on the GPU: ``keras.device`` scopes choose where
weights, optimizer and metric variables, seed generators and created tensors live; fit / evaluate / predict
move each batch to the model's device and predict answers with host arrays; save / load work from and to a
device model. Each model trains on the CPU and on the device from the same seeds and must give the same
losses, metrics, weights and predictions.

CI runs these on the emulated device (tests/conftest.py sets FASTNN_CUDA=emulate), where Keras' default
stays the CPU (so the rest of the Keras suite is unmoved) and these tests opt in with
``keras.device("cuda")``; on a GPU machine they run on the GPU."""
import numpy as np
import pytest

import fastnn
from fastnn import keras
from fastnn.backend.cuda import runtime
from fastnn.data import DataLoader, TensorDataset
from fastnn.keras import device_scope

L = keras.layers
CUDA = fastnn.device("cuda")
CPU = fastnn.device("cpu")

pytestmark = pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")


def _mlp():
    return keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])


def _cnn():
    i = keras.Input((8, 8, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu")(i)
    h = L.BatchNormalization()(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Flatten()(h)
    h = L.Dropout(0.3, seed=7)(h)  # a seeded layer: the same masks on every device
    return keras.Model(i, L.Dense(3, activation="softmax")(h))


def _lstm():
    return keras.Sequential([keras.Input((5, 4)), L.LSTM(6), L.Dense(3, activation="softmax")])


def _mha():
    i = keras.Input((6, 8))
    a = L.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1, seed=3)(i, i)
    h = L.LayerNormalization()(a + i)
    h = L.GlobalAveragePooling1D()(h)
    return keras.Model(i, L.Dense(3, activation="softmax")(h))


MODELS = {"mlp": (_mlp, (8,)), "cnn": (_cnn, (8, 8, 2)), "lstm": (_lstm, (5, 4)), "mha": (_mha, (6, 8))}


def _data(shape, n=48):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n,) + shape).astype("float32"), rng.integers(0, 3, n)


def _train(name, device):
    """The model trained for 3 epochs on ``device`` from fixed seeds: (model, history, eval, predictions)."""
    make, shape = MODELS[name]
    x, y = _data(shape)
    fastnn.manual_seed(0)
    keras.utils.set_random_seed(0)
    with keras.device(device):
        model = make()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
        evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
        predicted = model.predict(x, verbose=0)
    return model, history.history, evaluated, predicted


def _devices_of_state(model):
    found = {w.device for w in model.weights}
    found |= {v.device for v in model.optimizer.variables}
    for m in model.metrics:
        found |= {v.device for v in getattr(m, "variables", [])}
    for _, _, metric, _ in model._compile_metrics.entries:
        found |= {v.device for v in metric.variables}
    return found


# ---- the current device ----------------------------------------------------------------------------------
def test_default_device_and_scopes():
    default = device_scope.default_device()
    if runtime.emulated():
        assert default == CPU  # the emulated device is never Keras' default: the Keras suite stays on the CPU
    else:
        assert default == CUDA
    with keras.device("cuda") as d:
        assert d == CUDA and device_scope.get_device() == CUDA
        with keras.device("cpu"):
            assert device_scope.get_device() == CPU
        assert device_scope.get_device() == CUDA
    with keras.device("gpu:0"):  # TensorFlow's spelling
        assert device_scope.get_device() == CUDA
    assert device_scope.get_device() == default
    with pytest.raises(RuntimeError):
        with keras.device(f"cuda:{fastnn.cuda.device_count()}"):
            pass
    with pytest.raises(ValueError):
        with keras.device("tpu"):
            pass
    with pytest.raises(ValueError):
        with keras.device(0):
            pass
    assert device_scope.get_device() == default


def test_created_tensors_follow_the_scope():
    for device in (CPU, CUDA):
        with keras.device(str(device)):
            made = [keras.ops.zeros((2, 3)), keras.ops.ones(3), keras.ops.arange(4), keras.ops.full((2,), 1.5),
                    keras.ops.eye(3), keras.ops.linspace(0.0, 1.0, 5), keras.ops.empty((2,)),
                    keras.ops.convert_to_tensor([1.0, 2.0]), keras.ops.convert_to_tensor(np.ones((2, 2))),
                    keras.random.normal((2, 2), seed=1), keras.random.uniform((3,), seed=keras.random.SeedGenerator(2)),
                    keras.random.randint((4,), 0, 5, seed=3), keras.random.SeedGenerator(5).state,
                    keras.initializers.GlorotUniform(seed=1)((3, 4)), keras.ops.hamming(5)]
            assert [t.device for t in made] == [device] * len(made)
            # host operands meet a tensor where it is
            assert keras.ops.add(made[0], 1.0).device == device
            assert keras.ops.multiply(np.ones((2, 3), "float32"), made[0]).device == device
            assert keras.ops.where(made[0] > 0, made[0], 2.0).device == device
    # draws with the same seed are the same on both devices
    with keras.device("cuda"):
        on_device = keras.random.normal((3, 2), seed=11)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(on_device),
                                  keras.ops.convert_to_numpy(keras.random.normal((3, 2), seed=11)))


def test_host_views_of_device_tensors():
    with keras.device("cuda"):
        t = keras.ops.arange(6, dtype="float32") * 2.0
    assert t.device == CUDA
    out = keras.ops.convert_to_numpy(t)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, np.arange(6, dtype="float32") * 2)
    np.testing.assert_array_equal(np.asarray(t), out)


# ---- training on the device gives the CPU's numbers ----------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_training_matches_the_cpu(name):
    cpu_model, cpu_hist, cpu_eval, cpu_pred = _train(name, "cpu")
    dev_model, dev_hist, dev_eval, dev_pred = _train(name, "cuda")
    assert _devices_of_state(cpu_model) == {CPU}
    assert _devices_of_state(dev_model) == {CUDA}  # weights, optimizer slots and counters, metric state
    assert set(dev_hist) == {"loss", "accuracy"} == set(cpu_hist)
    for key in cpu_hist:
        np.testing.assert_allclose(dev_hist[key], cpu_hist[key], rtol=1e-4, atol=1e-5, err_msg=key)
    for key in cpu_eval:
        np.testing.assert_allclose(dev_eval[key], cpu_eval[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert type(dev_pred) is np.ndarray and dev_pred.shape == cpu_pred.shape
    np.testing.assert_allclose(dev_pred, cpu_pred, rtol=1e-4, atol=1e-5)
    for a, b in zip(dev_model.get_weights(), cpu_model.get_weights()):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_batches_of_every_kind_reach_the_device():
    x, y = _data((8,), 32)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]

    def generator():
        for i in range(4):
            yield [x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]]

    seen = []

    class Probe(keras.layers.Layer):
        def call(self, inputs):
            seen.append(inputs.device)
            return inputs

    with keras.device("cuda"):
        model = keras.Sequential([keras.Input((8,)), Probe(), L.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # outside the scope: the batches follow the model's weights
    loader = DataLoader(TensorDataset(fastnn.tensor(x), fastnn.tensor(y)), batch_size=8)
    model.fit(loader, epochs=1, verbose=0)
    model.fit(Batches(), epochs=1, verbose=0)
    model.fit(generator(), epochs=1, steps_per_epoch=4, verbose=0)
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, class_weight={0: 1.0, 1: 2.0, 2: 1.0})
    model.fit(x, y, sample_weight=np.ones(32), epochs=1, verbose=0, validation_data=(x, y))
    model.evaluate(Batches(), verbose=0)
    assert model.predict(loader, verbose=0).shape == (32, 3)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    model.test_on_batch(x, y)
    assert type(model.predict_on_batch(x)) is np.ndarray
    assert seen and set(seen) == {CUDA}

    with keras.device("cuda"):  # named inputs given as a dict
        a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
        two = keras.Model([a, b], L.Dense(3, activation="softmax")(L.Concatenate()([L.Dense(4)(a), L.Dense(4)(b)])))
        two.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = two.fit({"a": x, "b": x}, y, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert two.predict({"a": x, "b": x}, verbose=0).shape == (32, 3)
    assert {w.device for w in two.weights} == {CUDA}


def test_unbuilt_models_build_on_the_scope_device():
    x, y = _data((8,), 16)
    with keras.device("cuda"):
        model = keras.Sequential([L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)

        class Small(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = L.Dense(3)

            def call(self, inputs):
                return self.dense(inputs)

        sub = Small()
        sub.compile(optimizer="sgd", loss="mse")
        sub.fit(x, np.zeros((16, 3), "float32"), epochs=1, verbose=0)
    assert {w.device for w in model.weights} == {CUDA} == {w.device for w in sub.weights}
    assert {v.device for v in sub.optimizer.variables} == {CUDA}


def test_an_optimizer_made_outside_the_scope_keeps_its_state_beside_the_weights():
    x, y = _data((8,), 16)
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    assert optimizer.iterations.device == device_scope.get_device()
    with keras.device("cuda"):
        model = _mlp()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    assert {v.device for v in optimizer.variables} == {CUDA}
    assert int(optimizer.iterations.item()) == 2


def test_save_and_load_from_a_device_model(tmp_path):
    model, _, _, predicted = _train("cnn", "cuda")
    x, y = _data(MODELS["cnn"][1])
    path = tmp_path / "model.keras"
    model.save(path)
    with keras.device("cuda"):
        again = keras.models.load_model(path)
    assert {w.device for w in again.weights} == {CUDA}
    np.testing.assert_allclose(again.predict(x, verbose=0), predicted, rtol=1e-5, atol=1e-6)
    again.fit(x, y, epochs=1, verbose=0)  # compiled again on the device: it trains there
    assert _devices_of_state(again) == {CUDA}

    on_cpu = keras.models.load_model(path)  # loaded outside the scope: on the default device
    assert {w.device for w in on_cpu.weights} == {device_scope.get_device()}
    np.testing.assert_allclose(on_cpu.predict(x, verbose=0), predicted, rtol=1e-4, atol=1e-5)

    weights = tmp_path / "model.weights.h5"
    model.save_weights(weights)
    with keras.device("cuda"):
        fresh = _cnn()
    fresh.load_weights(weights)
    assert {w.device for w in fresh.weights} == {CUDA}
    np.testing.assert_allclose(fresh.predict(x, verbose=0), predicted, rtol=1e-5, atol=1e-6)
