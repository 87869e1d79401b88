"""Keras' confusion-matrix metrics: counts of true/false positives/negatives at one or more thresholds
(TruePositives ... FalseNegatives, Precision, Recall), the metrics read off those curves at a constraint
(SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision) and AUC (ROC, PR
or PR-gain, by a Riemann sum over the thresholds, as Keras computes it).

Counting runs on the predictions' device. Evenly spaced thresholds (AUC's and the *At* metrics' defaults)
are counted by bucketing each prediction once and a reversed cumulative sum (O(n + thresholds)); other
thresholds by comparing every prediction with every threshold."""
from __future__ import annotations

import fastnn

from .metrics_base import EPSILON, Metric, as_tensor, divide_no_nan, squeeze_or_expand_to_same_rank

NEG_INF = -1e10
TP, FP, TN, FN = "tp", "fp", "tn", "fn"


def _to_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def parse_init_thresholds(thresholds, default_threshold=0.5) -> list:
    if thresholds is not None:
        bad = [t for t in _to_list(thresholds) if t is None or t < 0 or t > 1]
        if bad:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) for t in _to_list(default_threshold if thresholds is None else thresholds)]


def is_evenly_distributed_thresholds(thresholds) -> bool:
    n = len(thresholds)
    if n < 3:
        return False
    return all(abs(t - i / (n - 1)) <= EPSILON + 1e-5 * abs(i / (n - 1)) for i, t in enumerate(thresholds))


def _filter_top_k(x, k):
    """Entries outside each row's top k pushed to -1e10 (never above a threshold)."""
    idx = fastnn.topk(x, k, dim=-1).indices
    keep = fastnn.zeros_like(x).scatter(-1, idx, fastnn.ones_like(idx, dtype=x.dtype))
    return x * keep + NEG_INF * (1 - keep)


def _segment_sum(data, ids, n: int):
    """Sums of ``data`` (1-d) into ``n`` buckets by ``ids``; ids outside [0, n) are dropped."""
    ids = fastnn.where((ids < 0) | (ids >= n), fastnn.full_like(ids, n), ids)
    out = fastnn.zeros(n + 1, dtype=data.dtype, device=data.device)
    return out.index_add(0, ids, data)[:n]


def _reverse_cumsum(x, axis: int):
    return fastnn.flip(fastnn.cumsum(fastnn.flip(x, (axis,)), dim=axis), (axis,))


def update_confusion_matrix_variables(variables: dict, y_true, y_pred, thresholds, top_k=None, class_id=None,
                                      sample_weight=None, multi_label=False, label_weights=None,
                                      thresholds_distributed_evenly=False) -> None:
    """Adds this batch's counts into ``variables`` ({"tp"/"fp"/"tn"/"fn": Variable}), one per threshold
    (and per label with ``multi_label``). A prediction counts as positive when it is > the threshold."""
    if multi_label and label_weights is not None:
        raise ValueError("`label_weights` for multilabel data should be handled outside of "
                         "`update_confusion_matrix_variables` when `multi_label` is True.")
    invalid = [k for k in variables if k not in (TP, FP, TN, FN)]
    if invalid or not variables:
        raise ValueError(f'Invalid keys: "{invalid}". Valid variable key options are: "{[TP, FP, TN, FN]}"')
    dtype = next(iter(variables.values())).dtype
    y_pred = as_tensor(y_pred, dtype)
    y_true = as_tensor(y_true, dtype, like=y_pred)
    with_epsilon = thresholds_distributed_evenly and (thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = as_tensor(sample_weight, dtype, like=y_pred).unsqueeze(-1)
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.dim() == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                             f"num_classes), found shape: {tuple(y_pred.shape)}")
        y_true = y_true[..., class_id:class_id + 1]
        y_pred = y_pred[..., class_id:class_id + 1]
    shape = tuple(y_pred.shape)
    weights = None
    if sample_weight is not None:
        weights = fastnn.broadcast_to(sample_weight, shape)
    if label_weights is not None:
        lw = fastnn.broadcast_to(as_tensor(label_weights, dtype, like=y_pred).unsqueeze(0), shape)
        weights = lw if weights is None else weights * lw
    if not multi_label:
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    counts = (_bucketed if thresholds_distributed_evenly else _compared)(
        y_true, y_pred, weights, thresholds, multi_label, with_epsilon, set(variables))
    for key, var in variables.items():
        var.assign(var.value + counts[key])


def _bucketed(y_true, y_pred, weights, thresholds, multi_label, with_epsilon, wanted):
    """Counts for thresholds i / (T - 1): prediction p is above threshold i iff ceil(p (T - 1)) - 1 >= i."""
    t = len(thresholds)
    y_pred = y_pred.clamp(0.0, 1.0)
    pos = (y_true != 0).to(y_pred.dtype)
    true_w = pos if weights is None else pos * weights
    false_w = (1.0 - pos) if weights is None else (1.0 - pos) * weights
    bucket = (y_pred * (t - 1)).ceil() - 1
    if with_epsilon:
        bucket = bucket.clamp_min(0)
    bucket = bucket.long()
    if multi_label:  # one set of buckets per label: (N, L) -> (T, L)
        labels = y_pred.shape[1]
        offs = fastnn.arange(labels, device=y_pred.device).unsqueeze(0) * (t + 1)
        ids = fastnn.where(bucket < 0, fastnn.full_like(bucket, t), bucket) + offs

        def per_label(data):
            out = _segment_sum(data.reshape(-1), ids.reshape(-1), labels * (t + 1))
            return out.reshape(labels, t + 1)[:, :t].t()

        tp, fp, axis = per_label(true_w), per_label(false_w), 0
    else:
        tp, fp, axis = _segment_sum(true_w, bucket, t), _segment_sum(false_w, bucket, t), 0
    tp, fp = _reverse_cumsum(tp, axis), _reverse_cumsum(fp, axis)
    out = {TP: tp, FP: fp}
    if TN in wanted or FN in wanted:
        out[TN] = false_w.sum(0) - fp
        out[FN] = true_w.sum(0) - tp
    return out


def _compared(y_true, y_pred, weights, thresholds, multi_label, with_epsilon, wanted):
    thr = fastnn.tensor(thresholds, dtype=y_pred.dtype, device=y_pred.device)
    extra = (1,) * y_pred.dim()
    pred_pos = y_pred.unsqueeze(0) > thr.reshape((-1,) + extra)  # (T, ...)
    label_pos = (y_true != 0).unsqueeze(0)
    w = None if weights is None else weights.unsqueeze(0)

    def count(label, pred):
        both = label & pred
        return (both.to(y_pred.dtype) if w is None else fastnn.where(both, w, fastnn.zeros_like(w))).sum(1)

    out = {TP: count(label_pos, pred_pos)}
    if FN in wanted or TN in wanted:
        out[FN] = count(label_pos, ~pred_pos)
    if FP in wanted or TN in wanted:
        out[FP] = count(~label_pos, pred_pos)
        if TN in wanted:
            out[TN] = count(~label_pos, ~pred_pos)
    return out


class _ConfusionMatrixConditionCount(Metric):
    _condition = TP

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_init_thresholds(thresholds, default_threshold=0.5)
        self._thresholds_distributed_evenly = is_evenly_distributed_thresholds(self.thresholds)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),), initializer="zeros",
                                             name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({self._condition: self.accumulator}, y_true, y_pred, self.thresholds,
                                          thresholds_distributed_evenly=self._thresholds_distributed_evenly,
                                          sample_weight=sample_weight)

    def result(self):
        v = self.accumulator.value
        return v[0].clone() if len(self.thresholds) == 1 else v.clone()

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of positives predicted above each threshold."""

    _condition = TP

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)


class FalsePositives(_ConfusionMatrixConditionCount):
    _condition = FP

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)


class TrueNegatives(_ConfusionMatrixConditionCount):
    _condition = TN

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)


class FalseNegatives(_ConfusionMatrixConditionCount):
    _condition = FN

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)


class _PrecisionRecall(Metric):
    _second = FP  # precision: tp / (tp + fp); recall: tp / (tp + fn)
    _second_name = "false_positives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_init_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._thresholds_distributed_evenly = is_evenly_distributed_thresholds(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer="zeros", name="true_positives")
        setattr(self, self._second_name, self.add_variable(shape=(n,), initializer="zeros", name=self._second_name))

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {TP: self.true_positives, self._second: getattr(self, self._second_name)}, y_true, y_pred,
            self.thresholds, thresholds_distributed_evenly=self._thresholds_distributed_evenly, top_k=self.top_k,
            class_id=self.class_id, sample_weight=sample_weight)

    def result(self):
        tp = self.true_positives.value
        r = divide_no_nan(tp, tp + getattr(self, self._second_name).value)
        return r[0] if len(self.thresholds) == 1 else r

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """tp / (tp + fp) at each threshold (or over each row's ``top_k``, or for one ``class_id``)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)


class Recall(_PrecisionRecall):
    """tp / (tp + fn) at each threshold (or over each row's ``top_k``, or for one ``class_id``)."""

    _second, _second_name = FN, "false_negatives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)


class SensitivitySpecificityBase(Metric):
    """The four counts at ``num_thresholds`` evenly spaced thresholds in [0, 1]; subclasses read the best
    value of one rate among the thresholds where another meets ``value``."""

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. Received: num_thresholds="
                             f"{num_thresholds}")
        self.value = value
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._thresholds_distributed_evenly = [0.5], False
        else:
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._thresholds_distributed_evenly = [0.0] + inner + [1.0], True
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), initializer="zeros", name="true_positives")
        self.false_positives = self.add_variable(shape=(n,), initializer="zeros", name="false_positives")
        self.true_negatives = self.add_variable(shape=(n,), initializer="zeros", name="true_negatives")
        self.false_negatives = self.add_variable(shape=(n,), initializer="zeros", name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {TP: self.true_positives, TN: self.true_negatives, FP: self.false_positives, FN: self.false_negatives},
            y_true, y_pred, self.thresholds, thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            class_id=self.class_id, sample_weight=sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "class_id": self.class_id}

    def _rates(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        return {"sensitivity": divide_no_nan(tp, tp + fn), "specificity": divide_no_nan(tn, tn + fp),
                "precision": divide_no_nan(tp, tp + fp)}

    def _find_max_under_constraint(self, constrained, dependent):
        feasible = constrained >= self.value
        return fastnn.where(feasible, dependent, fastnn.zeros_like(dependent)).amax().clamp_min(0.0)


def _check_rate(name, value):
    if value < 0 or value > 1:
        raise ValueError(f"Argument `{name}` must be in the range [0, 1]. Received: {name}={value}")


class SensitivityAtSpecificity(SensitivitySpecificityBase):
    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("specificity", specificity)
        self.specificity = specificity
        self.num_thresholds = num_thresholds
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["specificity"], r["sensitivity"])

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "specificity": self.specificity}


class SpecificityAtSensitivity(SensitivitySpecificityBase):
    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("sensitivity", sensitivity)
        self.sensitivity = sensitivity
        self.num_thresholds = num_thresholds
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["sensitivity"], r["specificity"])

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "sensitivity": self.sensitivity}


class PrecisionAtRecall(SensitivitySpecificityBase):
    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("recall", recall)
        self.recall = recall
        self.num_thresholds = num_thresholds
        super().__init__(value=recall, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["sensitivity"], r["precision"])

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "recall": self.recall}


class RecallAtPrecision(SensitivitySpecificityBase):
    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        _check_rate("precision", precision)
        self.precision = precision
        self.num_thresholds = num_thresholds
        super().__init__(value=precision, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        r = self._rates()
        return self._find_max_under_constraint(r["precision"], r["sensitivity"])

    def get_config(self) -> dict:
        return {**super().get_config(), "num_thresholds": self.num_thresholds, "precision": self.precision}


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = {"interpolation": "interpolation", "majoring": "majoring", "minoring": "minoring"}


def _curve(key):
    if key not in ("ROC", "roc", "PR", "pr", "PRGAIN", "prgain"):
        raise ValueError(f'Invalid AUC curve value: "{key}". Expected values are ["PR", "ROC", "PRGAIN"]')
    return _CURVES[key.lower()]


def _summation(key):
    if key not in ("interpolation", "Interpolation", "majoring", "Majoring", "minoring", "Minoring"):
        raise ValueError(f'Invalid AUC summation method value: "{key}". Expected values are ["interpolation", '
                         '"majoring", "minoring"]')
    return key.lower()


class AUC(Metric):
    """The area under the ROC, PR or PR-gain curve, approximated over ``num_thresholds`` thresholds (or the
    given ``thresholds``) by a Riemann sum ("interpolation", "majoring" or "minoring"); ``multi_label``
    computes one curve per label and averages them (weighted by ``label_weights``)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(float(t) for t in thresholds)
            self._thresholds_distributed_evenly = is_evenly_distributed_thresholds([0.0] + thresholds + [1.0])
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. Received: num_thresholds="
                                 f"{num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._thresholds_distributed_evenly = True
        self._thresholds = [0.0 - EPSILON] + thresholds + [1.0 + EPSILON]
        self.curve = _curve(curve)
        self.summation_method = _summation(summation_method)
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        self._label_weights_arg = None if label_weights is None else [float(w) for w in label_weights]
        self.label_weights = None if label_weights is None else as_tensor(label_weights, self.dtype)
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build([None, num_labels])
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, shape) -> None:
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank {len(shape)}. "
                                 f"Full shape received for `y_pred`: {shape}")
            self._num_labels = shape[1]
            vshape = (self.num_thresholds, self._num_labels)
        else:
            vshape = (self.num_thresholds,)
        self._build_input_shape = shape
        self.true_positives = self.add_variable(shape=vshape, initializer="zeros", name="true_positives")
        self.false_positives = self.add_variable(shape=vshape, initializer="zeros", name="false_positives")
        self.true_negatives = self.add_variable(shape=vshape, initializer="zeros", name="true_negatives")
        self.false_negatives = self.add_variable(shape=vshape, initializer="zeros", name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = as_tensor(y_pred)
        if not self._built:
            self._build(tuple(y_pred.shape))
            if y_pred.device.type != "cpu":
                self._follow(y_pred.device)
        if self._from_logits:
            y_pred = fastnn.sigmoid(y_pred)
        update_confusion_matrix_variables(
            {TP: self.true_positives, TN: self.true_negatives, FP: self.false_positives, FN: self.false_negatives},
            y_true, y_pred, self._thresholds, thresholds_distributed_evenly=self._thresholds_distributed_evenly,
            sample_weight=sample_weight, multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)

    def _by_label(self, terms):
        if not self.multi_label:
            return terms.sum()
        per_label = terms.sum(0)
        if self.label_weights is None:
            return per_label.mean()
        lw = self.label_weights.to(per_label.device)
        return divide_no_nan((per_label * lw).sum(), lw.sum())

    def interpolate_pr_auc(self):
        n = self.num_thresholds
        tp, fp, fn = self.true_positives.value, self.false_positives.value, self.false_negatives.value
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        prec_slope = divide_no_nan(dtp, dp.clamp_min(0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:n - 1] > 0) & (p[1:] > 0)
        ratio = fastnn.where(both, divide_no_nan(p[:n - 1], p[1:].clamp_min(0)), fastnn.ones_like(p[1:]))
        inc = divide_no_nan(prec_slope * (dtp + intercept * ratio.log()), (tp[1:] + fn[1:]).clamp_min(0))
        return self._by_label(inc)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            no_tp = tp == 0
            recall_gain = fastnn.where(no_tp, fastnn.zeros_like(recall_gain), recall_gain).clamp_min(0.0)
            precision_gain = fastnn.where(no_tp, fastnn.ones_like(precision_gain), precision_gain)
            x, y = recall_gain, precision_gain
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = fastnn.minimum(y[:n - 1], y[1:])
        else:
            heights = fastnn.maximum(y[:n - 1], y[1:])
        return self._by_label((x[:n - 1] - x[1:]) * heights)

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": self._label_weights_arg,
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
