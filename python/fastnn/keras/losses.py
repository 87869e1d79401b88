"""keras.losses: Keras 3's loss functions (y_true, y_pred) -> unreduced losses, usually the mean over the
last axis, and their Loss classes, which reduce them ('sum_over_batch_size' by default) with optional
sample weights (loss_base.py). Probabilities are clipped to [1e-7, 1 - 1e-7] before a log, as Keras does.

Targets are often host data (NumPy batches); they become tensors on the predictions' device. The
functions of the other families live beside this file (losses_probabilistic.py, losses_regression.py,
losses_similarity.py, losses_ctc.py)."""
from __future__ import annotations

import fastnn
from .. import ops
from . import _serial
from ..backend import backend_of
from .._tensor import Tensor
from ..ops.probs_crossentropy import sparse_probs_crossentropy
from .loss_base import (EPSILON, Loss, LossFunctionWrapper, check_axis, convert, float_pair,  # noqa: F401
                        same_shape, set_loss_mask, smooth_labels, squeeze_or_expand_to_same_rank, warn_one_class)
from .ops import nn as _kops_nn


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = squeeze_or_expand_to_same_rank(*float_pair(y_true, y_pred))
    d = y_true - y_pred
    return (d * d).mean(-1)


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = squeeze_or_expand_to_same_rank(*float_pair(y_true, y_pred))
    return (y_true - y_pred).abs().mean(-1)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1):
    y_true, y_pred = float_pair(y_true, y_pred)
    y_true = smooth_labels(y_true, label_smoothing, 2.0)
    same_shape(y_true, y_pred)
    return _kops_nn.binary_crossentropy(y_true, y_pred, from_logits=from_logits).mean(axis)


def categorical_log_probs(y_pred, from_logits: bool, axis):
    """log_softmax of logits, or the log of probabilities renormalised over ``axis`` and clipped."""
    if from_logits:
        return ops.log_softmax(y_pred, axis)
    p = y_pred / y_pred.sum(axis, keepdim=True)
    return p.clamp(EPSILON, 1.0 - EPSILON).log()


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis=-1):
    check_axis(axis)
    y_true, y_pred = float_pair(y_true, y_pred)
    warn_one_class("categorical_crossentropy", y_pred)
    if label_smoothing:
        y_true = smooth_labels(y_true, label_smoothing, y_true.shape[-1])
    same_shape(y_true, y_pred)
    if y_true.ndim < 1:
        raise ValueError(f"Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    return -(y_true * categorical_log_probs(y_pred, from_logits, axis)).sum(axis)


def _label_array(y_true, y_pred):
    """The labels as an int64 array on the predictions' backend (float labels, as Loss passes them, too)."""
    arr = y_true._data if isinstance(y_true, Tensor) else backend_of(y_pred._data).asarray(y_true)
    return arr.astype("int64", copy=False)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, ignore_class=None, axis=-1):
    y_pred = convert(y_pred)
    labels = _label_array(y_true, y_pred)
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = labels.squeeze(axis)
    if y_pred.ndim < 1:
        raise ValueError(f"Argument `output` must be at least rank 1. Received: output.shape={tuple(y_pred.shape)}")
    class_axis = axis % y_pred.ndim
    xp = backend_of(y_pred._data, labels).xp
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = xp.where(valid, labels, 0)
        y_pred = ops.where(Tensor._wrap(xp.expand_dims(valid, class_axis)), y_pred, 0.0)
    if class_axis != y_pred.ndim - 1:
        y_pred = y_pred.movedim(class_axis, -1)
    if labels.shape != tuple(y_pred.shape[:-1]):
        raise ValueError(f"Arguments `target` and `output` must have the same shape up until the last dimension: "
                         f"target.shape={labels.shape}, output.shape={tuple(convert(y_pred).shape)}")
    classes = y_pred.shape[-1]
    # torch's error, as Keras' torch backend raises it; one device-to-host read per batch (the bounds only
    # when they are wrong)
    if labels.size and bool(xp.any((labels < 0) | (labels >= classes))):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= classes:
            raise IndexError(f"Target {high if high >= classes else low} is out of bounds.")
    if from_logits:
        # The fused native softmax + cross-entropy: one pass over the logits, forward and backward. The
        # labels are copied: they may be the caller's own array.
        per = ops.cross_entropy(y_pred.reshape(-1, classes), Tensor._wrap(labels.reshape(-1).copy()),
                                reduction="none").reshape(labels.shape)
    else:
        # Keras' -log(clip(p / sum(p))) at the label, as one node (fastnn.ops.probs_crossentropy)
        per = sparse_probs_crossentropy(y_pred, labels, EPSILON)
    if valid is not None:
        mask = Tensor._wrap(valid)
        per = ops.where(mask, per, 0.0)
        set_loss_mask(per, mask)
    return per


def _hinge_labels(y_true, y_pred):
    """Keras maps labels that are all 0 or 1 to -1 / 1."""
    arr = y_true._data
    binary = bool(((arr == 0) | (arr == 1)).all()) if arr.size else True
    return y_true * 2.0 - 1.0 if binary else y_true


def hinge(y_true, y_pred):
    y_true, y_pred = float_pair(y_true, y_pred)
    return ops.relu(1.0 - _hinge_labels(y_true, y_pred) * y_pred).mean(-1)


def squared_hinge(y_true, y_pred):
    y_true, y_pred = float_pair(y_true, y_pred)
    h = ops.relu(1.0 - _hinge_labels(y_true, y_pred) * y_pred)
    return (h * h).mean(-1)


def categorical_hinge(y_true, y_pred):
    y_true, y_pred = float_pair(y_true, y_pred)
    pos = (y_true * y_pred).sum(-1)
    neg = fastnn.amax((1.0 - y_true) * y_pred, dim=-1)
    return ops.relu(neg - pos + 1.0)


# The other families' functions (each file imports the helpers above: import them after).
from .losses_probabilistic import (binary_focal_crossentropy, categorical_focal_crossentropy,  # noqa: E402
                                   categorical_generalized_cross_entropy, kl_divergence, poisson)
from .losses_regression import (cosine_similarity, huber, log_cosh, mean_absolute_percentage_error,  # noqa: E402
                                mean_squared_logarithmic_error)
from .losses_similarity import circle, dice, tversky  # noqa: E402
from .losses_ctc import ctc  # noqa: E402


# ---- the Loss classes: each wraps its function with Keras' constructor signature and config -------------
class _Wrapped(LossFunctionWrapper):
    """A built-in loss class: its config is Loss's plus ``_config_keys`` (as Keras lists them)."""

    _config_keys: tuple = ()

    def __init__(self, fn, reduction, name, dtype, **kwargs) -> None:
        super().__init__(fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key in self._config_keys:
            setattr(self, key, kwargs[key])

    def get_config(self) -> dict:
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in self._config_keys}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


_SBS = "sum_over_batch_size"


class MeanSquaredError(_Wrapped):
    def __init__(self, reduction=_SBS, name="mean_squared_error", dtype=None) -> None:
        super().__init__(mean_squared_error, reduction, name, dtype)


class MeanAbsoluteError(_Wrapped):
    def __init__(self, reduction=_SBS, name="mean_absolute_error", dtype=None) -> None:
        super().__init__(mean_absolute_error, reduction, name, dtype)


class MeanAbsolutePercentageError(_Wrapped):
    def __init__(self, reduction=_SBS, name="mean_absolute_percentage_error", dtype=None) -> None:
        super().__init__(mean_absolute_percentage_error, reduction, name, dtype)


class MeanSquaredLogarithmicError(_Wrapped):
    def __init__(self, reduction=_SBS, name="mean_squared_logarithmic_error", dtype=None) -> None:
        super().__init__(mean_squared_logarithmic_error, reduction, name, dtype)


class CosineSimilarity(_Wrapped):
    def __init__(self, axis=-1, reduction=_SBS, name="cosine_similarity", dtype=None) -> None:
        super().__init__(cosine_similarity, reduction, name, dtype, axis=axis)


class Huber(_Wrapped):
    def __init__(self, delta=1.0, reduction=_SBS, name="huber_loss", dtype=None) -> None:
        super().__init__(huber, reduction, name, dtype, delta=delta)


class LogCosh(_Wrapped):
    def __init__(self, reduction=_SBS, name="log_cosh", dtype=None) -> None:
        super().__init__(log_cosh, reduction, name, dtype)


class Hinge(_Wrapped):
    def __init__(self, reduction=_SBS, name="hinge", dtype=None) -> None:
        super().__init__(hinge, reduction, name, dtype)


class SquaredHinge(_Wrapped):
    def __init__(self, reduction=_SBS, name="squared_hinge", dtype=None) -> None:
        super().__init__(squared_hinge, reduction, name, dtype)


class CategoricalHinge(_Wrapped):
    def __init__(self, reduction=_SBS, name="categorical_hinge", dtype=None) -> None:
        super().__init__(categorical_hinge, reduction, name, dtype)


class KLDivergence(_Wrapped):
    def __init__(self, reduction=_SBS, name="kl_divergence", dtype=None) -> None:
        super().__init__(kl_divergence, reduction, name, dtype)


class Poisson(_Wrapped):
    def __init__(self, reduction=_SBS, name="poisson", dtype=None) -> None:
        super().__init__(poisson, reduction, name, dtype)


class BinaryCrossentropy(_Wrapped):
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_SBS,
                 name="binary_crossentropy", dtype=None) -> None:
        super().__init__(binary_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class BinaryFocalCrossentropy(_Wrapped):
    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction=_SBS, name="binary_focal_crossentropy", dtype=None) -> None:
        super().__init__(binary_focal_crossentropy, reduction, name, dtype,
                         apply_class_balancing=apply_class_balancing, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(_Wrapped):
    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_SBS,
                 name="categorical_crossentropy", dtype=None) -> None:
        super().__init__(categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalFocalCrossentropy(_Wrapped):
    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1, reduction=_SBS,
                 name="categorical_focal_crossentropy", dtype=None) -> None:
        super().__init__(categorical_focal_crossentropy, reduction, name, dtype, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_Wrapped):
    _config_keys = ("from_logits", "ignore_class")  # Keras' config leaves `axis` out

    def __init__(self, from_logits=False, ignore_class=None, reduction=_SBS, axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None) -> None:
        super().__init__(sparse_categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


class CTC(_Wrapped):
    def __init__(self, reduction=_SBS, name="ctc", dtype=None) -> None:
        super().__init__(ctc, reduction, name, dtype)


class Dice(_Wrapped):
    _config_keys = ("axis",)

    def __init__(self, reduction=_SBS, name="dice", axis=None, dtype=None) -> None:
        super().__init__(dice, reduction, name, dtype, axis=axis)


class Tversky(_Wrapped):
    _config_keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction=_SBS, name="tversky", axis=None, dtype=None) -> None:
        super().__init__(tversky, reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)


class Circle(_Wrapped):
    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction=_SBS, name="circle",
                 dtype=None) -> None:
        super().__init__(circle, reduction, name, dtype, gamma=gamma, margin=margin, remove_diagonal=remove_diagonal)


class CategoricalGeneralizedCrossEntropy(_Wrapped):
    _config_keys = ("q",)

    def __init__(self, q=0.5, reduction=_SBS, name="categorical_generalized_cross_entropy", dtype=None) -> None:
        if not 0 < q < 1:
            raise ValueError("q must be in the interval (0, 1)")
        super().__init__(categorical_generalized_cross_entropy, reduction, name, dtype, q=q)


MSE, MAE = mean_squared_error, mean_absolute_error

_CLASSES = (Loss, LossFunctionWrapper, KLDivergence, Poisson, BinaryCrossentropy, BinaryFocalCrossentropy,
            CategoricalCrossentropy, CategoricalFocalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError,
            MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, LogCosh,
            Huber, Hinge, SquaredHinge, CategoricalHinge, Dice, Tversky, Circle, CTC,
            CategoricalGeneralizedCrossEntropy)
_FUNCTIONS = (kl_divergence, poisson, binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
              categorical_focal_crossentropy, sparse_categorical_crossentropy, mean_squared_error,
              mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error,
              cosine_similarity, log_cosh, huber, hinge, squared_hinge, categorical_hinge, dice, tversky, circle, ctc)
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in _CLASSES + _FUNCTIONS}
ALL_OBJECTS_DICT.update({"bce": binary_crossentropy, "BCE": binary_crossentropy, "kld": kl_divergence,
                         "KLD": kl_divergence, "mae": mean_absolute_error, "MAE": mean_absolute_error,
                         "mse": mean_squared_error, "MSE": mean_squared_error,
                         "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
                         "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error})


def serialize(loss):
    """Keras' serialized form: a dict naming the class and holding its config, or naming a function."""
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, Loss):
        return _serial.class_config(loss, "keras.losses", ALL_OBJECTS_DICT.get(type(loss).__name__) is type(loss))
    if callable(loss) and hasattr(loss, "__name__"):
        return _serial.function_config(loss.__name__)
    raise ValueError(f"Could not serialize loss: {loss!r}")


def _lookup(name: str, custom_objects):
    return _serial.lookup(name, ALL_OBJECTS_DICT, custom_objects)


def deserialize(name, custom_objects=None):
    """A Loss instance or a loss function from ``serialize``'s dict or a name."""
    if isinstance(name, str):
        obj = _lookup(name, custom_objects)
        return obj() if isinstance(obj, type) else obj
    if isinstance(name, dict) and "class_name" in name:
        if name["class_name"] == "function":
            return _lookup(name["config"], custom_objects)
        cls = _lookup(name["class_name"], custom_objects)
        return cls.from_config(name.get("config") or {})
    raise ValueError(f"Could not deserialize loss: {name!r}")


def get(identifier):
    """A loss function or Loss instance from a name (case as Keras spells it), a serialized dict, a Loss
    class or instance, or a function; None gives None."""
    if identifier is None:
        return None
    return _serial.get_named(identifier, deserialize, ALL_OBJECTS_DICT, "loss")


class _Crossentropy(Loss):
    """compile(loss='crossentropy'): binary, sparse categorical or categorical, chosen from the shapes of
    the first batch as Keras' compile does."""

    def __init__(self, name="crossentropy") -> None:
        super().__init__(name=name)
        self.fn = None

    def call(self, y_true, y_pred):
        if self.fn is None:
            if y_pred.shape[-1] == 1:
                self.fn = binary_crossentropy
            elif y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
                self.fn = sparse_categorical_crossentropy
            else:
                self.fn = categorical_crossentropy
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred)


def compile_loss(identifier) -> Loss:
    """What model.compile(loss=...) makes of its argument (Keras' get_loss): a Loss; a function or a name
    becomes a LossFunctionWrapper named after it."""
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        return _Crossentropy(name=identifier)
    obj = get(identifier)
    if obj is None:
        raise ValueError(f"Could not interpret loss identifier: {identifier}")
    if isinstance(obj, Loss):
        return obj
    name = identifier if isinstance(identifier, str) else getattr(obj, "__name__", "loss")
    return LossFunctionWrapper(obj, name=name)


def canonical_name(loss) -> str:
    """The underlying function's name (or the loss's own name), to pick the right 'accuracy' variant."""
    fn = getattr(loss, "fn", None)
    return getattr(fn, "__name__", "") if fn is not None else getattr(loss, "name", "")
