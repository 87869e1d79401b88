"""keras.losses.Loss and its machinery: converting targets and predictions, Keras' rank fix between them,
masks and sample weights, and the reductions ('sum_over_batch_size', 'sum', 'mean',
'mean_with_sample_weight', 'none' / None), as Keras 3 does them. Everything computes with fastnn Tensor
ops, so a loss keeps autograd back to the predictions."""
from __future__ import annotations

from .masking import get_mask, set_mask

import collections
import warnings

import fastnn
from .._tensor import Tensor
from ..creation import tensor as _tensor
from .device_scope import get_device
from .ops._convert import dtype_of

EPSILON = 1e-7  # keras.backend.epsilon()

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        allowed = "{" + ", ".join(repr(r) for r in REDUCTIONS) + "}"
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of {allowed}. Received: "
                         f"reduction={reduction}")
    return reduction


def convert(x, dtype=None, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor (host data goes to ``like``'s device, else to the current Keras device), cast to
    ``dtype`` when given; a cast keeps autograd."""
    if not isinstance(x, Tensor):
        x = _tensor(x, device=like.device if like is not None else get_device())
    dtype = dtype_of(dtype)
    if dtype is not None and x.dtype is not dtype:
        x = x.to(dtype)
    return x


def float_pair(y_true, y_pred):
    """Keras' first lines of most loss functions: y_pred a tensor, y_true one of y_pred's dtype."""
    y_pred = convert(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(fastnn.float32)
    return convert(y_true, y_pred.dtype, like=y_pred), y_pred


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras' fix of ranks that differ by one where the longer shape ends in 1: (N,) against (N, 1)
    becomes (N, 1) against (N, 1); (N, T) against (N, T, 1) squeezes the 1."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def same_shape(target: Tensor, output: Tensor) -> None:
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(f"Arguments `target` and `output` must have the same shape. Received: "
                         f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}")


def check_axis(axis) -> None:
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")


def warn_one_class(name: str, y_pred) -> None:
    if y_pred.ndim and y_pred.shape[-1] == 1:
        warnings.warn(f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with num_classes > 1. "
                      f"Received: y_pred.shape={tuple(y_pred.shape)}. Consider using 'binary_crossentropy' if you "
                      "only have 2 classes.", SyntaxWarning, stacklevel=3)


def smooth_labels(y, label_smoothing: float, classes):
    return y * (1.0 - label_smoothing) + label_smoothing / classes if label_smoothing else y


# ---- masks: a loss function may mark which of its values count (sparse crossentropy's ignore_class,
# Circle's positive losses), and predictions arrive marked by masking layers: both are Keras' one
# ``_keras_mask``, kept for fastnn's slotted tensors in keras/masking.py's side table.
set_loss_mask = set_mask
get_loss_mask = get_mask


def _divide_no_nan(a: Tensor, b) -> Tensor:
    if isinstance(b, (int, float)):  # the batch size: one division, no mask ops in the graph
        return a / b if b != 0 else a * 0.0
    b = convert(b, a.dtype, like=a)
    safe = fastnn.where(b == 0, fastnn.ones_like(b), b)
    return fastnn.where(b == 0, fastnn.zeros_like(a), a / safe)


def apply_mask(sample_weight, mask, dtype, reduction):
    """Folds a mask into the sample weights: under a mean, valid entries weigh total / valid."""
    if mask is None:
        return sample_weight
    m = mask.to(dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        valid = m.sum()
        float_mask = m * _divide_no_nan(convert(float(m.numel()), dtype, like=m), valid)
    else:
        float_mask = m
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    return sample_weight * float_mask


def reduce_values(values: Tensor, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    if reduction is None or reduction == "none" or tuple(values.shape) in ((), (0,)):
        return values
    loss = values.sum()
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = sample_weight.sum().to(loss.dtype)
        else:
            divisor = float(values.numel())
        loss = _divide_no_nan(loss, divisor)
    return loss


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None):
    reduction = standardize_reduction(reduction)
    values = convert(values, dtype)
    if sample_weight is not None:
        sample_weight = convert(sample_weight, values.dtype, like=values)
    if mask is not None:
        mask = convert(mask, like=values)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        sample_weight = sample_weight.to(values.dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


_NAME_UIDS: collections.defaultdict = collections.defaultdict(int)


def auto_name(prefix: str) -> str:
    """Keras' auto_name: the snake-case class name, suffixed _1, _2, ... from the second use on."""
    from .layers.base import snake_case

    name = snake_case(prefix)
    uid = _NAME_UIDS[name]
    _NAME_UIDS[name] += 1
    return name if uid == 0 else f"{name}_{uid}"


class Loss:
    """keras.losses.Loss: subclass it and write ``call(self, y_true, y_pred)`` returning the unreduced
    losses; ``loss(y_true, y_pred, sample_weight=None)`` converts both to ``dtype`` (float32 by
    default), calls ``call``, weights and reduces."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None) -> None:
        self.name = name or auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype = _dtype_name(dtype or "float32")

    @property
    def dtype(self) -> str:
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = get_loss_mask(y_pred)  # a mask marked on the predictions (e.g. by a masking layer)
        y_pred = convert(y_pred, self.dtype)
        y_true = convert(y_true, self.dtype, like=y_pred)
        losses = self.call(y_true, y_pred)
        out_mask = get_loss_mask(losses)
        if in_mask is not None and out_mask is not None:
            mask = in_mask.bool() & out_mask.bool()
        else:
            mask = in_mask if in_mask is not None else out_mask
        if mask is None and sample_weight is None and self.reduction == "sum_over_batch_size" and \
                losses.ndim > 0 and losses.numel() > 0 and str(losses.dtype) == f"fastnn.{self.dtype}":
            return losses.sum() / losses.numel()  # the common case of reduce_weighted_values, in one node
        return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask, reduction=self.reduction,
                                      dtype=self.dtype)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _dtype_name(dtype) -> str:
    d = dtype_of(getattr(dtype, "compute_dtype", dtype))  # a DTypePolicy-like object: its compute dtype
    if not d.is_floating_point:
        raise ValueError(f"Loss: dtype must be a floating dtype, got {dtype!r}")
    return str(d).replace("fastnn.", "")


class LossFunctionWrapper(Loss):
    """A loss function ``fn(y_true, y_pred, **kwargs)`` as a Loss; the ranks of y_true and y_pred are
    fixed first (Keras' squeeze_or_expand_to_same_rank)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if isinstance(y_true, Tensor) and isinstance(y_pred, Tensor):
            y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        from .losses import serialize

        return {**Loss.get_config(self), "fn": serialize(self.fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        from .losses import deserialize

        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"
