"""keras.metrics: Keras 3's stateful metrics (``update_state`` / ``result`` / ``reset_state``, state in
``add_variable`` variables), its per-sample metric functions, and ``serialize`` / ``deserialize`` / ``get``.

Metrics count with fastnn ops on the predictions' device, outside the autograd graph; ``result()`` is a
tensor (``float(m.result())`` brings it to the host). The classes live by family in metrics_base.py
(Metric, Mean, Sum, MeanMetricWrapper), metrics_accuracy.py, metrics_probabilistic.py,
metrics_regression.py, metrics_confusion.py (counts, Precision/Recall, AUC, the *At* metrics),
metrics_fscore.py and metrics_iou.py; the functions in metrics_functions.py."""
from __future__ import annotations

import inspect

from . import _serial
from .layers.base import snake_case
from .metrics_accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                               SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, compile_accuracy)
from .metrics_base import Mean, MeanMetricWrapper, Metric, Sum
from .metrics_confusion import (AUC, FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall,
                                RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
                                TruePositives)
from .metrics_fscore import F1Score, FBetaScore
from .metrics_functions import (FUNCTIONS, binary_accuracy, binary_crossentropy, binary_focal_crossentropy,
                                categorical_accuracy, categorical_crossentropy, categorical_focal_crossentropy,
                                categorical_hinge, concordance_correlation, hinge, huber, kl_divergence, log_cosh,
                                mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                                mean_squared_logarithmic_error, pearson_correlation, poisson,
                                sparse_categorical_accuracy, sparse_categorical_crossentropy,
                                sparse_top_k_categorical_accuracy, squared_hinge, top_k_categorical_accuracy)
from .metrics_iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from .metrics_probabilistic import (BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge, Hinge,
                                    KLDivergence, Poisson, SparseCategoricalCrossentropy, SquaredHinge)
from .metrics_regression import (ConcordanceCorrelation, CosineSimilarity, LogCoshError, MeanAbsoluteError,
                                 MeanAbsolutePercentageError, MeanSquaredError, MeanSquaredLogarithmicError,
                                 PearsonCorrelation, R2Score, RootMeanSquaredError)

__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU", "CategoricalAccuracy",
    "CategoricalCrossentropy", "CategoricalHinge", "ConcordanceCorrelation", "CosineSimilarity", "F1Score",
    "FBetaScore", "FalseNegatives", "FalsePositives", "Hinge", "IoU", "KLDivergence", "LogCoshError", "Mean",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanIoU", "MeanMetricWrapper", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Metric", "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation", "Poisson",
    "Precision", "PrecisionAtRecall", "R2Score", "Recall", "RecallAtPrecision", "RootMeanSquaredError",
    "SensitivityAtSpecificity", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy", "SpecificityAtSensitivity", "SquaredHinge", "Sum", "TopKCategoricalAccuracy",
    "TrueNegatives", "TruePositives", "binary_accuracy", "binary_crossentropy",
    "binary_focal_crossentropy", "categorical_accuracy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "concordance_correlation", "deserialize", "get", "hinge", "huber", "kl_divergence",
    "log_cosh", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "pearson_correlation", "poisson", "serialize", "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy", "sparse_top_k_categorical_accuracy", "squared_hinge",
    "top_k_categorical_accuracy",
]

ALL_OBJECTS = (
    Metric, Mean, Sum, MeanMetricWrapper, MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
    MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, LogCoshError, R2Score, AUC,
    FalseNegatives, FalsePositives, Precision, PrecisionAtRecall, Recall, RecallAtPrecision,
    SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives, TruePositives, ConcordanceCorrelation,
    PearsonCorrelation, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, Accuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, F1Score, FBetaScore, IoU,
    BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU,
)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({snake_case(cls.__name__): cls for cls in ALL_OBJECTS})
ALL_OBJECTS_DICT.update({"bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError,
                         "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                         "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                         "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})


def serialize_function(fn) -> dict:
    """A metric function as Keras writes it: by name."""
    return {"module": "builtins", "class_name": "function", "config": fn.__name__, "registered_name": "function"}


def deserialize_function(config, custom_objects=None):
    name = config["config"] if isinstance(config, dict) else config
    custom = custom_objects or {}
    if name in custom:
        return custom[name]
    if name in FUNCTIONS:
        return FUNCTIONS[name]
    raise ValueError(f"Could not interpret metric function identifier: {name!r}. Pass it in `custom_objects`.")


def serialize(metric):
    """A metric object (or function) as Keras' serialized dict: module, class_name, config, registered_name."""
    if inspect.isfunction(metric):
        return serialize_function(metric)
    if not isinstance(metric, Metric):
        raise TypeError(f"Could not serialize metric {metric!r}: expected a keras.metrics.Metric or a function")
    return _serial.class_config(metric, "keras.metrics", ALL_OBJECTS_DICT.get(type(metric).__name__) is type(metric))


def deserialize(config, custom_objects=None):
    """The metric a ``serialize`` dict (or a registered name) describes."""
    custom = custom_objects or {}
    if isinstance(config, str):
        obj = custom.get(config, ALL_OBJECTS_DICT.get(config, FUNCTIONS.get(config)))
        if obj is None:
            raise ValueError(f"Could not interpret metric identifier: {config}")
        return obj() if inspect.isclass(obj) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret serialized metric: {config!r}")
    if config["class_name"] == "function":
        return deserialize_function(config, custom)
    from .config_lib import find_class  # custom_objects, the registered classes, then keras.metrics

    cls = find_class(config.get("module") or "keras.metrics", config["class_name"], config.get("registered_name"),
                     custom)
    return cls.from_config(config.get("config", {}))


def _keras_get(identifier):
    if identifier is None:
        return None
    return _serial.get_named(identifier, deserialize, ALL_OBJECTS_DICT, "metric")


def get(identifier, loss_name: str | None = None, output_shape=None):
    """Keras' ``metrics.get``: a metric class or instance from a name, a config dict, a class or an
    instance (functions are returned as they are).

    Given ``loss_name`` / ``output_shape`` (the training loop's compile-time call), it resolves as Keras'
    ``compile(metrics=[...])`` does: 'accuracy'/'acc' become the binary, sparse categorical or categorical
    accuracy that fits the targets and outputs (settled on the first batch), a string names the metric it
    gives, and a function is wrapped in a ``MeanMetricWrapper`` named after it."""
    if loss_name is None and output_shape is None:
        return _keras_get(identifier)
    if identifier is None:
        raise ValueError("Expected metric, received `None`")
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return compile_accuracy(identifier, loss_name or "", output_shape)
    obj = _keras_get(identifier)
    if not isinstance(obj, Metric):
        obj = MeanMetricWrapper(obj, name=snake_case(getattr(obj, "__name__", type(obj).__name__)))
    if isinstance(identifier, str):
        obj.name = identifier
    return obj
