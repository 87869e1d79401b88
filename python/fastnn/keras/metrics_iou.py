"""Keras' intersection-over-union metrics for segmentation / classification: a (num_classes, num_classes)
confusion matrix accumulated (rows: labels, columns: predictions; integer counts by default, as Keras'
dtype "int"), and IoU = tp / (tp + fp + fn) read per target class and averaged over the classes present."""
from __future__ import annotations

import warnings

import fastnn

from .metrics_base import EPSILON, Metric, as_tensor
from .ops._convert import dtype_of


def confusion_matrix(labels, predictions, num_classes: int, weights=None, dtype="int32"):
    """The (num_classes, num_classes) matrix of (weighted) counts of (label, prediction) pairs."""
    dt = dtype_of(dtype)
    labels = labels.reshape(-1).long()
    predictions = predictions.reshape(-1).long()
    values = fastnn.ones(labels.shape, dtype=dt, device=labels.device) if weights is None else weights.to(dt)
    flat = fastnn.zeros(num_classes * num_classes, dtype=dt, device=labels.device)
    return flat.index_add(0, labels * num_classes + predictions, values.reshape(-1)).reshape(num_classes,
                                                                                              num_classes)


class _IoUBase(Metric):
    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int")
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(name="total_confusion_matrix", shape=(num_classes, num_classes),
                                          initializer="zeros", dtype=self.dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred)
        y_true = as_tensor(y_true, like=y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(self.axis)
        y_true = y_true.to(dtype_of(self.dtype)).reshape(-1)
        y_pred = y_pred.to(dtype_of(self.dtype)).reshape(-1)
        if sample_weight is None:
            w = fastnn.ones(y_true.shape, dtype=dtype_of(self.dtype), device=y_true.device)
        else:
            if (getattr(sample_weight, "dtype", None) is not None and "float" in str(sample_weight.dtype)
                    and "int" in self.dtype):
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an "
                              "incorrect weight due to type casting Consider using integer weights.", stacklevel=2)
            w = as_tensor(sample_weight, self.dtype, like=y_true).reshape(-1)
            w = fastnn.broadcast_to(w, tuple(y_true.shape))
        n = self.num_classes
        ok = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            ok = ok & (y_true != self.ignore_class)
        zero = fastnn.zeros_like(y_true)
        y_true, y_pred = fastnn.where(ok, y_true, zero), fastnn.where(ok, y_pred, zero)
        w = fastnn.where(ok, w, fastnn.zeros_like(w))
        self.total_cm.assign(self.total_cm + confusion_matrix(y_true, y_pred, n, w, self.dtype))

    def reset_state(self) -> None:
        self.total_cm.assign(fastnn.zeros_like(self.total_cm))


class IoU(_IoUBase):
    """The mean IoU over ``target_class_ids`` (classes that never occur are left out of the mean)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, num_classes=num_classes, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis, dtype=dtype)
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, which is [0, {num_classes}).")
        self.target_class_ids = list(target_class_ids)

    def result(self):
        cm = self.total_cm.value.to(fastnn.float32)
        tp = fastnn.diagonal(cm)
        denom = cm.sum(0) + cm.sum(1) - tp
        ids = fastnn.tensor(self.target_class_ids, dtype=fastnn.int64, device=cm.device)
        tp, denom = tp[ids], denom[ids]
        valid = denom > 1e-9
        iou = fastnn.where(valid, tp / (denom + EPSILON), fastnn.zeros_like(tp))
        return iou.sum(self.axis) / (valid.to(fastnn.float32).sum() + EPSILON)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of thresholded predictions (``>= threshold`` is class 1) against 0/1 labels."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred, "float32")
        y_true = as_tensor(y_true, self.dtype, like=y_pred)
        return super().update_state(y_true, (y_pred >= self.threshold).to(dtype_of(self.dtype)), sample_weight)

    def get_config(self) -> dict:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean IoU over all classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(name=name, num_classes=num_classes, target_class_ids=list(range(num_classes)), axis=axis,
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU with one-hot labels (and, unless ``sparse_y_pred``, per-class scores as predictions)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids, "name": self.name,
                "dtype": self.dtype, "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """MeanIoU with one-hot labels (and, unless ``sparse_y_pred``, per-class scores as predictions)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, axis=axis, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
