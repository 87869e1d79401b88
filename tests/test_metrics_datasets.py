"""fastnn.metrics against scikit-learn's definitions; fastnn.datasets' digits and text corpus."""
import numpy as np
import pytest

import fastnn
from fastnn import metrics


def test_metrics_match_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for k in (2, 3, 7):
        t, p = rng.integers(0, k, 200), rng.integers(0, k, 200)
        p[:5] = 0  # class 0 always predicted; some runs leave a class unpredicted
        np.testing.assert_array_equal(metrics.confusion_matrix(t, p, k), skm.confusion_matrix(t, p, labels=range(k)))
        assert metrics.accuracy(t, p) == pytest.approx(skm.accuracy_score(t, p))
        averages = ["micro", "macro", "weighted"] + (["binary"] if k == 2 else [])
        for avg in averages:
            for ours, theirs in ((metrics.precision, skm.precision_score), (metrics.recall, skm.recall_score),
                                 (metrics.f1_score, skm.f1_score)):
                assert ours(t, p, average=avg) == pytest.approx(theirs(t, p, average=avg, zero_division=0)), avg


def test_metrics_accept_tensors_and_validate():
    t = fastnn.tensor([0, 1, 1, 0])
    assert metrics.accuracy(t, fastnn.tensor([0, 1, 0, 0])) == 0.75
    assert metrics.precision([0, 0], [0, 0]) == 0.0  # no positive predictions: 0, not a division error
    with pytest.raises(ValueError, match="binary"):
        metrics.f1_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="different lengths"):
        metrics.accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="non-integer"):
        metrics.accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="average"):
        metrics.recall([0, 1], [0, 1], average="samples")


def test_digits_are_read_offline_and_split_stratified():
    pytest.importorskip("sklearn")
    x, y = fastnn.datasets.load_digits()
    assert x.shape == (1797, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1.0
    assert sorted(np.unique(y).tolist()) == list(range(10))
    xtr, ytr = fastnn.datasets.load_digits("train", seed=1)
    xte, yte = fastnn.datasets.load_digits("test", seed=1, flatten=True)
    assert len(ytr) + len(yte) == 1797 and xte.shape[1] == 64
    assert abs(len(yte) / 1797 - 0.2) < 0.01 and np.bincount(yte).min() >= 30
    again = fastnn.datasets.load_digits("test", seed=1, flatten=True)[1]
    np.testing.assert_array_equal(yte, again)
    with pytest.raises(ValueError):
        fastnn.datasets.load_digits("valid")


def test_missing_sklearn_gives_a_clear_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install scikit-learn"):
        fastnn.datasets.load_digits()


def test_stdlib_corpus_is_stable_and_sizeable():
    s = fastnn.datasets.stdlib_sentences()
    assert len(s) > 1000 and all(5 <= len(x.split()) <= 64 for x in s)
    assert s == fastnn.datasets.stdlib_sentences() and len(set(s)) == len(s)
