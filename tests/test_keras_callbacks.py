"""keras.callbacks against Keras 3.15: signatures and defaults, TerminateOnNaN, BackupAndRestore (backup,
resume, delete), SwapEMAWeights' errors and swap, TensorBoard event files, RemoteMonitor against a local HTTP
server, and the CallbackList / LambdaCallback / ProgbarLogger forms Keras has."""
import http.server
import inspect
import json
import threading
import urllib.parse

import numpy as np
import pytest

import keras_helpers  # noqa: F401  (KERAS_BACKEND=torch before keras)
import fastnn
from fastnn import keras as fk

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.torch

CALLBACKS = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
             "ReduceLROnPlateau", "CSVLogger", "LearningRateScheduler", "LambdaCallback", "TerminateOnNaN",
             "BackupAndRestore", "SwapEMAWeights", "RemoteMonitor"]


@pytest.mark.parametrize("name", CALLBACKS + ["TensorBoard"])
def test_constructor_signature_matches_keras(name):
    ours = inspect.signature(getattr(fk.callbacks, name).__init__)
    theirs = inspect.signature(getattr(keras.callbacks, name).__init__)
    strip = [(p.name, p.kind, p.default) for p in theirs.parameters.values()]
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == strip


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)).astype(np.float32)


def _model():
    fastnn.manual_seed(0)
    m = fk.Sequential([fk.Input((4,)), fk.layers.Dense(1)])
    m.compile(optimizer=fk.optimizers.SGD(0.05), loss="mse")
    return m


def test_terminate_on_nan_stops_training_and_can_raise(capsys):
    x, y = _data()
    y[3] = np.nan
    model = _model()
    hist = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[fk.callbacks.TerminateOnNaN()])
    assert len(hist.epoch) == 1 and "Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 0"):
        model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[fk.callbacks.TerminateOnNaN(raise_error=True)])
    with pytest.raises(RuntimeError, match=r"Loss value: inf"):  # Keras' hook runs on its own, too
        fk.callbacks.TerminateOnNaN(True).on_train_batch_end(2, {"loss": float("inf")})


class _Interrupt(fk.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_from_the_backup_and_deletes_it(tmp_path):
    x, y = _data()
    backup = tmp_path / "backup"
    # the uninterrupted run, for reference
    ref = _model()
    ref.fit(x, y, epochs=4, batch_size=16, verbose=0, shuffle=False)
    # interrupted after two epochs: the backup holds epoch 2's weights
    model = _model()
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(x, y, epochs=4, batch_size=16, verbose=0, shuffle=False,
                  callbacks=[fk.callbacks.BackupAndRestore(backup), _Interrupt(2)])
    assert json.loads((backup / "training_metadata.json").read_text()) == {"epoch": 2, "batch": 0}
    assert (backup / "latest.weights.h5").exists()
    # a fresh model resumes at epoch 2 from the backup and ends where the uninterrupted run did
    resumed = _model()
    hist = resumed.fit(x, y, epochs=4, batch_size=16, verbose=0, shuffle=False,
                       callbacks=[fk.callbacks.BackupAndRestore(backup)])
    assert hist.epoch == [2, 3]
    for a, b in zip(resumed.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not backup.exists()  # deleted when training ended normally


def test_backup_and_restore_batch_frequency_double_checkpoint_and_errors(tmp_path):
    x, y = _data()
    backup = tmp_path / "b"
    model = _model()
    cb = fk.callbacks.BackupAndRestore(backup, save_freq=3, double_checkpoint=True, delete_checkpoint=False)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[cb])  # 8 batches: saved after batches 2 and 5
    assert json.loads((backup / "training_metadata.json").read_text()) == {"epoch": 0, "batch": 5}
    assert json.loads((backup / "training_metadata.json.bkp").read_text()) == {"epoch": 0, "batch": 2}
    # a corrupt latest backup falls back on the previous one
    (backup / "latest.weights.h5").write_bytes(b"not a weights file")
    other = _model()
    other(x[:1])
    other.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[fk.callbacks.BackupAndRestore(backup)])
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        fk.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="Invalid value for argument `save_freq`"):
        fk.callbacks.BackupAndRestore(backup, save_freq="batch")
    with pytest.raises(ValueError, match="Invalid value for argument `save_freq`"):
        keras.callbacks.BackupAndRestore(str(backup), save_freq="batch")


class _EMAOptimizer:
    """The two attributes Keras' SwapEMAWeights reads from an optimizer made with use_ema=True."""

    use_ema = True

    def __init__(self, variables, averages):
        self._trainable_variables = variables
        self._model_variables_moving_average = averages


def test_swap_ema_weights_needs_an_ema_optimizer_and_swaps_for_evaluation():
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    cb = fk.callbacks.SwapEMAWeights()
    cb.set_model(model)
    with pytest.raises(ValueError, match="SwapEMAWeights must be used when `use_ema=True` is set on the optimizer"):
        cb.on_test_begin()
    kernel = model.layers[0].kernel
    before = kernel.detach().numpy().copy()
    average = fastnn.zeros(*kernel.shape)
    model.optimizer = _EMAOptimizer([kernel], [average])
    cb.on_test_begin()
    np.testing.assert_array_equal(kernel.detach().numpy(), 0.0)
    np.testing.assert_array_equal(average.numpy(), before)
    cb.on_test_end()
    np.testing.assert_array_equal(kernel.detach().numpy(), before)
    np.testing.assert_array_equal(average.numpy(), 0.0)


def test_tensorboard_writes_scalars_or_names_its_missing_writer(tmp_path):
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs the `tensorboardX` package"):
            fk.callbacks.TensorBoard(tmp_path)
        return
    x, y = _data()
    model = _model()
    tb = fk.callbacks.TensorBoard(tmp_path, update_freq=2, histogram_freq=1)
    hist = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25, callbacks=[tb])
    train, val = _scalars(tmp_path / "train"), _scalars(tmp_path / "validation")
    assert {"epoch_loss", "epoch_learning_rate", "batch_loss"} <= set(train)
    assert [step for step, _ in train["epoch_loss"]] == [0, 1]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], hist.history["loss"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in val["epoch_loss"]], hist.history["val_loss"], rtol=1e-6)
    assert [step for step, _ in train["batch_loss"]] == [2, 4, 6]  # 3 batches an epoch, every 2nd global batch


def _scalars(folder):
    """{tag: [(step, value)]} of the event files in ``folder``: TFRecord frames of Event protos."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    out = {}
    for path in sorted(folder.iterdir()):
        data, pos = path.read_bytes(), 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for v in event.summary.value:
                if v.HasField("simple_value"):
                    out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out


def test_tensorboard_refuses_what_it_does_not_write(tmp_path):
    pytest.importorskip("tensorboardX")
    with pytest.raises(ValueError, match="Profiling is not yet available"):
        fk.callbacks.TensorBoard(tmp_path, profile_batch=2)
    with pytest.raises(NotImplementedError, match="embedding"):
        fk.callbacks.TensorBoard(tmp_path, embeddings_freq=1)


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], self.headers.get("X-Token"), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Recorder.received = []
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_remote_monitor_posts_each_epoch_as_form_or_json(server):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[fk.callbacks.RemoteMonitor(root=server)])
    assert len(_Recorder.received) == 2
    path, ctype, _, body = _Recorder.received[1]
    assert path == "/publish/epoch/end/" and ctype == "application/x-www-form-urlencoded"
    sent = json.loads(urllib.parse.parse_qs(body.decode())["data"][0])
    assert sent["epoch"] == 1 and isinstance(sent["loss"], float)
    cb = fk.callbacks.RemoteMonitor(root=server, path="/p", send_as_json=True, headers={"X-Token": "t"})
    cb.on_epoch_end(3, {"loss": np.float32(0.5), "acc": fastnn.tensor(0.25)})
    path, ctype, token, body = _Recorder.received[-1]
    assert (path, ctype, token) == ("/p", "application/json", "t")
    assert json.loads(body) == {"epoch": 3, "loss": 0.5, "acc": 0.25}


def test_remote_monitor_warns_when_the_server_is_unreachable():
    cb = fk.callbacks.RemoteMonitor(root="http://127.0.0.1:9")
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server at http://127.0.0.1:9"):
        cb.on_epoch_end(0, {"loss": 1.0})


def test_callback_list_lambda_callback_and_batch_hooks_as_keras():
    seen = []
    lam = fk.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(("epoch", e)),
                                      on_test_end=lambda logs: seen.append("test"))
    cl = fk.callbacks.CallbackList([lam], add_history=True, add_progbar=True, model="m", epochs=3, verbose=0)
    kinds = [type(c).__name__ for c in cl.callbacks]
    theirs = keras.callbacks.CallbackList([keras.callbacks.LambdaCallback()], add_history=True, add_progbar=True)
    assert kinds == [type(c).__name__ for c in theirs.callbacks]
    assert all(c.model == "m" and c.params == {"epochs": 3, "verbose": 0} for c in cl.callbacks)
    cl.on_train_begin()
    cl.on_epoch_end(1, {})
    cl.on_test_end()
    assert seen == [("epoch", 1), "test"]

    class Batches(fk.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.batches = []

        def on_batch_end(self, batch, logs=None):  # Keras' older hook runs for training batches
            self.batches.append(batch)

    b = Batches()
    x, y = _data(32)
    _model().fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[b])
    assert b.batches == [0, 1, 2, 3]


def test_progbar_logger_prints_epochs_and_the_final_line(capsys):
    x, y = _data()
    _model().fit(x, y, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[1].startswith("4/4 - ") and " - loss: " in out[1] and len(out) == 4


def test_model_checkpoint_saves_every_n_batches_and_names_the_batch(tmp_path, capsys):
    x, y = _data()
    model = _model()
    ckpt = fk.callbacks.ModelCheckpoint(str(tmp_path / "ck" / "e{epoch}_b{batch}.weights.h5"), save_freq=3,
                                        save_weights_only=True, verbose=1)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[ckpt])  # 4 batches an epoch: every 3rd batch
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["e1_b3.weights.h5", "e2_b2.weights.h5"]
    assert "Epoch 1: saving model to" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Unrecognized save_freq: batch"):
        fk.callbacks.ModelCheckpoint("m.keras", save_freq="batch")
    with pytest.raises(ValueError, match="Unrecognized save_freq: batch"):
        keras.callbacks.ModelCheckpoint("m.keras", save_freq="batch")
    best = fk.callbacks.ModelCheckpoint(str(tmp_path / "b.keras"), monitor="nope", save_best_only=True)
    with pytest.warns(UserWarning, match="Can save best model only with nope available"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[best])
    assert (tmp_path / "b.keras").exists()  # saved anyway, as Keras does
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[fk.callbacks.ModelCheckpoint(str(tmp_path / "{nokey}"))])


def test_csv_logger_writes_the_file_keras_writes(tmp_path):
    epochs = [{"loss": 0.5, "acc": 0.25}, {"loss": 0.25, "acc": 0.5, "val_loss": 0.75}]
    for name, cls in (("ours", fk.callbacks.CSVLogger), ("theirs", keras.callbacks.CSVLogger)):
        for append in (False, True):
            cb = cls(str(tmp_path / f"{name}.csv"), separator=";", append=append)
            cb.on_train_begin()
            for e, logs in enumerate(epochs):
                cb.on_epoch_end(e, dict(logs))
            cb.on_train_end()
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "theirs.csv").read_bytes()


def test_learning_rate_scheduler_takes_both_schedule_forms_and_checks_floats():
    x, y = _data()
    model = _model()
    seen = []
    sched = fk.callbacks.LearningRateScheduler(lambda epoch: seen.append(epoch) or 0.5 ** epoch)
    hist = model.fit(x, y, epochs=2, verbose=0, callbacks=[sched])
    assert seen == [0, 1] and hist.history["learning_rate"] == [1.0, 0.5]
    for cls in (fk.callbacks.LearningRateScheduler, keras.callbacks.LearningRateScheduler):
        cb = cls(lambda epoch, lr: 1)
        cb.set_model(model if cls is fk.callbacks.LearningRateScheduler else _keras_model())
        with pytest.raises(ValueError, match="The output of the `schedule` function should be a float. Got: 1"):
            cb.on_epoch_begin(0)


def _keras_model():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    return m


def test_missing_monitor_warnings_read_as_keras():
    model = _model()
    pairs = [(fk.callbacks.EarlyStopping, keras.callbacks.EarlyStopping),
             (fk.callbacks.ReduceLROnPlateau, keras.callbacks.ReduceLROnPlateau)]
    for ours_cls, theirs_cls in pairs:
        messages = []
        for cb, m in ((ours_cls(monitor="nope", mode="min"), model), (theirs_cls(monitor="nope", mode="min"),
                                                                       _keras_model())):
            cb.set_model(m)
            cb.on_train_begin()
            with pytest.warns(UserWarning) as record:
                cb.on_epoch_end(0, {"loss": 1.0})
            messages.append([str(r.message) for r in record if "conditioned on metric" in str(r.message)])
        assert messages[0] == messages[1] and len(messages[0]) == 1


def test_unknown_mode_falls_back_to_auto_with_keras_warning():
    for cls in (fk.callbacks.EarlyStopping, keras.callbacks.EarlyStopping, fk.callbacks.ReduceLROnPlateau,
                keras.callbacks.ReduceLROnPlateau):
        with pytest.warns(UserWarning, match=f"{cls.__name__} mode 'sideways' is unknown, fallback to auto mode."):
            assert cls(mode="sideways").mode == "auto"


def test_swap_ema_weights_evaluates_with_an_ema_optimizers_averages():
    x, y = _data()
    fastnn.manual_seed(0)
    model = fk.Sequential([fk.Input((4,)), fk.layers.Dense(1)])
    model.compile(optimizer=fk.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5), loss="mse")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # fit ends with the averages in the model, as Keras'
    for _ in range(3):
        model.train_on_batch(x, y)  # ... so step on: the weights move ahead of their averages
    opt = model.optimizer
    weights = [w.copy() for w in model.get_weights()]
    averages = [keras_helpers.to_np(a).copy() for a in opt._model_variables_moving_average]
    assert any(not np.allclose(w, a) for w, a in zip(weights, averages))
    swapped = model.evaluate(x, y, verbose=0, callbacks=[fk.callbacks.SwapEMAWeights()])
    for w, now in zip(weights, model.get_weights()):  # swapped back after evaluating
        np.testing.assert_array_equal(w, now)
    model.set_weights(averages)
    assert swapped == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)


def test_evaluate_predict_and_validation_run_the_test_and_predict_hooks():
    calls = []

    class Hooks(fk.callbacks.Callback):
        def __getattribute__(self, name):
            if name.startswith("on_test") or name.startswith("on_predict"):
                return lambda *args: calls.append((name, args[0] if args and isinstance(args[0], int) else None))
            return object.__getattribute__(self, name)

    x, y = _data(32)
    model = _model()
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[Hooks()])
    assert calls == [("on_test_begin", None), ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
                     ("on_test_batch_begin", 1), ("on_test_batch_end", 1), ("on_test_end", None)]
    calls.clear()
    model.predict(x, batch_size=32, verbose=0, callbacks=[Hooks()])
    assert [c[0] for c in calls] == ["on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end",
                                     "on_predict_end"]
    calls.clear()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(x, y), callbacks=[Hooks()])
    assert [c[0] for c in calls].count("on_test_begin") == 2
