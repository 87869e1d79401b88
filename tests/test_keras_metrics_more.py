"""fastnn.keras.metrics against Keras 3.15 (torch backend): every public class updated over several
batches (with and without sample weights), its result after each batch and after reset_state, its
get_config and variables; every metric function's per-sample values; constructor signatures."""
import inspect

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND first)
import zlib

import numpy as np
import pytest

import fastnn
from fastnn import keras as fk

keras = pytest.importorskip("keras")

N, C = 12, 4


def _probs(rng, n, c):
    p = rng.random((n, c)).astype(np.float32) + 0.05
    return p / p.sum(-1, keepdims=True)


DATA = {  # kind -> (y_true, y_pred) of one batch
    "binary": lambda r: (r.integers(0, 2, (N, 1)).astype(np.float32), r.random((N, 1)).astype(np.float32)),
    "binary_flat": lambda r: (r.integers(0, 2, N).astype(np.float32), r.random((N, 1)).astype(np.float32)),
    "onehot": lambda r: (np.eye(C, dtype=np.float32)[r.integers(0, C, N)], _probs(r, N, C)),
    "sparse": lambda r: (r.integers(0, C, N), _probs(r, N, C)),
    "sparse_col": lambda r: (r.integers(0, C, (N, 1)), _probs(r, N, C)),
    "regression": lambda r: (r.random((N, 3)).astype(np.float32) + 0.1, r.random((N, 3)).astype(np.float32) + 0.1),
    "multilabel": lambda r: (r.integers(0, 2, (N, C)).astype(np.float32), r.random((N, C)).astype(np.float32)),
    "labels": lambda r: (r.integers(0, C, N), r.integers(0, C, N)),
    "logits": lambda r: (r.integers(0, 2, (N, C)).astype(np.float32), r.standard_normal((N, C)).astype(np.float32)),
}

CASES = [
    ("Accuracy", {}, "labels"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary_flat"),
    ("CategoricalAccuracy", {}, "onehot"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("SparseCategoricalAccuracy", {}, "sparse_col"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "logits"),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"),
    ("KLDivergence", {}, "onehot"),
    ("Poisson", {}, "regression"),
    ("Hinge", {}, "binary"),
    ("SquaredHinge", {}, "binary"),
    ("CategoricalHinge", {}, "onehot"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "regression"),
    ("RootMeanSquaredError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("LogCoshError", {}, "regression"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, "regression"),
    ("R2Score", {"class_aggregation": None, "num_regressors": 2}, "regression"),
    ("PearsonCorrelation", {}, "regression"),
    ("ConcordanceCorrelation", {}, "regression"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.3, 0.6]}, "binary"),
    ("TrueNegatives", {}, "multilabel"),
    ("FalseNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),
    ("Precision", {}, "multilabel"),
    ("Precision", {"top_k": 2}, "multilabel"),
    ("Recall", {"thresholds": [0.2, 0.7]}, "multilabel"),
    ("Recall", {"class_id": 1}, "multilabel"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "multilabel"),
    ("AUC", {"multi_label": True}, "multilabel"),
    ("AUC", {"multi_label": True, "num_labels": C, "curve": "PR", "label_weights": [1.0, 2.0, 0.5, 1.0]},
     "multilabel"),
    ("AUC", {"curve": "PR", "summation_method": "majoring", "num_thresholds": 50}, "binary"),
    ("AUC", {"summation_method": "minoring"}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.5, 0.8]}, "binary"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"from_logits": True, "label_weights": [1.0, 2.0, 3.0, 4.0]}, "logits"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5, "num_thresholds": 1}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.5}, "multilabel"),
    ("RecallAtPrecision", {"precision": 0.6, "class_id": 2}, "multilabel"),
    ("F1Score", {}, "onehot"),
    ("F1Score", {"average": "micro"}, "onehot"),
    ("FBetaScore", {"beta": 2.0, "average": "weighted", "threshold": 0.3}, "multilabel"),
    ("FBetaScore", {"average": "macro"}, "onehot"),
    ("IoU", {"num_classes": C, "target_class_ids": [0, 2]}, "labels"),
    ("MeanIoU", {"num_classes": C}, "labels"),
    ("MeanIoU", {"num_classes": C, "ignore_class": 0}, "labels"),
    ("BinaryIoU", {}, "binary"),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary"),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [1, 3]}, "onehot"),
    ("OneHotMeanIoU", {"num_classes": C}, "onehot"),
]


def _np(x):
    return np.asarray(x) if isinstance(x, fastnn.Tensor) else np.asarray(keras.ops.convert_to_numpy(x))


def _same_result(ours, theirs, what):
    a, b = _np(ours.result()), _np(theirs.result())
    assert a.shape == b.shape, what
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=what)


def _weights(rng, name):
    if "IoU" in name:  # Keras' IoU state is integer: integer weights
        return rng.integers(0, 3, N).astype(np.int32)
    return rng.uniform(0.0, 2.0, N).astype(np.float32)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name,kwargs,kind", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_metric_matches_keras_over_batches(name, kwargs, kind, weighted):
    # crc32, not hash(): str hashes change per process (PYTHONHASHSEED), and so would the data
    rng = np.random.default_rng(zlib.crc32(f"{name}/{kind}".encode()))
    ours = getattr(fk.metrics, name)(name="m", **kwargs)
    theirs = getattr(keras.metrics, name)(name="m", **kwargs)
    try:  # before any update: the same value, or the same error where the state is built on first use
        before = _np(theirs.result())
    except AttributeError:
        with pytest.raises(AttributeError):
            ours.result()
    else:
        np.testing.assert_allclose(_np(ours.result()), before, atol=1e-6)
    for step in range(3):
        y_true, y_pred = DATA[kind](rng)
        sw = _weights(rng, name) if weighted else None
        theirs.update_state(y_true, y_pred, sample_weight=sw)
        ours.update_state(y_true, fastnn.tensor(y_pred) if step % 2 else y_pred, sample_weight=sw)
        _same_result(ours, theirs, f"{name} after batch {step}")
    assert [tuple(v.shape) for v in ours.variables] == [tuple(v.shape) for v in theirs.variables]
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
    ours.reset_state()
    theirs.reset_state()
    a, b = _np(ours.result()), _np(theirs.result())
    np.testing.assert_allclose(a, b, atol=1e-6, equal_nan=True)
    want = theirs.get_config()
    if want.get("label_weights") is not None:  # Keras keeps a tensor there; fastnn the list given
        want["label_weights"] = _np(want["label_weights"]).tolist()
    assert ours.get_config() == want
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_default_names_are_keras_auto_names():
    import re

    def base(name):  # auto names count up per process: precision, precision_1, ...
        return re.sub(r"_\d+$", "", name)

    for cls in ("Precision", "AUC", "BinaryIoU", "TruePositives", "MeanIoU", "SensitivityAtSpecificity"):
        kw = {"num_classes": 2} if cls == "MeanIoU" else {"specificity": 0.5} if "At" in cls else {}
        assert base(getattr(fk.metrics, cls)(**kw).name) == base(getattr(keras.metrics, cls)(**kw).name), cls
    assert fk.metrics.BinaryIoU().name.startswith("binary_io_u")
    first, second = fk.metrics.Recall(), fk.metrics.Recall()
    assert first.name != second.name and second.name.startswith("recall")
    assert fk.metrics.Mean().name == "mean" and fk.metrics.LogCoshError().name == "logcosh"


def _fn_cases(rng):
    onehot = np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]
    pr = _probs(rng, N, C)
    labels = rng.integers(0, C, N)
    yb, pb = rng.integers(0, 2, (N, 1)).astype(np.float32), rng.random((N, 1)).astype(np.float32)
    rt, rp = rng.standard_normal((N, 3)).astype(np.float32), rng.standard_normal((N, 3)).astype(np.float32)
    logits = rng.standard_normal((N, C)).astype(np.float32)
    sorted_ids = np.argsort(-pr, -1).astype(np.float32)
    return [
        ("binary_accuracy", yb, pb, {}), ("binary_accuracy", yb[:, 0], pb, {"threshold": 0.3}),
        ("categorical_accuracy", onehot, pr, {}), ("sparse_categorical_accuracy", labels, pr, {}),
        ("sparse_categorical_accuracy", labels[:, None], pr, {}), ("top_k_categorical_accuracy", onehot, pr, {"k": 2}),
        ("sparse_top_k_categorical_accuracy", labels, pr, {"k": 2}),
        ("sparse_top_k_categorical_accuracy", labels, sorted_ids, {"k": 2, "from_sorted_ids": True}),
        ("binary_crossentropy", yb, pb, {}),
        ("binary_crossentropy", onehot, logits, {"from_logits": True, "label_smoothing": 0.2}),
        ("categorical_crossentropy", onehot, pr, {"label_smoothing": 0.1}),
        ("categorical_crossentropy", onehot, logits, {"from_logits": True}),
        ("sparse_categorical_crossentropy", labels, pr, {}),
        ("sparse_categorical_crossentropy", labels, logits, {"from_logits": True, "ignore_class": 2}),
        ("binary_focal_crossentropy", onehot, pr, {}),
        ("binary_focal_crossentropy", onehot, logits, {"from_logits": True, "apply_class_balancing": True,
                                                       "gamma": 1.5}),
        ("categorical_focal_crossentropy", onehot, pr, {}),
        ("categorical_focal_crossentropy", onehot, logits, {"from_logits": True, "label_smoothing": 0.1}),
        ("hinge", yb, pb, {}), ("hinge", 2 * yb - 1, pb, {}), ("squared_hinge", onehot, logits, {}),
        ("categorical_hinge", onehot, pr, {}), ("huber", rt, rp, {}), ("huber", rt, rp, {"delta": 0.3}),
        ("kl_divergence", onehot, pr, {}), ("log_cosh", rt, rp, {}), ("mean_absolute_error", rt, rp, {}),
        ("mean_squared_error", rt, rp, {}), ("mean_squared_error", rt[:, 0], rp[:, :1], {}),
        ("mean_absolute_percentage_error", rt, rp, {}),
        ("mean_squared_logarithmic_error", np.abs(rt), np.abs(rp), {}), ("poisson", np.abs(rt), np.abs(rp), {}),
        ("concordance_correlation", rt, rp, {}), ("pearson_correlation", rt, rp, {}),
        ("pearson_correlation", rt, rp, {"axis": 0}),
    ]


@pytest.mark.filterwarnings("ignore")
def test_metric_functions_match_keras_per_sample():
    rng = np.random.default_rng(1)
    for name, yt, yp, kw in _fn_cases(rng):
        ours = getattr(fk.metrics, name)(yt, fastnn.tensor(yp), **kw)
        theirs = _np(getattr(keras.metrics, name)(yt, yp, **kw))
        assert isinstance(ours, fastnn.Tensor), name
        assert tuple(ours.shape) == theirs.shape, name
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-5, atol=1e-6, err_msg=f"{name} {kw}")


def test_loss_like_functions_are_differentiable():
    import torch

    rng = np.random.default_rng(2)
    yt = np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]
    x = rng.standard_normal((N, C)).astype(np.float32)
    for name in ("categorical_focal_crossentropy", "binary_focal_crossentropy", "log_cosh", "huber"):
        p = fastnn.tensor(x, requires_grad=True)
        getattr(fk.metrics, name)(yt, p, **({"from_logits": True} if "focal" in name else {})).sum().backward()
        tp = torch.tensor(x, requires_grad=True)
        getattr(keras.metrics, name)(torch.tensor(yt), tp, **({"from_logits": True} if "focal" in name else {})
                                     ).sum().backward()
        np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_every_keras_metric_name_exists_with_keras_signature():
    names = [n for n in dir(keras.metrics) if not n.startswith("_")]
    assert [n for n in names if not hasattr(fk.metrics, n)] == []
    for n in names:
        if n == "get":  # fastnn's get also takes the loss name / output shape compile resolves 'accuracy' by
            continue
        want = [(p.name, p.default, p.kind) for p in inspect.signature(getattr(keras.metrics, n)).parameters.values()]
        got = [(p.name, p.default, p.kind) for p in inspect.signature(getattr(fk.metrics, n)).parameters.values()]
        assert got == want, n
    got = list(inspect.signature(fk.metrics.get).parameters)
    assert got[0] == "identifier"
