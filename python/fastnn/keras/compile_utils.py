"""What ``compile`` makes of its ``loss`` / ``metrics`` arguments, resolved on the first batch (when the
outputs' number, names and shapes are known), as Keras 3's CompileLoss and CompileMetrics:

- ``CompileLoss(y_true, y_pred, sample_weight)``: the weighted sum of each output's loss; with several
  outputs it also tracks each one's unweighted loss as ``<output>_loss`` (``metrics``).
- ``CompileMetrics``: one Metric named ``compile_metrics`` whose ``result()`` is a dict. ``metrics=`` see
  no sample weights, ``weighted_metrics=`` do (Keras 3's split)."""
from __future__ import annotations

import copy

from . import losses as losses_mod
from . import metrics as metrics_mod
from .metrics_base import detach_keeping_mask


def as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _per_output(spec, names: list[str], broadcast_single: bool = True) -> list:
    """A loss/metric spec spread over the outputs: a dict by output name, a list per output, or one spec
    for every output."""
    if isinstance(spec, dict):
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and len(names) > 1 and len(spec) == len(names):
        return list(spec)
    return [spec] * len(names) if broadcast_single else [spec]


class CompileLoss:
    def __init__(self, loss, loss_weights=None) -> None:
        self.spec, self.weights_spec = loss, loss_weights
        self.losses = None
        self.metrics: list = []

    @property
    def built(self) -> bool:
        return self.losses is not None

    def build(self, names: list[str]) -> None:
        specs = _per_output(self.spec, names)
        if isinstance(self.spec, dict):
            missing = [n for n, s in zip(names, specs) if s is None]
            if len(missing) == len(names):
                raise ValueError(f"The loss dict keys {sorted(self.spec)} match no output name {names}")
        self.losses = [losses_mod.compile_loss(s) if s is not None else None for s in specs]
        w = self.weights_spec
        if isinstance(w, dict):
            w = [w.get(n, 1.0) for n in names]
        self.weights = list(w) if w is not None else [1.0] * len(names)
        if len(self.weights) != len(names):
            raise ValueError(f"`loss_weights` has {len(self.weights)} entries but the model has {len(names)} "
                             "outputs")
        self.metrics = [metrics_mod.Mean(name=f"{n}_loss") for n in names] if len(names) > 1 else []

    def __call__(self, y_true: list, y_pred: list, sample_weight=None):
        if len(y_true) != len(y_pred):
            raise ValueError(f"The model has {len(y_pred)} outputs but {len(y_true)} targets were given")
        total = None
        for i, (loss, w, yp, yt) in enumerate(zip(self.losses, self.weights, y_pred, y_true)):
            if loss is None:
                continue
            sw = sample_weight[i] if isinstance(sample_weight, (list, tuple)) else sample_weight
            value = loss(yt, yp, sw)
            if self.metrics:  # Keras records each output's unweighted loss, weighted by the batch size
                self.metrics[i].update_state(value.detach(), sample_weight=yp.shape[0])
            value = value * w if w != 1.0 else value
            total = value if total is None else total + value
        return total


def _unique(taken: dict, prefix: str, name: str, weighted: bool) -> str:
    """Keras' log names: a repeated name gets ``_1``, ``_2``; a weighted metric that repeats an unweighted
    one is ``weighted_<name>`` first."""
    full = prefix + name
    if full not in taken:
        taken[full] = 1
        return full
    if weighted:
        full = f"{prefix}weighted_{name}"
        if full not in taken:
            taken[full] = 1
            return full
    index = taken[full]
    taken[full] += 1
    return f"{full}_{index}"


class CompileMetrics(metrics_mod.Metric):
    def __init__(self, metrics=None, weighted_metrics=None, output_names=None) -> None:
        self.spec, self.weighted_spec = metrics, weighted_metrics
        self.entries = None  # (output index, logged name, metric, weighted)
        self.output_names = output_names  # n -> the model's output names, to build on a first direct update
        super().__init__(name="compile_metrics")

    @property
    def built(self) -> bool:
        return self.entries is not None

    def build(self, names: list[str], y_pred: list, losses: list) -> None:
        self.entries = []
        taken: dict = {}
        for weighted, spec in ((False, self.spec), (True, self.weighted_spec)):
            if not spec:
                continue
            if isinstance(spec, dict):
                per_output = [as_list(spec.get(n)) for n in names]
            elif isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], (list, tuple)):
                per_output = [list(m) for m in spec]
            else:
                per_output = [list(as_list(spec))] * len(names)
            for i, ms in enumerate(per_output):
                prefix = f"{names[i]}_" if len(names) > 1 else ""
                loss = losses[i] if i < len(losses) else None
                loss_name = getattr(losses_mod, "canonical_name", lambda _: "")(loss) if loss is not None else ""
                for m in ms:
                    if m is None:
                        continue
                    metric = metrics_mod.get(m, loss_name, tuple(y_pred[i].shape))
                    if isinstance(m, metrics_mod.Metric) and i:
                        metric = copy.deepcopy(m)  # one state per output
                    self.entries.append((i, _unique(taken, prefix, metric.name, weighted), metric, weighted))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:  # type: ignore[override]
        """Takes one output's (y_true, y_pred) or lists / dicts of them, as a custom train_step passes them."""
        y_pred = [detach_keeping_mask(p) for p in (list(y_pred) if isinstance(y_pred, (list, tuple))
                                                   else [y_pred])]
        names = self.output_names(len(y_pred)) if self.output_names else [f"output_{i}" for i in range(len(y_pred))]
        if isinstance(y_true, dict):
            y_true = [y_true.get(n) for n in names]
        elif not isinstance(y_true, (list, tuple)):
            y_true = [y_true]
        if not self.built:
            self.build(names, y_pred, [])
        for i, _, metric, weighted in self.entries or []:
            sw = sample_weight[i] if isinstance(sample_weight, (list, tuple)) else sample_weight
            metric.update_state(y_true[i], y_pred[i], sw if weighted else None)

    def result(self) -> dict:  # type: ignore[override]
        return {name: metric.result() for _, name, metric, _ in self.entries or []}

    def reset_state(self) -> None:
        for _, _, metric, _ in getattr(self, "entries", None) or []:
            metric.reset_state()
