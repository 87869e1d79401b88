"""Keras' regression and correlation metrics: running means of the per-sample errors, the root mean
squared error, and R2Score (accumulated sums per output column)."""
from __future__ import annotations

import warnings

import fastnn

from . import metrics_functions as fns
from .metrics_accuracy import _Wrapped
from .metrics_base import Mean, Metric, as_tensor, squeeze_or_expand_to_same_rank


class MeanSquaredError(_Wrapped):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(fn=fns.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_Wrapped):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(fns.mean_absolute_error, name, dtype=dtype)


class MeanAbsolutePercentageError(_Wrapped):
    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(fns.mean_absolute_percentage_error, name, dtype=dtype)


class MeanSquaredLogarithmicError(_Wrapped):
    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(fns.mean_squared_logarithmic_error, name, dtype=dtype)


class CosineSimilarity(_Wrapped):
    """The mean cosine similarity along ``axis`` (Keras' config holds only name and dtype)."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(fns.cosine_similarity, name, dtype=dtype, axis=axis)


class LogCoshError(_Wrapped):
    def __init__(self, name="logcosh", dtype=None):
        super().__init__(fns.log_cosh, name, dtype=dtype)


class PearsonCorrelation(_Wrapped):
    _config = ("axis",)

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(fn=fns.pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(_Wrapped):
    _config = ("axis",)

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(fn=fns.concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean squared error."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, self.dtype)
        y_true = as_tensor(y_true, self.dtype, like=y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return super().update_state((y_pred - y_true).square(), sample_weight=sample_weight)

    def result(self):
        return super().result().sqrt()


class R2Score(Metric):
    """The coefficient of determination over (batch, outputs) data, per output then aggregated
    (``class_aggregation``: None, "uniform_average" or "variance_weighted_average"); adjusted for
    ``num_regressors`` when given."""

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of {valid}. "
                             f"Received: class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value >= 0. "
                             f"Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable(shape=(), initializer="zeros", name="num_samples")
        self._built = False

    def _build(self, y_true_shape, y_pred_shape) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). Received input "
                             f"shapes: y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}.")
        n = y_pred_shape[-1]
        self.squared_sum = self.add_variable(name="squared_sum", shape=[n], initializer="zeros")
        self.sum = self.add_variable(name="sum", shape=[n], initializer="zeros")
        self.total_mse = self.add_variable(name="residual", shape=[n], initializer="zeros")
        self.count = self.add_variable(name="count", shape=[n], initializer="zeros")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, self.dtype)
        y_true = as_tensor(y_true, self.dtype, like=y_pred)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(tuple(y_true.shape), tuple(y_pred.shape))
        w = as_tensor(1 if sample_weight is None else sample_weight, self.dtype, like=y_true)
        if w.dim() == 1:
            w = w.unsqueeze(1)
        w = fastnn.broadcast_to(w, tuple(y_true.shape))
        weighted = y_true * w
        self.sum.assign(self.sum + weighted.sum(0))
        self.squared_sum.assign(self.squared_sum + (y_true * weighted).sum(0))
        self.total_mse.assign(self.total_mse + ((y_true - y_pred).square() * w).sum(0))
        self.count.assign(self.count + w.sum(0))
        self.num_samples.assign(self.num_samples + y_true.numel())

    def result(self):
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        raw = 1 - self.total_mse / total
        raw = fastnn.where(raw.isinf(), fastnn.zeros_like(raw), raw)
        if self.class_aggregation == "uniform_average":
            r2 = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            r2 = (total * raw).sum() / total.sum()
        else:
            r2 = raw
        if self.num_regressors != 0:
            n = float(self.num_samples)
            if self.num_regressors > n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back "
                              "to standard R2 score.", stacklevel=2)
            elif self.num_regressors == n - 1:
                warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                              stacklevel=2)
            else:
                r2 = 1.0 - (1.0 - r2) * (n - 1.0) / (n - self.num_regressors - 1.0)
        return r2

    def get_config(self) -> dict:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
