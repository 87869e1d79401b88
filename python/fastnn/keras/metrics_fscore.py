"""Keras' F-beta and F1 scores over (batch, classes) predictions: per-class (weighted) counts accumulated,
the score per class, or averaged "micro" (counts pooled), "macro" or "weighted" (by support)."""
from __future__ import annotations

import fastnn

from .metrics_base import EPSILON, Metric, as_tensor


class FBetaScore(Metric):
    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: {None, 'micro', 'macro', "
                             f"'weighted'}}. Received: average={average}")
        if not isinstance(beta, float):
            raise ValueError(f"Invalid `beta` argument value. It should be a Python float. Received: beta={beta} "
                             f"of type '{type(beta)}'")
        if beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: beta={beta}")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError("Invalid `threshold` argument value. It should be a Python float. Received: "
                                 f"threshold={threshold} of type '{type(threshold)}'")
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError("Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                                 f"Received: threshold={threshold}")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape, y_pred_shape) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}.")
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives", "intermediate_weights"):
            setattr(self, name, self.add_variable(name=name, shape=shape, initializer="zeros", dtype=self.dtype))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, self.dtype)
        y_true = as_tensor(y_true, self.dtype, like=y_pred)
        if not self._built:
            self._build(tuple(y_true.shape), tuple(y_pred.shape))
            if y_pred.device.type != "cpu":
                self._follow(y_pred.device)
        if self.threshold is None:  # the row's maximum (ties all count), unless it is ~0
            top = y_pred.amax(-1, keepdim=True)
            pred = (y_pred >= top) & (y_pred.abs() > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.to(y_pred.dtype)
        w = None if sample_weight is None else as_tensor(sample_weight, self.dtype, like=y_pred).unsqueeze(1)

        def wsum(v):
            if w is not None:
                v = v * w
            return v.sum() if self.axis is None else v.sum(self.axis)

        self.true_positives.assign(self.true_positives + wsum(pred * y_true))
        self.false_positives.assign(self.false_positives + wsum(pred * (1 - y_true)))
        self.false_negatives.assign(self.false_negatives + wsum((1 - pred) * y_true))
        self.intermediate_weights.assign(self.intermediate_weights + wsum(y_true))

    def result(self):
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            iw = self.intermediate_weights.value
            return (f * (iw / (iw.sum() + EPSILON))).sum()
        if self.average is not None:
            return f.mean()
        return f

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}

    def reset_state(self) -> None:
        for v in self.variables:
            v.assign(fastnn.zeros_like(v))


class F1Score(FBetaScore):
    """FBetaScore with beta = 1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
