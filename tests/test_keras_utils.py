"""keras.utils against Keras 3.15: signatures, Progbar, PyDataset, the tensor and session helpers, get_file
(offline cache, hashes, archives, a local HTTP server), plot_model's errors, the object registry and
serialize/deserialize_keras_object, timeseries_dataset_from_array, split_dataset and the *_from_directory
datasets on tiny temporary directories."""
import http.server
import inspect
import io
import json
import logging
import os
import random
import re
import tarfile
import threading
import wave
import zipfile

import numpy as np
import pytest

import keras_helpers  # noqa: F401  (KERAS_BACKEND=torch before keras)
import fastnn
from fastnn import keras as fk

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.torch
U = fk.utils
EXTRA_PARAMS = {"Progbar": ["stream"]}  # ours only: where the bar writes (stdout by default)


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("name", [n for n in dir(keras.utils) if not n.startswith("_")
                                  and not inspect.ismodule(getattr(keras.utils, n)) and n != "FeatureSpace"])
def test_signature_matches_keras(name):
    theirs, ours = getattr(keras.utils, name), getattr(U, name)
    assert isinstance(theirs, type) == isinstance(ours, type)

    def params(obj):
        sig = inspect.signature(obj.__init__ if isinstance(obj, type) else obj)
        extra = EXTRA_PARAMS.get(name, [])
        return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name not in extra]

    if name in ("Sequence", "custom_object_scope"):  # aliases of PyDataset / CustomObjectScope, as in Keras
        assert ours is getattr(U, {"Sequence": "PyDataset", "custom_object_scope": "CustomObjectScope"}[name])
    assert params(ours) == params(theirs)


# ---- Progbar -------------------------------------------------------------------------------------------------
def _metrics(text):
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return re.findall(r" - (\w+): ([0-9.e+-]+)", text.splitlines()[-1] if text.strip() else "")


def test_progbar_averages_like_keras(capsys):
    updates = [(1, [("loss", 1.0), ("acc", 0.5)]), (3, [("loss", 0.4), ("acc", 0.7)]), (4, [("loss", 0.1)])]
    for stateful in (None, ["acc"]):
        ours, theirs = U.Progbar(4, stateful_metrics=stateful), keras.utils.Progbar(4, stateful_metrics=stateful)
        outs = []
        for bar in (ours, theirs):
            capsys.readouterr()
            for step, values in updates:
                bar.update(step, values)
            outs.append(_metrics(capsys.readouterr().out))
        assert outs[0] == outs[1] and outs[0]
    bar = U.Progbar(None, verbose=2, unit_name="sample")
    capsys.readouterr()
    bar.add(5, [("loss", 2.0)])
    bar.update(10, [("loss", 0.1)], finalize=True)
    out = capsys.readouterr().out
    assert out.startswith("10 - ") and "/sample" in out and " - loss: 0.1000" in out and out.count("\n") == 1
    with pytest.raises(ValueError, match="Only one of `stateful_metrics` or `stateless_metrics`"):
        U.Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_interactive_logging_switch_sends_output_to_the_logger(capsys, caplog):
    assert U.is_interactive_logging_enabled()
    U.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO, logger="fastnn.keras"):
            U.Progbar(2).update(2, [("loss", 0.25)])
        assert not U.is_interactive_logging_enabled() and capsys.readouterr().out == ""
        assert "loss: 0.2500" in caplog.text
    finally:
        U.enable_interactive_logging()
    assert U.is_interactive_logging_enabled() == keras.utils.is_interactive_logging_enabled()


# ---- PyDataset -----------------------------------------------------------------------------------------------
class Batches(U.PyDataset):
    def __init__(self, n=7, **kwargs):
        super().__init__(**kwargs)
        self.n, self.ended = n, 0
        self.x = np.arange(n * 2 * 3, dtype=np.float32).reshape(n * 2, 3) / 10

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i >= self.n:
            raise IndexError(i)
        return self.x[2 * i:2 * i + 2], self.x[2 * i:2 * i + 2, :1] * 2

    def on_epoch_end(self):
        self.ended += 1


def test_pydataset_stores_its_arguments_and_runs_epochs_in_order():
    ds = Batches(workers=3, use_multiprocessing=False, max_queue_size=2)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size, ds.num_batches) == (3, False, 2, 7)
    theirs = keras.utils.PyDataset(workers=3, max_queue_size=2)
    assert (theirs.workers, theirs.use_multiprocessing, theirs.max_queue_size) == (3, False, 2)
    plain = [b[0][0, 0] for b in ds]
    assert plain == [np.float32(6.0 * i) / 10 for i in range(7)] and ds.ended == 0
    threaded = [b[0][0, 0] for b in ds.epoch_batches()]
    assert threaded == plain and ds.ended == 1
    rng = np.random.default_rng(0)
    shuffled = [round(float(b[0][0, 0]) * 10 / 6) for b in ds.epoch_batches(shuffle=True, rng=rng)]
    assert sorted(shuffled) == list(range(7)) and shuffled != list(range(7)) and ds.ended == 2
    procs = Batches(workers=2, use_multiprocessing=True)
    assert [b[0][0, 0] for b in procs.epoch_batches()] == plain
    with pytest.raises(NotImplementedError):
        U.PyDataset()[0]
    assert U.Sequence is U.PyDataset


def test_pydataset_warns_when_super_init_is_skipped():
    class NoSuper(U.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 1

    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert NoSuper().workers == 1


def test_fit_consumes_a_pydataset():
    fastnn.manual_seed(0)
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile(optimizer=fk.optimizers.SGD(1e-2), loss="mse")
    hist = model.fit(Batches(), epochs=3, verbose=0)
    assert len(hist.history["loss"]) == 3 and hist.history["loss"][-1] < hist.history["loss"][0]


# ---- tensor and session helpers ------------------------------------------------------------------------------
def test_normalize_matches_keras():
    x = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    for axis, order in ((-1, 2), (0, 1), (1, np.inf), (None, 2)):
        np.testing.assert_allclose(U.normalize(x, axis, order), keras.utils.normalize(x, axis, order), rtol=1e-12)
    np.testing.assert_allclose(U.normalize(np.array([3.0, 4.0]), axis=None), keras.utils.normalize(
        np.array([3.0, 4.0]), axis=None))
    t = fastnn.tensor(x.astype(np.float32), requires_grad=True)
    out = U.normalize(t)
    assert isinstance(out, fastnn.Tensor)
    out.sum().backward()
    assert t.grad is not None


def test_standardize_dtype_matches_keras():
    import torch

    for spec in (None, "float32", "int8", "bool", "string", int, float, bool, str, np.float64, np.dtype("uint8"),
                 torch.bfloat16, torch.int16):
        assert U.standardize_dtype(spec) == keras.utils.standardize_dtype(spec), spec
    for ours, theirs in ((fastnn.float16, torch.float16), (fastnn.int64, torch.int64), (fastnn.bool, torch.bool)):
        assert U.standardize_dtype(ours) == keras.utils.standardize_dtype(theirs)
    for bad in ("foo", "float128"):
        with pytest.raises(ValueError, match=f"Invalid dtype: {bad}"):
            U.standardize_dtype(bad)


def test_keras_tensors_and_their_source_inputs():
    a, b = fk.Input((3,), name="a"), fk.Input((3,), name="b")
    h = fk.layers.Dense(2)(a)
    out = fk.layers.Add()([fk.layers.Dense(2)(b), h])
    out2 = fk.layers.Concatenate()([h, out])
    assert U.is_keras_tensor(a) and U.is_keras_tensor(out) and not U.is_keras_tensor(np.zeros(3))
    assert U.get_source_inputs(out2)[0] is a and U.get_source_inputs(out2)[1] is b
    assert len(U.get_source_inputs(out2)) == 2 and U.get_source_inputs(a) == [a]
    ka, kb = keras.Input((3,)), keras.Input((3,))
    kh = keras.layers.Dense(2)(ka)
    kout = keras.layers.Concatenate()([kh, keras.layers.Add()([keras.layers.Dense(2)(kb), kh])])
    assert [t is ka for t in keras.utils.get_source_inputs(kout)] == [True, False]


def test_pack_unpack_match_keras():
    x, y, w = np.ones(2), np.zeros(2), np.full(2, 3.0)
    for args in ((x,), (x, y), (x, y, w), ([x, y],), ((x,),)):
        ours, theirs = U.pack_x_y_sample_weight(*args), keras.utils.pack_x_y_sample_weight(*args)
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
    for data in (x, (x,), (x, y), [x, y, w]):
        ours, theirs = U.unpack_x_y_sample_weight(data), keras.utils.unpack_x_y_sample_weight(data)
        assert [o is t for o, t in zip(ours, theirs)] == [True] * 3
    with pytest.raises(ValueError, match="Data is expected to be in format"):
        U.unpack_x_y_sample_weight((x, x, x, x))


def test_config_behaves_as_keras():
    for cls in (U.Config, keras.utils.Config):
        c = cls(learning_rate=0.1, units=4)
        c.depth = 3
        c["width"] = 2
        assert (c.learning_rate, c.depth, c["width"], len(c), list(c)) == (0.1, 3, 2, 4,
                                                                          ["depth", "learning_rate", "units", "width"])
        assert json.loads(c.to_json())["units"] == 4 and "units" in c and c.as_dict()["depth"] == 3
        with pytest.raises(AttributeError, match="Did you mean 'units'"):
            c.unit
        c.freeze()
        assert c.frozen
        with pytest.raises(ValueError, match="Cannot mutate attribute"):
            c.units = 5
        with pytest.raises(ValueError, match="Cannot mutate attribute"):
            del c["units"]
        c.unfreeze()
        assert c.pop("units") == 4 and c.get("units", "gone") == "gone"


def test_set_random_seed_and_clear_session():
    def draws():
        return fastnn.randn(3).numpy().tolist(), np.random.rand(2).tolist(), random.random()

    U.set_random_seed(7)
    first = draws()
    U.set_random_seed(7)
    assert draws() == first
    for setter in (U.set_random_seed, keras.utils.set_random_seed):
        with pytest.raises(ValueError, match="Expected `seed` argument to be an integer. Received: seed=1.5"):
            setter(1.5)
    fk.layers.Dense(2)
    U.clear_session()  # layer names start over, as after Keras' clear_session
    assert fk.layers.Dense(2).name == "dense" and fk.layers.Dense(2).name == "dense_1"


# ---- get_file --------------------------------------------------------------------------------------------------
class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Files(*a, directory=str(root), **k)  # noqa: E731
    srv = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_get_file_uses_the_cache_offline_and_checks_hashes(tmp_path, capsys):
    cache = tmp_path / "cache"
    (cache / "datasets").mkdir(parents=True)
    (cache / "datasets" / "data.csv").write_text("a,b\n1,2\n")
    url = "http://127.0.0.1:9/files/data.csv"  # nothing listens there: a download would fail
    sha = __import__("hashlib").sha256(b"a,b\n1,2\n").hexdigest()
    md5 = __import__("hashlib").md5(b"a,b\n1,2\n").hexdigest()
    expected = str(cache / "datasets" / "data.csv")
    assert U.get_file(origin=url, cache_dir=cache) == expected
    assert U.get_file("data.csv", url, cache_dir=str(cache), file_hash=sha) == expected
    assert U.get_file("data.csv", url, cache_dir=str(cache), md5_hash=md5) == expected
    assert keras.utils.get_file("data.csv", url, cache_dir=str(cache), file_hash=sha) == expected
    with pytest.raises(ConnectionError, match=r"URL fetch failure on http://127.0.0.1:9/files/other.csv.*place it at "):
        U.get_file(origin="http://127.0.0.1:9/files/other.csv", cache_dir=cache)
    with pytest.raises(ConnectionError, match="URL fetch failure on http://127.0.0.1:9/files/data.csv"):
        U.get_file("data.csv", url, cache_dir=cache, file_hash="0" * 64)  # hash mismatch: re-download, which fails
    assert "file hash does not match" in capsys.readouterr().out
    with pytest.raises(ValueError, match='Please specify the "origin" argument'):
        U.get_file("x")
    with pytest.raises(ValueError, match="Paths are no longer accepted as the `fname` argument"):
        U.get_file("a/b.csv", url, cache_dir=cache)


def test_get_file_downloads_and_extracts_archives(served, tmp_path):
    root, base = served
    (root / "plain.txt").write_text("hello")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"inside"
        info = tarfile.TarInfo("pkg/file.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (root / "pkg.tar.gz").write_bytes(buf.getvalue())
    with zipfile.ZipFile(root / "z.zip", "w") as z:
        z.writestr("z/inner.txt", "zipped")
    cache = tmp_path / "c"
    path = U.get_file(origin=f"{base}/plain.txt", cache_dir=cache, cache_subdir="sub")
    assert path == str(cache / "sub" / "plain.txt") and open(path).read() == "hello"
    out = U.get_file("pkg.tar.gz", f"{base}/pkg.tar.gz", cache_dir=cache, extract=True)
    assert out == str(cache / "datasets" / "pkg_extracted")
    assert open(os.path.join(out, "pkg", "file.txt")).read() == "inside"
    out = U.get_file(origin=f"{base}/z.zip", cache_dir=cache, extract=True)
    assert out == str(cache / "datasets" / "z.zip") and open(os.path.join(out, "z", "inner.txt")).read() == "zipped"
    with pytest.raises(ConnectionError, match="404"):
        U.get_file(origin=f"{base}/missing.bin", cache_dir=cache)
    with pytest.raises(ValueError, match="Incomplete or corrupted file detected"):
        U.get_file("p2.txt", f"{base}/plain.txt", cache_dir=cache, file_hash="f" * 32)


# ---- plot_model / model_to_dot -------------------------------------------------------------------------------
def test_plot_model_needs_pydot_and_graphviz(tmp_path):
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(2)])
    if not _has("pydot"):
        with pytest.raises(ImportError, match=r"You must install pydot \(`pip install pydot`\) for `plot_model`"):
            U.plot_model(model, to_file=str(tmp_path / "m.png"))
        with pytest.raises(ImportError, match="You must install pydot"):
            U.model_to_dot(model)
        return
    a = fk.Input((3,), name="a")
    h = fk.layers.Dense(4, activation="relu", name="hidden")(a)
    out = fk.layers.Add(name="sum")([h, fk.layers.Dense(4, name="skip")(a)])
    dot = U.model_to_dot(fk.Model(a, out), show_shapes=True, show_layer_activations=True)
    labels = [n.get("label") for n in dot.get_nodes() if n.get("label")]
    assert any("hidden (Dense)" in lab and "Activation: relu" in lab and "(None, 4)" in lab for lab in labels)
    assert len(dot.get_edges()) == 4
    U.plot_model(model, to_file=str(tmp_path / "m.dot"))
    assert "digraph" in (tmp_path / "m.dot").read_text()


# ---- object registry and serialization -----------------------------------------------------------------------
def test_registry_names_scopes_and_lookup():
    @U.register_keras_serializable(package="Mine")
    class Scaled(fk.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @U.register_keras_serializable(name="twice")
    def double(x):
        return 2 * x

    assert U.get_registered_name(Scaled) == "Mine>Scaled" and U.get_registered_name(double) == "Custom>twice"
    assert U.get_registered_name(fk.layers.Dense) == "Dense" == keras.utils.get_registered_name(keras.layers.Dense)
    assert U.get_registered_object("Mine>Scaled") is Scaled and U.get_custom_objects()["Custom>twice"] is double
    assert U.get_registered_object("nothing") is None
    with U.custom_object_scope({"thing": 1}):
        with U.CustomObjectScope({"other": 2}):
            assert U.get_registered_object("other") == 2 and U.get_registered_object("thing") is None
        assert U.get_registered_object("thing") == 1
    assert U.get_registered_object("thing") is None
    with pytest.raises(ValueError, match="Cannot register a class that does not have a get_config"):
        U.register_keras_serializable()(type("NoConfig", (), {}))

    layer = Scaled(3.0, name="scaled")
    config = U.serialize_keras_object(layer)
    assert config["registered_name"] == "Mine>Scaled" and config["config"]["factor"] == 3.0
    again = U.deserialize_keras_object(json.loads(json.dumps(config)))
    assert type(again) is Scaled and again.factor == 3.0 and again.name == "scaled"
    fn = U.serialize_keras_object(double)
    assert fn == {"module": "builtins", "class_name": "function", "config": "Custom>twice",
                  "registered_name": "function"}
    assert U.deserialize_keras_object(fn) is double


def test_serialization_format_matches_keras():
    s, ks = U.serialize_keras_object, keras.utils.serialize_keras_object
    for ours, theirs in ((fk.losses.mean_squared_error, keras.losses.mean_squared_error),
                         (fk.regularizers.L1L2(0.1, 0.2), keras.regularizers.L1L2(0.1, 0.2)),
                         (fk.constraints.MaxNorm(2.0), keras.constraints.MaxNorm(2.0)),
                         ([1, (2, "a")], [1, (2, "a")]), (np.float32(2.5), np.float32(2.5)),
                         (np.arange(3), np.arange(3)), (b"xy", b"xy"), (slice(1, None, 2), slice(1, None, 2))):
        assert s(ours) == ks(theirs)
    dense, kdense = s(fk.layers.Dense(3, activation="relu", name="d")), ks(keras.layers.Dense(3, activation="relu",
                                                                                                 name="d"))
    assert {k: dense[k] for k in ("module", "class_name", "registered_name")} == {
        k: kdense[k] for k in ("module", "class_name", "registered_name")}
    common = {"name", "units", "activation", "use_bias", "trainable"}  # the layer's own config is not tested here
    assert {k: dense["config"][k] for k in common} == {k: kdense["config"][k] for k in common}
    adam, kadam = s(fk.optimizers.Adam(0.5)), ks(keras.optimizers.Adam(0.5))
    assert adam["class_name"] == kadam["class_name"] == "Adam" and adam["module"] == "keras.optimizers"
    for k in (set(adam["config"]) & set(kadam["config"])) - {"name"}:  # Keras numbers names per process: adam_16
        assert adam["config"][k] == pytest.approx(kadam["config"][k])
    assert s(fk.Sequential([fk.layers.Dense(1)]))["module"] == ks(keras.Sequential([keras.layers.Dense(1)]))["module"]


def test_deserialize_reads_keras_configs():
    d = U.deserialize_keras_object
    ks = keras.utils.serialize_keras_object
    reg = d(ks(keras.regularizers.L2(0.25)))
    assert isinstance(reg, fk.regularizers.L2) and reg.l2 == 0.25
    assert d(ks(keras.losses.mean_absolute_error)) is fk.losses.mean_absolute_error
    assert d(ks(keras.activations.relu)) is fk.activations.get("relu")
    kd = ks(keras.layers.Dense(5, name="k"))
    dense = d({**kd, "config": {k: kd["config"][k] for k in ("name", "units", "use_bias", "activation")}})
    assert isinstance(dense, fk.layers.Dense) and dense.units == 5 and dense.name == "k"
    kadam = ks(keras.optimizers.SGD(0.5))  # Keras names torch's SGD by its private module
    opt = d({**kadam, "config": {"learning_rate": 0.5, "momentum": 0.0}})
    assert isinstance(opt, fk.optimizers.SGD) and opt.learning_rate == 0.5
    arr = d(ks(np.arange(4).reshape(2, 2)))
    assert isinstance(arr, np.ndarray) and arr.dtype == np.int64 and arr.tolist() == [[0, 1], [2, 3]]
    assert d({"x": ks((1, 2)), "y": None}) == {"x": [1, 2], "y": None}
    with pytest.raises(TypeError, match="Could not locate class 'Nope'"):
        d({"module": None, "class_name": "Nope", "config": {}, "registered_name": "X>Nope"})
    with pytest.raises(ValueError, match="Cannot deserialize `keras.utils.get_file`"):
        d({"module": "keras.utils", "class_name": "function", "config": "get_file", "registered_name": None})
    with pytest.warns(UserWarning, match="lambda"):
        lam = U.serialize_keras_object(lambda x: x + 1)
    with pytest.raises(ValueError, match="Requested the deserialization of a Python lambda"):
        d(lam)
    assert d(lam, safe_mode=False)(1) == 2
    with U.custom_object_scope({"Dense": fk.layers.Dense}):
        assert isinstance(d({"class_name": "Dense", "config": {"units": 2}, "module": None,
                             "registered_name": "Dense"}), fk.layers.Dense)


# ---- timeseries_dataset_from_array / split_dataset ------------------------------------------------------------
def test_timeseries_windows_and_targets():
    data = np.arange(100, dtype=np.float32)
    ds = U.timeseries_dataset_from_array(data, None, sequence_length=10, sampling_rate=2, batch_size=16)
    first = ds[0]
    assert len(ds) == 6 and tuple(first.shape) == (16, 10)
    np.testing.assert_array_equal(first[0].numpy(), np.arange(0, 20, 2))
    np.testing.assert_array_equal(ds[5].numpy()[-1], np.arange(81, 100, 2))  # 82 windows: 0..81
    # Keras' documented recipe: predict data[i + 10] from the 10 steps before it
    x = np.arange(30, dtype=np.float32).reshape(15, 2)
    ds = U.timeseries_dataset_from_array(x[:-3], x[3:, 0], sequence_length=3, sequence_stride=2, batch_size=4,
                                         start_index=1, end_index=11)
    windows = np.concatenate([b[0].numpy() for b in ds])
    targets = np.concatenate([b[1].numpy() for b in ds])
    starts = list(range(1, 1 + 11 - 1 - 2, 2))
    np.testing.assert_array_equal(windows, np.stack([x[s:s + 3] for s in starts]))
    np.testing.assert_array_equal(targets, x[3:, 0][starts])
    single = U.timeseries_dataset_from_array(x, x[:, 1], 4, batch_size=None)
    w, t = single[2]
    assert tuple(w.shape) == (4, 2) and float(t) == x[2, 1] and len(single) == 12
    with pytest.raises(NotImplementedError, match="does not make Grain datasets"):
        U.timeseries_dataset_from_array(data, None, 5, format="grain")
    a = U.timeseries_dataset_from_array(data, None, 5, batch_size=8, shuffle=True, seed=3)
    b = U.timeseries_dataset_from_array(data, None, 5, batch_size=8, shuffle=True, seed=3)
    assert a.positions == b.positions and sorted(a.positions) == list(range(96)) and a.positions != list(range(96))


@pytest.mark.parametrize("kwargs", [dict(start_index=-1), dict(start_index=100), dict(end_index=100),
                                    dict(start_index=5, end_index=3), dict(sampling_rate=0), dict(sequence_stride=0),
                                    dict(sequence_stride=100), dict(format="numpy")])
def test_timeseries_errors_match_keras(kwargs):
    data = np.arange(100)
    with pytest.raises(ValueError) as theirs:
        keras.utils.timeseries_dataset_from_array(data, None, 5, **kwargs)
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        U.timeseries_dataset_from_array(data, None, 5, **kwargs)


def test_split_dataset_sizes_and_errors_match_keras():
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    for sizes in ((0.8, None), (None, 3), (4, 0.6), (0.25, 0.75)):
        left, right = U.split_dataset((x, y), *sizes)
        kl, kr = keras.utils.split_dataset((x, y), *sizes, preferred_backend="torch")
        assert (len(left), len(right)) == (len(kl), len(kr))
    # sizes leaving samples out (Keras' torch path cannot split so; its tf path takes the first and last ones)
    assert [len(s) for s in U.split_dataset((x, y), 4, 0.3)] == [4, 3]
    left, right = U.split_dataset((x, y), left_size=0.6)
    assert [float(s[1]) for s in left] == list(range(6)) and [float(s[1]) for s in right] == list(range(6, 10))
    lx, = zip(*[tuple(s) for s in U.split_dataset(x, 3)[0]])
    assert len(lx) == 3
    a, b = U.split_dataset((x, y), 0.5, shuffle=True, seed=1), U.split_dataset((x, y), 0.5, shuffle=True, seed=1)
    assert a[0].indices == b[0].indices and sorted(a[0].indices + a[1].indices) == list(range(10))
    for sizes in ((None, None), (0, 0), (10, None), (1.5, None), (0.6, 0.6), (8, 5), ("a", None)):
        with pytest.raises((ValueError, TypeError)) as theirs:
            keras.utils.split_dataset((x, y), *sizes, preferred_backend="torch")
        with pytest.raises(theirs.type, match=re.escape(str(theirs.value)[:60])):
            U.split_dataset((x, y), *sizes)


# ---- *_dataset_from_directory --------------------------------------------------------------------------------
def _text_tree(root):
    for cls, texts in (("neg", ["bad", "awful film", "meh"]), ("pos", ["good", "great", "fine", "superb movie"])):
        (root / cls).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / cls / f"{i}.txt").write_text(t)
    (root / "pos" / "notes.md").write_text("not a .txt file")


def test_text_dataset_from_directory(tmp_path, capsys):
    _text_tree(tmp_path)
    ds = U.text_dataset_from_directory(tmp_path, batch_size=4, shuffle=False)
    assert "Found 7 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["neg", "pos"] and len(ds) == 2
    x, y = ds[0]
    assert x == ["bad", "awful film", "meh", "good"] and y.numpy().tolist() == [0, 0, 0, 1]
    assert str(y.dtype) == "fastnn.int32"
    texts = U.text_dataset_from_directory(tmp_path, labels=None, max_length=4, shuffle=False, verbose=False)
    assert texts[0][:2] == ["bad", "awfu"]
    cat = U.text_dataset_from_directory(tmp_path, label_mode="categorical", batch_size=None, shuffle=False,
                                        verbose=False)
    assert cat[6][1].numpy().tolist() == [0.0, 1.0] and cat[6][0] == "superb movie"
    binary = U.text_dataset_from_directory(tmp_path, label_mode="binary", shuffle=False, verbose=False)
    assert tuple(binary[0][1].shape) == (7, 1)
    train, val = U.text_dataset_from_directory(tmp_path, validation_split=0.3, subset="both", seed=4)
    out = capsys.readouterr().out
    assert "Using 5 files for training." in out and "Using 2 files for validation." in out
    assert len(train.file_paths) == 5 and not set(train.file_paths) & set(val.file_paths)
    shuffled = U.text_dataset_from_directory(tmp_path, seed=4, verbose=False)
    assert sorted(shuffled.file_paths) == sorted(train.file_paths + val.file_paths)
    assert shuffled.file_paths[:5] == train.file_paths
    errors = [(dict(validation_split=0.3, subset="both"), "you must provide a `seed`"),
              (dict(label_mode="sparse"), "`label_mode` argument must be one of"),
              (dict(labels=None, class_names=["a"]), "You can only pass `class_names` if"),
              (dict(class_names=["pos", "zzz"]), "did not match the names of the subdirectories"),
              (dict(subset="training"), "If `subset` is set, `validation_split` must be set")]
    for kwargs, message in errors:
        with pytest.raises(ValueError, match=re.escape(message)):
            U.text_dataset_from_directory(tmp_path, verbose=False, **kwargs)


def test_text_directory_feeds_a_text_model(tmp_path):
    _text_tree(tmp_path)
    ds = U.text_dataset_from_directory(tmp_path, batch_size=3, seed=0, verbose=False)
    for x, y in ds:
        assert isinstance(x, list) and all(isinstance(t, str) for t in x) and len(x) == int(y.shape[0])


def _write_wav(path, samples, rate=8000, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2" if width == 2 else "u1").tobytes())


def test_audio_dataset_from_directory(tmp_path):
    for cls, lengths in (("cat", [5, 8]), ("dog", [3])):
        (tmp_path / cls).mkdir()
        for i, n in enumerate(lengths):
            _write_wav(tmp_path / cls / f"{i}.wav", np.arange(n * 2).reshape(n, 2) * 1000)
    ds = U.audio_dataset_from_directory(tmp_path, shuffle=False, verbose=False)
    x, y = ds[0]
    assert tuple(x.shape) == (3, 8, 2) and y.numpy().tolist() == [0, 0, 1] and ds.class_names == ["cat", "dog"]
    np.testing.assert_allclose(x.numpy()[0, :5], np.arange(10).reshape(5, 2) * 1000 / 32768.0, rtol=1e-6)
    assert np.all(x.numpy()[0, 5:] == 0) and np.all(x.numpy()[2, 3:] == 0)
    fixed = U.audio_dataset_from_directory(tmp_path, output_sequence_length=4, shuffle=False, verbose=False)
    assert tuple(fixed[0][0].shape) == (3, 4, 2)
    with pytest.raises(NotImplementedError, match="resampling"):
        U.audio_dataset_from_directory(tmp_path, sampling_rate=16000, shuffle=False, verbose=False)[0]
    with pytest.raises(ValueError, match="ragged"):
        U.audio_dataset_from_directory(tmp_path, ragged=True)


def test_image_helpers_need_pillow_or_match_keras(tmp_path):
    if not _has("PIL"):
        with pytest.raises(ImportError, match=r"requires PIL \(pip install pillow\)"):
            U.load_img(tmp_path / "missing.png")
        with pytest.raises(ImportError, match="requires PIL"):
            U.image_dataset_from_directory(tmp_path)
        return
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (6, 8, 3)).astype(np.float32)
    U.save_img(tmp_path / "a.png", img, scale=False)
    loaded = U.load_img(tmp_path / "a.png")
    np.testing.assert_array_equal(U.img_to_array(loaded), img)
    np.testing.assert_array_equal(U.img_to_array(loaded, "channels_first"),
                                  keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png"), "channels_first"))
    for kwargs in (dict(target_size=(3, 4)), dict(target_size=(4, 4), keep_aspect_ratio=True, interpolation="bilinear"),
                   dict(color_mode="grayscale")):
        np.testing.assert_array_equal(U.img_to_array(U.load_img(tmp_path / "a.png", **kwargs)),
                                      keras.utils.img_to_array(keras.utils.load_img(tmp_path / "a.png", **kwargs)))
    for x in (img / 255.0, img[:, :, :1] * 3):
        np.testing.assert_array_equal(np.asarray(U.array_to_img(x)), np.asarray(keras.utils.array_to_img(x)))
    for cls, n in (("a", 2), ("b", 3)):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(n):
            U.save_img(tmp_path / "imgs" / cls / f"{i}.png", rng.integers(0, 256, (10, 12, 3)), scale=False)
    ds = U.image_dataset_from_directory(tmp_path / "imgs", image_size=(5, 6), batch_size=4, shuffle=False,
                                        verbose=False)
    x, y = ds[0]
    assert tuple(x.shape) == (4, 5, 6, 3) and str(x.dtype) == "fastnn.float32" and y.numpy().tolist() == [0, 0, 1, 1]
    assert ds.class_names == ["a", "b"] and len(ds) == 2
    gray = U.image_dataset_from_directory(tmp_path / "imgs", image_size=(10, 12), color_mode="grayscale",
                                          label_mode=None, shuffle=False, verbose=False, crop_to_aspect_ratio=True)
    assert tuple(gray[0].shape) == (5, 10, 12, 1)


# ---- layers.TorchModuleWrapper (the surface survey's decision: it wraps a fastnn.nn.Module) --------------------
def test_module_wrapper_matches_keras_torch_module_wrapper():
    import torch

    torch.manual_seed(0)
    tl = torch.nn.Linear(4, 3)
    theirs = keras.layers.TorchModuleWrapper(tl)
    ours = fk.layers.TorchModuleWrapper(fastnn.nn.Linear(4, 3))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(x).detach().numpy(), keras_helpers.to_np(theirs(x)), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="wraps a fastnn.nn.Module"):
        fk.layers.TorchModuleWrapper(tl)

    fastnn.manual_seed(0)
    model = fk.Sequential([fk.Input((4,)), fk.layers.TorchModuleWrapper(fastnn.nn.Linear(4, 1))])
    model.compile(optimizer=fk.optimizers.SGD(0.1), loss="mse")
    y = x @ np.array([[1.0], [0.0], [-1.0], [2.0]], np.float32)
    hist = model.fit(x, y, epochs=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0] and len(model.trainable_weights) == 2

    config = U.serialize_keras_object(ours)
    assert config["class_name"] == "TorchModuleWrapper" and config["module"] == "keras.layers"
    with pytest.raises(ValueError, match="Requested the deserialization of a module object"):
        U.deserialize_keras_object(config)
    again = U.deserialize_keras_object(config, safe_mode=False)
    np.testing.assert_allclose(again(x).detach().numpy(), ours(x).detach().numpy())


def _default_pairs(ns):
    """(name, ours, theirs) for the classes of one namespace that both libraries make with no arguments."""
    ours_ns, theirs_ns = getattr(fk, ns), getattr(keras, ns)
    for name in sorted(dir(ours_ns)):
        ours_cls, theirs_cls = getattr(ours_ns, name), getattr(theirs_ns, name, None)
        if name.startswith("_") or not isinstance(ours_cls, type) or not isinstance(theirs_cls, type):
            continue
        if not getattr(ours_cls, "__module__", "").startswith("fastnn.keras"):
            continue
        try:
            ours, theirs = ours_cls(), theirs_cls()
        except (TypeError, ValueError, NotImplementedError, ImportError):  # needs arguments, or Keras needs TF
            continue
        if hasattr(ours, "get_config"):
            try:
                ours.get_config()
            except NotImplementedError:  # an abstract base (Regularizer, Constraint)
                continue
            yield name, ours, theirs


@pytest.mark.parametrize("ns", ["layers", "losses", "metrics", "optimizers", "initializers", "regularizers",
                                "constraints"])
def test_every_default_object_serializes_as_keras_and_round_trips(ns):
    seen = 0
    for name, ours, theirs in _default_pairs(ns):
        config, kconfig = U.serialize_keras_object(ours), keras.utils.serialize_keras_object(theirs)
        assert config["class_name"] == kconfig["class_name"], name
        if not kconfig["module"].startswith("keras.src."):  # Keras' torch optimizers name a private module
            assert config["module"] == kconfig["module"], name
        as_json = json.loads(json.dumps(config))  # through JSON, as a saved config is: tuples become lists
        again = U.deserialize_keras_object(as_json)
        assert type(again) is type(ours) and json.loads(json.dumps(U.serialize_keras_object(again))) == as_json, name
        seen += 1
    assert seen >= {"layers": 5, "optimizers": 3, "regularizers": 3, "constraints": 3}.get(ns, 0), ns


def test_fit_fetches_a_pydataset_with_its_workers():
    class Recorded(Batches):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.threads = set()

        def __getitem__(self, i):
            self.threads.add(threading.get_ident())
            return super().__getitem__(i)

    ds = Recorded(workers=3, max_queue_size=4)
    model = fk.Sequential([fk.Input((3,)), fk.layers.Dense(1)])
    model.compile(optimizer=fk.optimizers.SGD(1e-2), loss="mse")
    model.fit(ds, epochs=2, verbose=0)
    assert ds.ended == 2 and ds.threads and threading.get_ident() not in ds.threads


def test_model_to_dot_graphs_match_keras_structure():
    pytest.importorskip("pydot")

    def shape(dot):
        labels = sorted(n.get("label").split("\n")[0].split("(")[-1].rstrip(")").strip('"') for n in dot.get_nodes()
                        if n.get("label"))
        return labels, len(dot.get_edges())

    ours = fk.Sequential([fk.Input((3,)), fk.layers.Dense(4), fk.layers.ReLU(), fk.layers.Dense(1)])
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.ReLU(), keras.layers.Dense(1)])
    assert shape(U.model_to_dot(ours)) == (["Dense", "Dense", "ReLU"], 2)
    dot, kdot = U.model_to_dot(ours), keras.utils.model_to_dot(theirs)
    assert (len(dot.get_nodes()), len(dot.get_edges())) == (len(kdot.get_nodes()), len(kdot.get_edges()))

    class Sub(fk.Model):
        def call(self, x):
            return x

    sub = Sub()
    sub.built = True
    assert len(U.model_to_dot(sub).get_nodes()) == 2  # the defaults node and the model's own, as Keras draws it
    with pytest.raises(ValueError, match="Argument `layer_range` is no longer supported"):
        U.model_to_dot(ours, layer_range=["a", "b"])
