"""Keras metrics: stateful objects (``update_state`` / ``result`` / ``reset_state``) accumulated over an
epoch from the predictions' arrays (metrics never enter the autograd graph).

Each step's counting runs in the predictions' array module (host targets are moved there) and folds into
Python floats; what a result needs whole (F1's per-class counts, AUC's scores) is brought to the host
only when ``result()`` asks."""
from __future__ import annotations

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from .layers.base import snake_case


def _arrays(y_true, y_pred):
    """(targets, predictions, backend): both arrays on the predictions' backend (targets may be host data)."""
    yp = y_pred._data if isinstance(y_pred, Tensor) else np.asarray(y_pred)
    be = backend_of(yp)
    return _on(be, y_true), yp, be


def _on(be, x):
    return x._data if isinstance(x, Tensor) else be.asarray(x)


class Metric:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self.reset_state()

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def values(self, y_true, y_pred):
        """One value per sample, from two arrays of one backend (array methods and operators only)."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp, be = _arrays(y_true, y_pred)
        v = self.values(yt, yp).astype(np.float64).reshape(-1)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += float(v.size)
        else:
            w = be.xp.broadcast_to(_on(be, sample_weight).reshape(-1), v.shape)
            self.total += float((v * w).sum())
            self.count += float(w.sum())

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


def _host_tensor(values):
    from ..creation import tensor

    return tensor(values, dtype="float64")


class Mean(Metric):
    """The (weighted) mean of every value given to ``update_state(values, sample_weight=None)`` so far: the
    loss tracker a custom ``train_step`` keeps, as ``keras.metrics.Mean``."""

    def __init__(self, name: str = "mean", dtype=None) -> None:
        super().__init__(name)

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        v = values._data if isinstance(values, Tensor) else _host_tensor(values)._data
        be = backend_of(v)
        v = v.astype(np.float64)
        w = None
        if sample_weight is not None:
            w = _on(be, sample_weight).astype(np.float64)
            w = be.xp.broadcast_to(w.reshape(w.shape + (1,) * (v.ndim - w.ndim)), v.shape)
            v = v * w
        if v.ndim > 1:  # Keras reduces each sample to one value (and one weight) first: the trailing mean
            axes = tuple(range(1, v.ndim))
            v = v.mean(axis=axes)
            w = None if w is None else w.mean(axis=axes)
        self.total += float(v.sum())
        self.count += float(v.size if w is None else w.sum())

    def __call__(self, values, sample_weight=None) -> float:  # type: ignore[override]
        self.update_state(values, sample_weight)
        return self.result()


class Sum(Mean):
    """The (weighted) sum of every value given to ``update_state`` so far, as ``keras.metrics.Sum``."""

    def __init__(self, name: str = "sum", dtype=None) -> None:
        super().__init__(name)

    def update_state(self, values, sample_weight=None) -> None:  # type: ignore[override]
        v = values._data if isinstance(values, Tensor) else _host_tensor(values)._data
        be = backend_of(v)
        v = v.astype(np.float64)
        if sample_weight is not None:  # every weighted value counts (no per-sample reduction, as Keras' Sum)
            w = _on(be, sample_weight).astype(np.float64)
            v = v * be.xp.broadcast_to(w.reshape(w.shape + (1,) * (v.ndim - w.ndim)), v.shape)
        self.total += float(v.sum())

    def result(self) -> float:
        return self.total


def _labels_like(y_true, y_pred):
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1 and y_pred.shape[-1] != 1:
        y_true = y_true[..., 0]
    return y_true


class BinaryAccuracy(Metric):
    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        y_true = y_true.reshape(y_pred.shape) if y_true.size == y_pred.size else y_true
        return ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1) if y_pred.ndim > 1 else \
            ((y_pred > self.threshold) == (y_true > 0.5))


class CategoricalAccuracy(Metric):
    def values(self, y_true, y_pred):
        return y_true.argmax(-1) == y_pred.argmax(-1)


class SparseCategoricalAccuracy(Metric):
    def values(self, y_true, y_pred):
        return _labels_like(y_true, y_pred).astype(np.int64) == y_pred.argmax(-1)


class Accuracy(Metric):
    """Exact equality of labels (Keras' plain Accuracy)."""

    def values(self, y_true, y_pred):
        return y_true.reshape(y_pred.shape) == y_pred


class MeanSquaredError(Metric):
    def values(self, y_true, y_pred):
        d = y_pred - y_true.reshape(y_pred.shape)
        return (d * d).mean(axis=-1) if d.ndim > 1 else d * d


class MeanAbsoluteError(Metric):
    def values(self, y_true, y_pred):
        d = abs(y_pred - y_true.reshape(y_pred.shape))
        return d.mean(axis=-1) if d.ndim > 1 else d


class _Confusion(Metric):
    """Counts true/false positives and negatives; binary outputs thresholded, one-hot/multi-label outputs
    counted per element (Keras' micro-averaged Precision/Recall)."""

    def __init__(self, name: str | None = None, thresholds: float = 0.5) -> None:
        self.threshold = thresholds
        super().__init__(name)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = self.tn = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp, _ = _arrays(y_true, y_pred)
        yt = yt.reshape(yp.shape) if yt.size == yp.size else yt
        pred, true = yp > self.threshold, yt > 0.5
        self.tp += float((pred & true).sum())
        self.fp += float((pred & ~true).sum())
        self.fn += float((~pred & true).sum())
        self.tn += float((~pred & ~true).sum())


class Precision(_Confusion):
    def result(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0


class Recall(_Confusion):
    def result(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


class F1Score(Metric):
    """F1 over one-hot (or binary) targets: average None (per class), 'micro', 'macro' or 'weighted';
    predictions are argmax-ed when ``threshold`` is None (multi-class), else thresholded."""

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str = "f1_score") -> None:
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"Invalid `average` argument value. Expected one of: {{None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        self.average, self.threshold = average, threshold
        super().__init__(name)

    def reset_state(self) -> None:
        self.tp = self.fp = self.fn = None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp, be = _arrays(y_true, y_pred)
        if yp.ndim == 1:
            yp, yt = yp[:, None], yt.reshape(-1, 1)
        if self.threshold is None and yp.shape[-1] > 1:  # one-hot of the argmax
            pred = yp.argmax(-1)[..., None] == be.xp.arange(yp.shape[-1])
        else:
            pred = yp > (0.5 if self.threshold is None else self.threshold)
        true = yt.reshape(yp.shape) > 0.5
        tp, fp, fn = (pred & true).sum(0), (pred & ~true).sum(0), (~pred & true).sum(0)
        if self.tp is None:
            self.tp, self.fp, self.fn = tp.astype(np.float64), fp.astype(np.float64), fn.astype(np.float64)
        else:
            self.tp += tp
            self.fp += fp
            self.fn += fn

    def result(self):
        if self.tp is None:
            return 0.0
        be = backend_of(self.tp)
        tp, fp, fn = be.to_host(self.tp), be.to_host(self.fp), be.to_host(self.fn)  # a result is host data
        if self.average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        den = 2 * tp + fp + fn
        f1 = np.divide(2 * tp, den, out=np.zeros_like(np.asarray(den, np.float64)), where=np.asarray(den) != 0)
        if self.average == "macro":
            return float(np.mean(f1))
        if self.average == "weighted":
            support = tp + fn
            return float(np.sum(f1 * support) / support.sum()) if support.sum() else 0.0
        return float(f1) if np.ndim(f1) == 0 else f1


class AUC(Metric):
    """ROC AUC computed exactly from the accumulated scores (ties counted as half)."""

    def reset_state(self) -> None:
        self.scores, self.labels = [], []

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        yt, yp, _ = _arrays(y_true, y_pred)
        self.scores.append(yp.reshape(-1).astype(np.float64))
        self.labels.append(yt.reshape(-1) > 0.5)

    def result(self) -> float:
        if not self.scores:
            return 0.0
        be = backend_of(self.scores[0])  # the ranking runs once, on the host, over every step's scores
        s = be.to_host(be.xp.concatenate(self.scores))
        y = be.to_host(be.xp.concatenate(self.labels))
        pos, neg = int(y.sum()), int((~y).sum())
        if pos == 0 or neg == 0:
            return 0.0
        order = np.argsort(s, kind="mergesort")
        ranks = np.empty(len(s))
        sorted_s = s[order]
        # average ranks over ties (Mann-Whitney U)
        _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
        avg = first + (counts + 1) / 2.0
        ranks[order] = np.repeat(avg, counts)
        return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


_BY_NAME = {"binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
            "sparse_categorical_accuracy": SparseCategoricalAccuracy, "mse": MeanSquaredError,
            "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
            "mean_absolute_error": MeanAbsoluteError, "precision": Precision, "recall": Recall, "auc": AUC}


def get(identifier, loss_name: str = "", output_shape=None) -> Metric:
    """A Metric from a name or instance. 'accuracy'/'acc' becomes the variant Keras picks from the loss and
    the output's shape: binary (one output unit or a binary loss), sparse categorical, or categorical."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    key = str(identifier).lower()
    if key in ("accuracy", "acc"):
        if "binary" in loss_name or "hinge" in loss_name or (output_shape and output_shape[-1] == 1):
            return BinaryAccuracy(name=identifier)
        if "sparse" in loss_name:
            return SparseCategoricalAccuracy(name=identifier)
        return CategoricalAccuracy(name=identifier)
    if key not in _BY_NAME:
        raise ValueError(f"Unknown metric function: '{identifier}' (known: accuracy, {', '.join(sorted(_BY_NAME))})")
    return _BY_NAME[key](name=identifier)
