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


# ---- layers on the device compute what they compute on the CPU ------------------------------------------------
def _r(*shape):
    return np.random.default_rng(sum(shape)).normal(size=shape).astype("float32")


def _seq():
    return _r(2, 5, 4)


def _img():
    return _r(2, 6, 6, 3)


LAYERS = {  # name: (make the layer, make the input); random layers are seeded, so both devices draw alike
    "dropout_noise_shape": (lambda: L.Dropout(0.3, noise_shape=(None, 1, 4), seed=3), _seq),
    "spatial_dropout": (lambda: L.SpatialDropout2D(0.3, seed=7), _img),
    "gaussian_noise": (lambda: L.GaussianNoise(0.2, seed=5), _seq),
    "alpha_dropout": (lambda: L.AlphaDropout(0.2, seed=1), _seq),
    "attention": (lambda: L.Attention(dropout=0.2, seed=2), lambda: [_seq(), _seq()]),
    "gru_dropouts": (lambda: L.GRU(3, dropout=0.2, recurrent_dropout=0.2, seed=4), _seq),
    "lstm_states": (lambda: L.LSTM(3, return_sequences=True, return_state=True, dropout=0.3, seed=2), _seq),
    "bidirectional": (lambda: L.Bidirectional(L.GRU(3, return_sequences=True)), _seq),
    "stacked_cells": (lambda: L.RNN(L.StackedRNNCells([L.LSTMCell(3), L.GRUCell(2)])), _seq),
    "conv_lstm": (lambda: L.ConvLSTM2D(2, 3, padding="same"), lambda: _r(1, 3, 5, 5, 2)),
    "embedding_masked": (lambda: L.Embedding(10, 3, mask_zero=True), lambda: np.array([[1, 2, 0], [3, 0, 0]])),
    "masking": (lambda: L.Masking(0.0), lambda: np.concatenate([_seq(), np.zeros((2, 1, 4), "float32")], 1)),
    "hashing": (lambda: L.Hashing(5), lambda: np.array([[1, 2], [3, 4]])),
    "integer_lookup": (lambda: L.IntegerLookup(vocabulary=[1, 2, 3]), lambda: np.array([[1, 2], [3, 4]])),
    "category_encoding": (lambda: L.CategoryEncoding(5, output_mode="multi_hot"), lambda: np.array([[1, 2], [3, 4]])),
    "random_hue": (lambda: L.RandomHue(0.3, (0, 255), seed=1), lambda: np.abs(_img())),
    "random_rotation": (lambda: L.RandomRotation(0.2, seed=1), _img),
    "normalization": (lambda: L.Normalization(mean=0.5, variance=2.0), _seq),
    "regularized_dense": (lambda: L.Dense(3, kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02),
                                          activity_regularizer="l2"), _seq),
    "concatenate_host": (lambda: L.Concatenate(), lambda: [_seq(), _seq()]),
    "einsum_dense": (lambda: L.EinsumDense("abc,cd->abd", (5, 3), bias_axes="d"), _seq),
    "batch_norm": (lambda: L.BatchNormalization(), _img),
    "separable_conv": (lambda: L.SeparableConv2D(3, 3), _img),
    "upsampling_bilinear": (lambda: L.UpSampling2D(2, interpolation="bilinear"), _img),
}


def _flat(o):
    return [np.asarray(v) for v in o] if isinstance(o, (list, tuple)) else [np.asarray(o)]


def _placed(x, device):
    return [_placed(v, device) for v in x] if isinstance(x, list) else fastnn.tensor(x, device=device)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_on_the_device_matches_the_cpu(name):
    make, data = LAYERS[name]
    x = data()
    results = {}
    for device in ("cpu", "cuda"):
        fastnn.manual_seed(0)
        keras.utils.set_random_seed(0)
        with keras.device(device):
            layer = make()
            outs = [layer(_placed(x, device), training=training) for training in (False, True)]
            losses = [float(v) for v in layer.losses]
        assert {w.device for w in layer.weights} <= {fastnn.device(device)}
        for out in outs:
            for o in (out if isinstance(out, (list, tuple)) else [out]):
                assert o.device == fastnn.device(device)
        results[device] = ([_flat(o) for o in outs], losses)
    (cpu_outs, cpu_losses), (dev_outs, dev_losses) = results["cpu"], results["cuda"]
    for a, b in zip(cpu_outs, dev_outs):
        for u, v in zip(a, b):
            np.testing.assert_allclose(v, u, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=1e-4, atol=1e-6)


def test_a_model_with_a_host_preprocessing_layer_trains_on_the_device():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, size=(32, 4))
    y = rng.integers(0, 2, size=(32,))
    with keras.device("cuda"):
        model = keras.Sequential([keras.Input((4,), dtype="int64"), L.Hashing(8), L.Embedding(8, 3),
                                  L.GlobalAveragePooling1D(), L.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # fit outside the scope: the host layer's ids are made on the model's device while it runs
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(x, verbose=0).shape == (32, 2)
    assert {w.device for w in model.weights} == {CUDA}


def test_a_second_device(two_cuda):
    second = fastnn.device("cuda:1")
    x, y = _data((8,), 16)
    with keras.device("gpu:1"):
        assert device_scope.get_device() == second
        model = _mlp()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert _devices_of_state(model) == {second}
    assert model.predict(x, verbose=0).shape == (16, 3)
    with keras.device("cuda:0"):  # predict runs on the model's device whatever the current one
        assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "accuracy"}
