"""compile / fit / evaluate / predict: the Keras training loop over fastnn modules, autograd and optimizers.

User data given as NumPy arrays or lists is host data: it is sliced on the host and each batch becomes a
tensor. Tensors given as data stay tensors (on their device); predict returns NumPy arrays."""
from __future__ import annotations

import copy
import math

import numpy as np

from ..autograd.grad_mode import no_grad
from ..backend import backend_of
from ..creation import tensor as _tensor
from .._tensor import Tensor
from . import callbacks as cbks
from . import losses as losses_mod
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from .progbar import Progbar


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _to_array(x):
    """Data to slice batches from: a tensor (detached, where it is) or a host array."""
    if isinstance(x, Tensor):
        return x.detach()
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # Keras' default float type; float64 data would double every cost
    return arr


def _num_samples(arrays) -> int:
    sizes = {a.shape[0] for a in arrays}
    if len(sizes) != 1:
        raise ValueError(f"Data cardinality is ambiguous: the arrays have sizes {sorted(sizes)}; make sure all "
                         "arrays contain the same number of samples.")
    return sizes.pop()


class _ArrayData:
    """x / y / sample weights as lists of arrays (or tensors), sliced into batches."""

    def __init__(self, x, y=None, sample_weight=None) -> None:
        self.multi_x = isinstance(x, (list, tuple))
        self.xs = [_to_array(v) for v in _as_list(x)]
        self.multi_y = isinstance(y, (list, tuple))
        self.ys = [_to_array(v) for v in _as_list(y)]
        self.sw = None if sample_weight is None else np.asarray(sample_weight, np.float32)
        if not self.xs:
            raise ValueError("Unexpected value for `x`: it must be a NumPy array, a Tensor or a list of them")
        self.n = _num_samples(self.xs + self.ys + ([self.sw] if self.sw is not None else []))

    def split(self, fraction: float):
        """(train, validation): the last ``fraction`` of the samples held out, before any shuffling (Keras)."""
        cut = int(self.n * (1.0 - fraction))
        if cut == 0 or cut == self.n:
            raise ValueError(f"validation_split={fraction} leaves an empty training or validation set "
                             f"({self.n} samples)")
        a, b = copy.copy(self), copy.copy(self)
        a.xs, b.xs = [v[:cut] for v in self.xs], [v[cut:] for v in self.xs]
        a.ys, b.ys = [v[:cut] for v in self.ys], [v[cut:] for v in self.ys]
        a.sw, b.sw = (self.sw[:cut], self.sw[cut:]) if self.sw is not None else (None, None)
        a.n, b.n = cut, self.n - cut
        return a, b

    def batches(self, batch_size: int, shuffle: bool = False, rng=None):
        order = rng.permutation(self.n) if shuffle else None
        for start in range(0, self.n, batch_size):
            sl = order[start:start + batch_size] if shuffle else slice(start, start + batch_size)
            xs = [_tensor(v[sl]) for v in self.xs]
            ys = [v[sl] for v in self.ys]
            sw = self.sw[sl] if self.sw is not None else None
            yield (xs if self.multi_x else xs[0]), (ys if self.multi_y else (ys[0] if ys else None)), sw

    def steps(self, batch_size: int) -> int:
        return -(-self.n // batch_size)


class _LoaderData:
    """A fastnn DataLoader (or any iterable of (x, y) batches) used as is."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def batches(self, batch_size, shuffle=False, rng=None):
        for batch in self.loader:
            if isinstance(batch, (list, tuple)) and len(batch) in (2, 3):
                x, y = batch[0], batch[1]
                sw = batch[2] if len(batch) == 3 else None
            elif isinstance(batch, (list, tuple)) and len(batch) == 1:  # a dataset of inputs only
                x, y, sw = batch[0], None, None
            else:
                x, y, sw = batch, None, None
            yield x, (_to_array(y) if y is not None and not isinstance(y, list) else y), sw

    def steps(self, batch_size):
        try:
            return len(self.loader)
        except TypeError:
            return None


def _data(x, y=None, sample_weight=None, batch_size: int = 32, shuffle: bool = False):
    """The batches fit/evaluate/predict iterate: arrays are sliced here; a fastnn Dataset is batched by a
    DataLoader with the call's batch_size (shuffled each epoch in fit); a DataLoader is used as it is."""
    from ..data import DataLoader, Dataset

    if isinstance(x, Dataset):
        x = DataLoader(x, batch_size=batch_size, shuffle=shuffle)
    if isinstance(x, DataLoader) or (hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, Tensor, list, tuple))):
        if y is not None:
            raise ValueError("`y` argument is not supported when using a dataset or loader as input")
        return _LoaderData(x)
    return _ArrayData(x, y, sample_weight)


class TrainingMixin:
    optimizer = None
    stop_training = False

    # ---- compile ----------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs) -> None:
        ignored = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution", "auto_scale_loss"}
        if ignored:
            raise TypeError(f"compile() got unexpected keyword arguments {sorted(ignored)}")
        self.optimizer = optimizers_mod.get(optimizer)
        self._loss_spec, self._metric_spec, self._loss_weights = loss, metrics, loss_weights
        self.compiled = True
        self._compiled_losses = None  # resolved once the outputs are known (first batch)

    def _resolve(self, y_pred_list) -> None:
        names = self.output_names(len(y_pred_list))
        spec = self._loss_spec
        if spec is None:
            raise ValueError("You must call compile() with a `loss` before fit() or evaluate()")
        if isinstance(spec, dict):
            spec = [spec[n] for n in names]
        elif not isinstance(spec, (list, tuple)):
            spec = [spec] * len(y_pred_list)
        self._compiled_losses = [losses_mod.get(s) for s in spec]
        weights = self._loss_weights
        if isinstance(weights, dict):
            weights = [weights.get(n, 1.0) for n in names]
        self._compiled_loss_weights = list(weights) if weights is not None else [1.0] * len(y_pred_list)
        mspec = self._metric_spec or []
        if isinstance(mspec, dict):
            per_output = [_as_list(mspec.get(n)) for n in names]
        elif mspec and isinstance(mspec[0], (list, tuple)):
            per_output = [list(m) for m in mspec]
        else:
            per_output = [list(mspec)] * len(y_pred_list)
        self._compiled_metrics = []
        self._output_loss_sums = [[0.0, 0] for _ in y_pred_list]
        for i, (ms, loss, yp) in enumerate(zip(per_output, self._compiled_losses, y_pred_list)):
            prefix = f"{names[i]}_" if len(y_pred_list) > 1 else ""
            for m in ms:
                metric = metrics_mod.get(m, losses_mod.canonical_name(loss), tuple(yp.shape))
                if isinstance(m, metrics_mod.Metric):
                    metric = copy.deepcopy(m) if i else m
                self._compiled_metrics.append((i, prefix + metric.name, metric))

    def output_names(self, n: int) -> list[str]:
        return [f"output_{i}" for i in range(n)] if n > 1 else ["output"]

    # ---- one batch --------------------------------------------------------------------------------------
    def _losses(self, y_pred_list, ys, sample_weight):
        if len(ys) != len(y_pred_list):
            raise ValueError(f"The model has {len(y_pred_list)} outputs but {len(ys)} targets were given")
        total = None
        several = len(y_pred_list) > 1
        for i, (loss, w, yp, yt) in enumerate(zip(self._compiled_losses, self._compiled_loss_weights, y_pred_list,
                                                  ys)):
            value = loss(yt, yp, sample_weight)
            if several:  # Keras logs each output's own loss as <output>_loss
                acc = self._output_loss_sums[i]
                acc[0] += float(value.item()) * yp.shape[0]
                acc[1] += yp.shape[0]
            value = value * w if w != 1.0 else value
            total = value if total is None else total + value
        return total

    def _update_metrics(self, y_pred_list, ys, sample_weight) -> None:
        for i, _, metric in self._compiled_metrics:
            metric.update_state(ys[i], y_pred_list[i], sample_weight)

    def _metric_logs(self) -> dict:
        logs = {}
        if self._compiled_losses is not None and len(self._compiled_losses) > 1:
            names = self.output_names(len(self._compiled_losses))
            logs = {f"{n}_loss": (acc[0] / acc[1] if acc[1] else 0.0)
                    for n, acc in zip(names, self._output_loss_sums)}
        logs.update({name: float(m.result()) for _, name, m in self._compiled_metrics})
        return logs

    def _reset_metrics(self) -> None:
        for _, _, m in getattr(self, "_compiled_metrics", []):
            m.reset_state()
        self._output_loss_sums = [[0.0, 0] for _ in (self._compiled_losses or [])]

    def _forward_list(self, x, training: bool):
        out = self(x, training=training)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _sample_weights(self, y, sw, class_weight):
        if class_weight is None:
            return sw
        labels = np.asarray(y[0] if isinstance(y, list) else y)
        if labels.ndim > 1 and labels.shape[-1] > 1:
            labels = labels.argmax(-1)
        labels = labels.reshape(-1).astype(np.int64)
        cw = np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
        return cw if sw is None else cw * sw

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False):
        self._ensure_ready(x)
        self.train()
        try:
            y_pred = self._forward_list(x, True)
        finally:
            self.eval()  # back to Keras' default: a later model(x) runs in inference mode
        y_list = y if isinstance(y, list) else [y]
        if self._compiled_losses is None:
            self._resolve(y_pred)
        sw = self._sample_weights(y, sample_weight, class_weight)
        loss = self._losses(y_pred, y_list, sw)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.apply_gradients()
        value = float(loss.item())
        if not math.isfinite(value):
            import warnings

            warnings.warn(f"the training loss is {value}: check the learning rate and the inputs", stacklevel=2)
        with no_grad():
            self._update_metrics([p.detach() for p in y_pred], y_list, sample_weight)
        return value

    def _ensure_ready(self, x) -> None:
        if not getattr(self, "compiled", False):
            raise RuntimeError("You must compile your model before training/testing. Use `model.compile(optimizer, "
                               "loss)`.")
        if not self.built:
            self._build_from_data(x)
        if self.optimizer._inner is None or getattr(self.optimizer, "_model_id", None) != id(self):
            self.optimizer.build(self.parameters())
            self.optimizer._model_id = id(self)

    # ---- fit / evaluate / predict ------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs: int = 1, verbose="auto", callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0, steps_per_epoch=None, validation_batch_size=None,
            validation_freq: int = 1):
        from ..random import generator

        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = batch_size or 32
        data = _data(x, y, sample_weight, batch_size, shuffle)
        val = None
        if validation_data is not None:
            vd = tuple(validation_data) if isinstance(validation_data, (list, tuple)) else (validation_data,)
            vb = validation_batch_size or batch_size
            val = _data(*vd[:3], batch_size=vb) if len(vd) > 1 else _data(vd[0], batch_size=vb)
        elif validation_split:
            if not isinstance(data, _ArrayData):
                raise ValueError("validation_split is only supported for array inputs")
            data, val = data.split(validation_split)
        steps = data.steps(batch_size)
        history = cbks.History()
        cb_list = [history] + _as_list(callbacks)
        if verbose:
            cb_list.insert(1, cbks.ProgbarLogger())
        cb = cbks.CallbackList(cb_list, model=self, epochs=epochs, steps=steps, verbose=verbose)
        self.history = history
        self.stop_training = False
        first = next(iter(data.batches(batch_size)))
        self._ensure_ready(first[0])
        self._initial_epoch = None
        cb.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch  # BackupAndRestore resumes from its backup's epoch
        rng = generator()
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cb.on_epoch_begin(epoch)
            seen, loss_sum = 0, 0.0
            for step, (xb, yb, swb) in enumerate(data.batches(batch_size, shuffle=shuffle, rng=rng)):
                if steps_per_epoch is not None and step >= steps_per_epoch:
                    break
                cb.on_train_batch_begin(step)
                n = _batch_len(xb)
                loss = self.train_on_batch(xb, yb, swb, class_weight)
                seen += n
                loss_sum += loss * n
                cb.on_train_batch_end(step, {"loss": loss_sum / seen, **self._metric_logs()})
            logs = {"loss": loss_sum / max(seen, 1), **self._metric_logs()}
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_data(val, validation_batch_size or batch_size, None)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cb.on_train_end()
        return history

    def _evaluate_data(self, data, batch_size, bar) -> dict:
        self.eval()
        self._reset_metrics()
        seen, loss_sum = 0, 0.0
        with no_grad():
            for step, (xb, yb, swb) in enumerate(data.batches(batch_size)):
                y_list = yb if isinstance(yb, list) else [yb]
                y_pred = self._forward_list(xb, False)
                if self._compiled_losses is None:
                    self._resolve(y_pred)
                n = _batch_len(xb)
                loss_sum += float(self._losses(y_pred, y_list, swb).item()) * n
                seen += n
                self._update_metrics(y_pred, y_list, swb)
                if bar is not None:
                    bar.update(step + 1, {"loss": loss_sum / seen, **self._metric_logs()})
        return {"loss": loss_sum / max(seen, 1), **self._metric_logs()}

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict: bool = False):
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = batch_size or 32
        data = _data(x, y, sample_weight, batch_size)
        first = next(iter(data.batches(batch_size)))
        self._ensure_ready(first[0])
        bar = Progbar(data.steps(batch_size), verbose=verbose) if verbose else None
        logs = self._evaluate_data(data, batch_size, bar)
        if bar is not None:
            bar.update(data.steps(batch_size) or 0, logs, finalize=True)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = batch_size or 32
        data = _data(x, batch_size=batch_size)
        if not self.built:
            self._build_from_data(next(iter(data.batches(batch_size)))[0])
        self.eval()
        outs = []
        total = data.steps(batch_size)
        bar = Progbar(total, verbose=verbose) if verbose else None
        with no_grad():
            for step, (xb, _, _) in enumerate(data.batches(batch_size)):
                out = self(xb, training=False)
                outs.append([_host(o) for o in out] if isinstance(out, (list, tuple)) else _host(out))
                if bar is not None:
                    bar.update(step + 1)
        if bar is not None:
            bar.update(total or 0, finalize=True)
        if outs and isinstance(outs[0], list):
            return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
        return np.concatenate(outs) if outs else np.empty((0,))

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=_batch_len(x), verbose=0)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        return self.evaluate(x, y, batch_size=_batch_len(x), verbose=0, sample_weight=sample_weight,
                             return_dict=return_dict)


def _host(t: Tensor) -> np.ndarray:
    """A prediction as the NumPy array predict returns."""
    return backend_of(t._data).to_host(t._data)


def _batch_len(x) -> int:
    if isinstance(x, (list, tuple)):
        x = x[0]
    return int(x.shape[0])
