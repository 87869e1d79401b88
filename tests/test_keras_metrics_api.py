"""fastnn.keras.metrics' Keras 3 API against Keras 3.15 (torch backend): the Metric base (add_variable state,
variables, assign, reset, config), user subclasses used directly and in compile/fit, compile's string metric
names, serialize / deserialize / get, and the constructor errors."""
import copy

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND first)
import numpy as np
import pytest

import fastnn
from fastnn import keras as fk

keras = pytest.importorskip("keras")
RNG = np.random.default_rng(5)


def _np(x):
    return np.asarray(x) if isinstance(x, fastnn.Tensor) else np.asarray(keras.ops.convert_to_numpy(x))


def _binary_true_positives(ns):
    """The subclass of keras.metrics.Metric in Keras' own Metric docstring, written against ``ns``."""
    ops = ns.ops

    class BinaryTruePositives(ns.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "bool")
            y_pred = ops.cast(y_pred, "bool")
            values = ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True))
            values = ops.cast(values, self.dtype)
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, self.dtype)
                sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign(self.true_positives + ops.sum(values))

        def result(self):
            return self.true_positives

    return BinaryTruePositives


def _categorical_true_positives(ns):
    """The custom metric of Keras' "Training & evaluation with the built-in methods" guide."""
    ops = ns.ops

    class CategoricalTruePositives(ns.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            values = ops.cast(values, "float32")
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, "float32")
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives.value

        def reset_state(self):
            self.true_positives.assign(0.0)

    return CategoricalTruePositives


def test_user_subclass_matches_keras_directly():
    assert fk.Metric is fk.metrics.Metric and keras.Metric is keras.metrics.Metric
    ours, theirs = _binary_true_positives(fk)(), _binary_true_positives(keras)()
    for _ in range(3):
        yt, yp = RNG.integers(0, 2, 10), RNG.integers(0, 2, 10)
        sw = RNG.uniform(0, 2, 10).astype(np.float32)
        ours.update_state(yt, yp, sample_weight=sw)
        theirs.update_state(yt, yp, sample_weight=sw)
        assert float(ours.result()) == pytest.approx(float(_np(theirs.result())), rel=1e-6)
    assert ours.name == theirs.name == "binary_true_positives" and ours.dtype == theirs.dtype == "float32"
    assert [v.path for v in ours.variables] == [v.path for v in theirs.variables]
    assert ours.get_config() == theirs.get_config()
    ours.reset_state()
    theirs.reset_state()
    assert float(ours.result()) == float(_np(theirs.result())) == 0.0
    assert float(ours(np.ones(3), np.ones(3))) == 3.0  # __call__: update, then result


def test_variables_state_and_copies():
    m = fk.metrics.Metric(name="outer")
    v = m.add_variable(shape=(2,), initializer="ones", name="acc")
    w = m.add_weight(shape=(), initializer="zeros", name="n", dtype="int32")
    m.inner = fk.metrics.Mean(name="inner")
    keras_style = m.add_variable(shape=(2,), initializer=lambda shape, dtype=None: np.full(shape, 4.0), name="k")
    assert keras_style.numpy().tolist() == [4.0, 4.0]
    del m._variables[-1]
    assert m.add_variable((2,), fk.initializers.Constant(3.0), name="c").numpy().tolist() == [3.0, 3.0]
    del m._variables[-1]
    assert m.variables == [v, w] + m.inner.variables and len(m.variables) == 4
    assert v.path == "outer/acc" and w.dtype == fastnn.int32 and v.trainable is False
    assert v.numpy().tolist() == [1.0, 1.0]
    v.assign_add([1.0, 2.0])
    v.assign_sub(fastnn.tensor([0.5, 0.5]))
    assert v.value.numpy().tolist() == [1.5, 2.5] and "outer/acc" in repr(v)
    with pytest.raises(ValueError, match="must match"):
        v.assign([1.0, 2.0, 3.0])
    twin = copy.deepcopy(m)
    twin.variables[0].assign([9.0, 9.0])
    assert v.numpy().tolist() == [1.5, 2.5] and twin.variables[0].numpy().tolist() == [9.0, 9.0]
    m.reset_state()
    assert [x.numpy().tolist() for x in m.variables] == [[0.0, 0.0], 0, 0.0, 0.0]
    with pytest.raises(NotImplementedError):
        m.result()
    assert repr(m) == "<Metric name=outer>"

    class Forgot(fk.metrics.Metric):
        def __init__(self):
            self.v = self.add_variable(shape=(), initializer="zeros")

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Forgot()


def test_update_state_stays_out_of_the_autograd_graph():
    p = fastnn.tensor(RNG.random((6, 3)).astype(np.float32), requires_grad=True)
    m = fk.metrics.CategoricalCrossentropy()
    m.update_state(np.eye(3, dtype=np.float32)[RNG.integers(0, 3, 6)], p)
    r = m.result()
    assert not r.requires_grad and all(not v.requires_grad for v in m.variables)


def _twins(out_units, activation, loss, metrics_for):
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(out_units, activation=activation)])
    ours = fk.Sequential([fk.layers.Dense(out_units, activation=activation, input_shape=(5,))])
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=metrics_for(keras))
    ours.compile(optimizer=fk.optimizers.SGD(0.1), loss=loss, metrics=metrics_for(fk))
    return ours, theirs


def _same_history(ours, theirs, x, y, **kw):
    ht = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, **kw).history
    ho = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, **kw).history
    assert set(ho) == set(ht)
    for k in ht:
        np.testing.assert_allclose(ho[k], ht[k], rtol=2e-4, atol=1e-5, err_msg=k)
    return ho


def test_custom_and_named_metrics_in_fit_match_keras():
    x = RNG.standard_normal((64, 5)).astype(np.float32)
    y = RNG.integers(0, 6, (64, 1))

    def metrics(ns):
        return [_categorical_true_positives(ns)(), "acc", "mae", ns.metrics.SparseTopKCategoricalAccuracy(k=2),
                ns.metrics.SparseCategoricalCrossentropy(), "sparse_top_k_categorical_accuracy"]

    ours, theirs = _twins(6, "softmax", "sparse_categorical_crossentropy", metrics)
    hist = _same_history(ours, theirs, x, y)
    assert "categorical_true_positives" in hist and "acc" in hist
    res = ours.evaluate(x, y, verbose=0, return_dict=True)
    want = theirs.evaluate(x, y, verbose=0, return_dict=True)
    for k in want:
        assert res[k] == pytest.approx(want[k], rel=2e-4, abs=1e-5), k


def test_binary_model_metric_names_resolve_as_keras():
    x = RNG.standard_normal((64, 5)).astype(np.float32)
    y = RNG.integers(0, 2, (64, 1)).astype(np.float32)

    def metrics(ns):
        return ["accuracy", "AUC", "Precision", "recall", "binary_crossentropy", "mse", "MAE",
                ns.metrics.binary_accuracy, ns.metrics.FalseNegatives(name="fn")]

    ours, theirs = _twins(1, "sigmoid", "binary_crossentropy", metrics)
    hist = _same_history(ours, theirs, x, y, sample_weight=RNG.uniform(0.5, 1.5, 64).astype(np.float32))
    assert {"AUC", "Precision", "binary_accuracy", "fn", "MAE"} <= set(hist)


def test_weighted_metrics_see_sample_and_class_weights_as_keras():
    x = RNG.standard_normal((64, 5)).astype(np.float32)
    y = RNG.integers(0, 2, (64, 1)).astype(np.float32)
    theirs = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    ours = fk.Sequential([fk.layers.Dense(1, activation="sigmoid", input_shape=(5,))])
    ours.set_weights(theirs.get_weights())
    for model, ns in ((theirs, keras), (ours, fk)):
        model.compile(optimizer=ns.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy", "mse"],
                      weighted_metrics=["accuracy", ns.metrics.AUC(name="wauc")])
    hist = _same_history(ours, theirs, x, y, class_weight={0: 1.0, 1: 3.0})
    assert {"accuracy", "weighted_accuracy", "wauc", "mse"} <= set(hist)
    assert hist["accuracy"] != hist["weighted_accuracy"]
    got = ours.evaluate(x, y, sample_weight=np.linspace(0.1, 2.0, 64), verbose=0, return_dict=True)
    want = theirs.evaluate(x, y, sample_weight=np.linspace(0.1, 2.0, 64), verbose=0, return_dict=True)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=2e-4, abs=1e-5), k


def test_accuracy_variant_follows_keras_shape_rule():
    x = RNG.standard_normal((32, 5)).astype(np.float32)
    multi_label = RNG.integers(0, 2, (32, 4)).astype(np.float32)
    ours, theirs = _twins(4, "sigmoid", "binary_crossentropy", lambda ns: ["accuracy"])
    _same_history(ours, theirs, x, multi_label)  # Keras: categorical accuracy for (N, 4) targets and outputs
    assert isinstance(ours._compile_metrics.entries[0][2], fk.metrics.CategoricalAccuracy)
    sparse = RNG.integers(0, 4, 32)
    ours, theirs = _twins(4, "softmax", lambda t, p: keras.ops.mean(p) if not isinstance(p, fastnn.Tensor)
                          else p.mean(), lambda ns: ["acc"])
    _same_history(ours, theirs, x, sparse)  # a custom loss: the targets' rank says sparse
    assert isinstance(ours._compile_metrics.entries[0][2], fk.metrics.SparseCategoricalAccuracy)


def test_prediction_masks_weight_the_compiled_metrics_as_keras():
    x = RNG.integers(1, 9, (16, 6))
    x[:8, 4:] = 0
    x[8:, 2:] = 0  # padding: Embedding(mask_zero=True) masks these steps, Dense passes the mask on
    y = RNG.random((16, 6, 1)).astype(np.float32)
    models = []
    for ns in (keras, fk):
        inp = keras.Input((6,), dtype="int32") if ns is keras else fk.layers.Input((6,), dtype="int32")
        models.append(ns.Sequential([inp, ns.layers.Embedding(9, 4, mask_zero=True), ns.layers.Dense(1)]))
    theirs, ours = models
    ours.set_weights(theirs.get_weights())
    for model, ns in ((theirs, keras), (ours, fk)):
        model.compile(optimizer="sgd", loss="mse", metrics=["mae", ns.metrics.MeanSquaredError(name="m2"),
                                                            ns.metrics.RootMeanSquaredError(name="r")])
    want = theirs.evaluate(x, y, verbose=0, return_dict=True)
    got = ours.evaluate(x, y, verbose=0, return_dict=True)
    for k in ("mae", "m2", "r"):  # mae/m2 leave padded steps out; RMSE (a plain Mean) does not, as in Keras
        assert got[k] == pytest.approx(want[k], rel=1e-5), k
    assert got["r"] ** 2 != pytest.approx(got["m2"], rel=1e-3)


def test_sparse_crossentropy_ignore_class_masks_weighted_means():
    labels = np.array([0, 1, 2, 1, 0, 2])
    probs = RNG.random((6, 3)).astype(np.float32) + 0.1
    values = fk.metrics.sparse_categorical_crossentropy(labels, fastnn.tensor(probs), ignore_class=1)
    assert np.asarray(fk.masking.get_mask(values)).tolist() == [True, False, True, False, True, True]
    for sw in (None, np.ones(6, np.float32)):
        ours = fk.metrics.SparseCategoricalCrossentropy(ignore_class=1)
        theirs = keras.metrics.SparseCategoricalCrossentropy(ignore_class=1)
        ours.update_state(labels, probs, sample_weight=sw)
        theirs.update_state(labels, probs, sample_weight=sw)
        assert float(ours.result()) == pytest.approx(float(_np(theirs.result())), rel=1e-6)


def test_stateless_forms_leave_the_metric_state():
    m = fk.metrics.Mean()
    m.update_state([1.0, 3.0])
    state = m.stateless_update_state([fastnn.tensor(10.0), fastnn.tensor(2.0)], [4.0, 6.0])
    assert [float(v) for v in state] == [20.0, 4.0] and float(m.stateless_result(state)) == 5.0
    assert [float(v) for v in m.stateless_reset_state()] == [0.0, 0.0]
    assert float(m.result()) == 2.0
    with pytest.raises(ValueError, match="1:1"):
        m.stateless_result([fastnn.tensor(1.0)])
    btp = _binary_true_positives(fk)()  # its result() is the state variable itself
    assert float(btp.stateless_result([fastnn.tensor(7.0)])) == 7.0 and float(btp.result()) == 0.0


def test_one_hot_model_accuracy_is_categorical():
    x = RNG.standard_normal((48, 5)).astype(np.float32)
    y = np.eye(6, dtype=np.float32)[RNG.integers(0, 6, 48)]
    ours, theirs = _twins(6, "softmax", "categorical_crossentropy",
                          lambda ns: ["accuracy", "top_k_categorical_accuracy", ns.metrics.categorical_crossentropy,
                                      ns.metrics.F1Score(average="macro")])
    _same_history(ours, theirs, x, y)
    assert isinstance(fk.metrics.get("accuracy", "categorical_crossentropy", (None, 6)), fk.metrics.CategoricalAccuracy)
    per_class = lambda ns: [ns.metrics.F1Score(), ns.metrics.Precision(thresholds=[0.2, 0.5], name="p")]  # noqa: E731
    ours, theirs = _twins(6, "softmax", "categorical_crossentropy", per_class)
    hist = _same_history(ours, theirs, x, y)  # per-class results are arrays in the history, as Keras'
    assert isinstance(hist["f1_score"][0], np.ndarray) and hist["p"][0].shape == (2,)


def test_serialize_deserialize_and_get_follow_keras():
    for ours, theirs in ((fk.metrics.AUC(name="a", curve="PR"), keras.metrics.AUC(name="a", curve="PR")),
                         (fk.metrics.Precision(name="p", thresholds=[0.2, 0.4]),
                          keras.metrics.Precision(name="p", thresholds=[0.2, 0.4])),
                         (fk.metrics.MeanIoU(3, name="iou"), keras.metrics.MeanIoU(3, name="iou")),
                         (fk.metrics.MeanMetricWrapper(fk.metrics.mean_squared_error, name="w"),
                          keras.metrics.MeanMetricWrapper(keras.metrics.mean_squared_error, name="w"))):
        conf = keras.metrics.serialize(theirs)
        assert fk.metrics.serialize(ours) == conf
        back = fk.metrics.deserialize(conf)
        assert type(back) is type(ours) and back.get_config() == ours.get_config()
        assert fk.metrics.get(conf).get_config() == ours.get_config()
    wrapped = fk.metrics.deserialize(fk.metrics.serialize(fk.metrics.MeanMetricWrapper(fk.metrics.huber, delta=0.5)))
    assert wrapped._fn is fk.metrics.huber and wrapped._fn_kwargs == {"delta": 0.5}
    for name in ("mse", "MSE", "mae", "bce", "AUC", "auc", "binary_io_u", "Accuracy", "accuracy", "msle",
                 "top_k_categorical_accuracy", "log_cosh_error", "r2_score"):
        assert type(fk.metrics.get(name)).__name__ == type(keras.metrics.get(name)).__name__, name
    assert fk.metrics.get(None) is None
    assert fk.metrics.get(fk.metrics.hinge) is fk.metrics.hinge
    assert isinstance(fk.metrics.get(fk.metrics.Recall), fk.metrics.Recall)
    m = fk.metrics.Mean()
    assert fk.metrics.get(m) is m
    for bad in ("nonsense", 3):
        with pytest.raises(ValueError, match="Could not interpret metric identifier"):
            fk.metrics.get(bad)
        with pytest.raises(ValueError, match="Could not interpret metric identifier"):
            keras.metrics.get(bad)
    assert fk.metrics.deserialize("mse").name == "mean_squared_error"
    custom = _binary_true_positives(fk)
    conf = fk.metrics.serialize(custom(name="btp"))
    assert conf["class_name"] == "BinaryTruePositives" and conf["config"] == {"name": "btp", "dtype": "float32"}
    assert type(fk.metrics.deserialize(conf, custom_objects={"BinaryTruePositives": custom})) is custom
    with pytest.raises(TypeError, match="Could not locate class 'BinaryTruePositives'"):
        fk.metrics.deserialize(conf)


@pytest.mark.parametrize("make", [
    lambda ns: ns.metrics.Precision(thresholds=[0.5, 1.5]),
    lambda ns: ns.metrics.TruePositives(thresholds=-0.1),
    lambda ns: ns.metrics.AUC(num_thresholds=1),
    lambda ns: ns.metrics.AUC(curve="ROCK"),
    lambda ns: ns.metrics.AUC(summation_method="sideways"),
    lambda ns: ns.metrics.AUC(num_labels=3),
    lambda ns: ns.metrics.SensitivityAtSpecificity(1.5),
    lambda ns: ns.metrics.RecallAtPrecision(0.5, num_thresholds=0),
    lambda ns: ns.metrics.FBetaScore(beta=1),
    lambda ns: ns.metrics.FBetaScore(average="mean"),
    lambda ns: ns.metrics.F1Score(threshold=1.5),
    lambda ns: ns.metrics.R2Score(class_aggregation="median"),
    lambda ns: ns.metrics.R2Score(num_regressors=-1),
    lambda ns: ns.metrics.IoU(3, target_class_ids=[0, 3]),
])
def test_constructor_errors_match_keras(make):
    with pytest.raises(ValueError) as theirs:
        make(keras)
    with pytest.raises(ValueError) as ours:
        make(fk)
    assert str(ours.value).split(".")[0].split(":")[0] == str(theirs.value).split(".")[0].split(":")[0]


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # Keras' one-class warning before the shape error
def test_update_errors_match_keras():
    for ns in (keras, fk):
        with pytest.raises(ValueError, match="2D inputs"):
            ns.metrics.F1Score().update_state(np.ones(4), np.ones(4))
        with pytest.raises(ValueError, match="2D inputs"):
            ns.metrics.R2Score().update_state(np.ones(4), np.ones(4))
        with pytest.raises(ValueError, match="class_id is provided"):
            ns.metrics.Precision(class_id=1).update_state(np.ones(4), np.ones(4))
        for fn in (ns.metrics.binary_crossentropy, ns.metrics.categorical_crossentropy,
                   ns.metrics.binary_focal_crossentropy):  # no reshaping of (N,) targets against (N, 1)
            with pytest.raises(ValueError, match="must have the same shape"):
                fn(np.ones(4, np.float32), np.full((4, 1), 0.5, np.float32))
