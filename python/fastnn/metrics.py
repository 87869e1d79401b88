"""Classification metrics as plain functions over labels (Tensors, NumPy arrays or lists), with
scikit-learn's names and ``average`` conventions: 'binary' (the positive class), 'micro', 'macro',
'weighted'. Classes with no predicted (or no true) samples score 0 instead of dividing by zero.

Labels are brought to the host first: the results are Python floats and NumPy confusion matrices, and
the counting is one pass over two label vectors."""
from __future__ import annotations

import numpy as np

from .backend import backend_of
from ._tensor import Tensor


def _labels(x, name: str) -> np.ndarray:
    arr = backend_of(x._data).to_host(x._data) if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} holds non-integer values: pass class labels (argmax your scores first)")
        arr = arr.astype(np.int64)
    return arr


def _pair(y_true, y_pred):
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred have different lengths: {t.shape[0]} and {p.shape[0]}")
    return t, p


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as j (int64)."""
    t, p = _pair(y_true, y_pred)
    if t.size and (t.min() < 0 or p.min() < 0):
        raise ValueError("class labels must be non-negative integers")
    k = num_classes if num_classes is not None else int(max(t.max(initial=-1), p.max(initial=-1)) + 1)
    if t.size and max(t.max(), p.max()) >= k:
        raise ValueError(f"a label is >= num_classes={k}")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def accuracy(y_true, y_pred) -> float:
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else 0.0


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def _scores(y_true, y_pred, average: str, pos_label: int, which: str) -> float:
    t, p = _pair(y_true, y_pred)
    if average == "binary":
        present = set(np.unique(np.concatenate([t, p])).tolist())
        if not present <= {0, 1}:
            raise ValueError(f"average='binary' needs 0/1 labels, got classes {sorted(present)}; "
                             "choose average='macro', 'micro' or 'weighted'")
        t, p = (t == pos_label).astype(np.int64), (p == pos_label).astype(np.int64)
        cm = confusion_matrix(t, p, 2)
        tp, fp, fn = cm[1, 1], cm[0, 1], cm[1, 0]
        tp, fp, fn = (np.array([v], np.float64) for v in (tp, fp, fn))
    else:
        cm = confusion_matrix(t, p).astype(np.float64)
        tp = np.diag(cm)
        fp = cm.sum(axis=0) - tp
        fn = cm.sum(axis=1) - tp
        if average == "micro":
            tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
        elif average not in ("macro", "weighted"):
            raise ValueError(f"average must be 'binary', 'micro', 'macro' or 'weighted', got {average!r}")
    precision = _safe_div(tp, tp + fp)
    recall = _safe_div(tp, tp + fn)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    per_class = {"precision": precision, "recall": recall, "f1": f1}[which]
    if average == "weighted":
        support = tp + fn
        return float(np.sum(per_class * support) / support.sum()) if support.sum() else 0.0
    return float(per_class.mean())


def precision(y_true, y_pred, average: str = "binary", pos_label: int = 1) -> float:
    return _scores(y_true, y_pred, average, pos_label, "precision")


def recall(y_true, y_pred, average: str = "binary", pos_label: int = 1) -> float:
    return _scores(y_true, y_pred, average, pos_label, "recall")


def f1_score(y_true, y_pred, average: str = "binary", pos_label: int = 1) -> float:
    return _scores(y_true, y_pred, average, pos_label, "f1")


precision_score, recall_score, accuracy_score = precision, recall, accuracy
