"""compile / fit / evaluate / predict: Keras 3's training loop over fastnn modules, autograd and optimizers.

The loop is Keras 3's: fit calls ``train_step(data)`` per batch, evaluate ``test_step``, predict
``predict_step``, so a model that overrides them (the Keras guide's custom ``train_step`` with
``compute_loss``, ``self.metrics`` and ``optimizer.apply``) trains its own way. ``self.metrics`` is the loss
tracker, the compiled metrics, each output's loss (several outputs) and any Metric the model holds as an
attribute; fit resets them every epoch and logs their results. Data handling is in ``training_data``."""
from __future__ import annotations

import functools
import inspect

import numpy as np

from ..autograd.grad_mode import no_grad
from ..backend import backend_of
from .._tensor import Tensor
from . import callbacks as cbks
from . import metrics as metrics_mod
from . import optimizers as optimizers_mod
from .compile_utils import CompileLoss, CompileMetrics
from .device_scope import device, device_of_layer, to_device
from .distribution import data_parallel
from .progbar import Progbar
from .training_data import ArrayData, batch_len, make_data, unpack_x_y_sample_weight


def _flat_y(y, names):
    if isinstance(y, dict):
        return [y.get(n) for n in names]
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _python_logs(logs) -> dict:
    """Metric results as Python floats, nested dicts (the compiled metrics' results) flattened."""
    out = {}
    for k, v in (logs or {}).items():
        if isinstance(v, dict):
            out.update(_python_logs(v))
        elif isinstance(v, Tensor):
            out[k] = float(v.item()) if v.numel() == 1 else backend_of(v._data).to_host(v.detach()._data)
        elif hasattr(v, "item") and getattr(v, "size", None) == 1:  # a NumPy scalar or one-element array
            out[k] = float(v.item())
        else:
            out[k] = v
    return out


def _metrics_looked_up_once(method):
    """fit / evaluate find the model's attribute metrics once per call, not once per batch (the lookup walks
    every layer); the cache lives only for the call."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        before = self.__dict__.get("_attribute_metrics")
        if self.compiled:
            self._cache_attribute_metrics()
        try:
            return method(self, *args, **kwargs)
        finally:
            self.__dict__["_attribute_metrics"] = before

    return run


def _on_model_device(method):
    """Runs fit / evaluate / predict / *_on_batch with the model's device as the current Keras device, so
    what layers create while they run (host-computed preprocessing outputs, ``keras.ops`` creation, host
    data converted in a call) lands beside the weights, as on Keras' torch backend where the two agree."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with device(device_of_layer(self)):
            return method(self, *args, **kwargs)

    return run


class TrainingMixin:
    optimizer = None
    stop_training = False
    compiled = False
    _loss_tracker = None
    _compile_loss = None
    _compile_metrics = None

    # ---- compile ----------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly: bool = False, steps_per_execution: int = 1, jit_compile="auto",
                auto_scale_loss: bool = True) -> None:
        """Keras 3's signature. ``run_eagerly`` / ``jit_compile`` / ``steps_per_execution`` change nothing
        here: fastnn always runs eagerly, one batch per step."""
        if weighted_metrics is not None and not isinstance(weighted_metrics, (list, tuple, dict)):
            raise TypeError("Expected `weighted_metrics` argument to be a list, tuple, or dict. Received instead: "
                            f"weighted_metrics={weighted_metrics} of type {type(weighted_metrics)}")
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = loss
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,
                              "weighted_metrics": weighted_metrics}
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._compile_loss = CompileLoss(loss, loss_weights) if loss is not None else None
        self._compile_metrics = (CompileMetrics(metrics, weighted_metrics, self.output_names)
                                 if (metrics or weighted_metrics) else None)
        self.compiled = True

    def output_names(self, n: int) -> list[str]:
        return [f"output_{i}" for i in range(n)] if n > 1 else ["output"]

    def _build_compiled(self, y_pred: list) -> None:
        names = self.output_names(len(y_pred))
        if self._compile_loss is not None and not self._compile_loss.built:
            self._compile_loss.build(names)
        if self._compile_metrics is not None and not self._compile_metrics.built:
            losses = self._compile_loss.losses if self._compile_loss is not None else []
            self._compile_metrics.build(names, y_pred, losses)

    # ---- metrics ----------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """Keras 3's order: loss tracker, compiled metrics, each output's loss, the model's own Metric
        attributes, then its layers' ones."""
        found = []
        if self.compiled:
            if self._loss_tracker is not None:
                found.append(self._loss_tracker)
            if self._compile_metrics is not None:
                found.append(self._compile_metrics)
            if self._compile_loss is not None:
                found.extend(self._compile_loss.metrics)
        cached = self.__dict__.get("_attribute_metrics")
        if cached is None:
            cached = self._find_attribute_metrics({id(m) for m in found})
        return found + cached

    def _find_attribute_metrics(self, own: set) -> list:
        """The Metrics held as attributes of the model and its layers (not of nested models)."""
        found = []
        for layer in [self] + list(self._all_sublayers()):
            if layer is not self and isinstance(layer, TrainingMixin):
                continue  # a nested model's compiled state is its own
            for v in layer.__dict__.values():
                if isinstance(v, metrics_mod.Metric) and id(v) not in own:
                    own.add(id(v))
                    found.append(v)
        return found

    def _cache_attribute_metrics(self) -> None:
        self.__dict__["_attribute_metrics"] = None
        compiled = [m for m in (self._loss_tracker, self._compile_metrics) if m is not None]
        if self._compile_loss is not None:
            compiled += self._compile_loss.metrics
        self.__dict__["_attribute_metrics"] = self._find_attribute_metrics({id(m) for m in compiled})

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        return _python_logs({m.name: m.result() for m in self.metrics})

    def _flatten_metrics_in_order(self, logs: dict):
        names = []
        for m in self.metrics:
            if isinstance(m, CompileMetrics):
                names.extend(name for _, name, _, _ in m.entries or [])
            else:
                names.append(m.name)
        values = [logs[n] for n in names if n in logs] + [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    # ---- the steps --------------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True):
        """The compiled loss plus every loss the layers added (regularizers, ``add_loss``)."""
        parts = []
        if self._compile_loss is not None:
            y_pred_list = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
            self._build_compiled(y_pred_list)
            value = self._compile_loss(_flat_y(y, self.output_names(len(y_pred_list))), y_pred_list, sample_weight)
            if value is not None:
                parts.append(value)
        for extra in self.losses:
            parts.append(extra.sum().float() if extra.ndim else extra.float())
        if not parts:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        total = parts[0]
        for p in parts[1:]:
            total = total + p
        return total

    def _compute_loss(self, x, y, y_pred, sample_weight, training: bool):
        """compute_loss, also when an override predates Keras 3.3's ``training`` argument."""
        if _takes_training(type(self).compute_loss):
            return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        if self._compile_metrics is not None:
            # built here from the compiled losses (which pick 'accuracy''s variant); update_state detaches the
            # predictions (masks kept) and spreads y over the outputs itself
            self._build_compiled(list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred])
            with no_grad():
                self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def train_step(self, data) -> dict:
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=True)
        self._loss_tracker.update_state(loss.detach(), sample_weight=batch_len(data))
        self.optimizer.zero_grad()
        self.optimizer.scale_loss(loss).backward()  # LossScaleOptimizer / loss_scale_factor scale it; apply unscales
        self.optimizer.apply_gradients()
        # A NaN / inf loss is not checked here: Keras 3 trains on without a word (the epochs' losses read
        # nan) unless a TerminateOnNaN callback stops it, and so does this loop (no per-step host sync).
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data) -> dict:
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x, y, y_pred, sample_weight, training=False)
        self._loss_tracker.update_state(loss.detach(), sample_weight=batch_len(data))
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def predict_step(self, data):
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _ensure_ready(self, x) -> None:
        if not self.compiled:
            raise RuntimeError("You must compile your model before training/testing. Use `model.compile(optimizer, "
                               "loss)`.")
        if not self.built:
            self._build_from_data(x)
        if self.optimizer._inner is None or getattr(self.optimizer, "_model_id", None) != id(self):
            self.optimizer.build(self.parameters())
            self.optimizer._model_id = id(self)

    def _on_device(self, data, device=None):
        """A batch's tensors on the model's device (``device`` when the caller knows it), as Keras moves
        each batch to the device its weights live on."""
        return to_device(data, device_of_layer(self) if device is None else device)

    def _with_class_weight(self, data, class_weight):
        if class_weight is None:
            return data
        x, y, sw = unpack_x_y_sample_weight(data)
        labels = np.asarray(y[0] if isinstance(y, (list, tuple)) else y)
        if labels.ndim > 1 and labels.shape[-1] > 1:
            labels = labels.argmax(-1)
        labels = labels.reshape(-1).astype(np.int64)
        cw = np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)
        from ..creation import tensor

        return (x, y, tensor(cw))

    @_on_model_device
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = False):
        from .training_data import pack_x_y_sample_weight, to_tensors

        _check_class_weight(class_weight, sample_weight)
        dev = device_of_layer(self)
        data = to_tensors(pack_x_y_sample_weight(x, y, sample_weight), dev)
        data = self._on_device(self._with_class_weight(data, class_weight), dev)
        self._ensure_ready(unpack_x_y_sample_weight(data)[0])
        self.reset_metrics()  # Keras: each *_on_batch reports that batch alone
        logs = data_parallel.run_step(data_parallel.active(self), self, self.train_step, data)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    @_on_model_device
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = False):
        from .training_data import pack_x_y_sample_weight, to_tensors

        dev = device_of_layer(self)
        data = self._on_device(to_tensors(pack_x_y_sample_weight(x, y, sample_weight), dev), dev)
        self._ensure_ready(unpack_x_y_sample_weight(data)[0])
        self.reset_metrics()
        with no_grad():
            logs = data_parallel.run_step(data_parallel.active(self), self, self.test_step, data)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    @_on_model_device
    def predict_on_batch(self, x):
        from .training_data import to_tensors

        dev = device_of_layer(self)
        x = self._on_device(to_tensors(x, dev), dev)
        if not self.built:
            self._build_from_data(x)
        with no_grad():
            out = self.predict_step(x)
        return [_host(o) for o in out] if isinstance(out, (list, tuple)) else _host(out)

    # ---- fit / evaluate / predict ------------------------------------------------------------------------
    @_metrics_looked_up_once
    @_on_model_device
    def fit(self, x=None, y=None, batch_size=None, epochs: int = 1, verbose="auto", callbacks=None,
            validation_split: float = 0.0, validation_data=None, shuffle: bool = True, class_weight=None,
            sample_weight=None, initial_epoch: int = 0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq: int = 1):
        from ..random import generator

        verbose = 1 if verbose == "auto" else int(verbose)
        dp = data_parallel.active(self)  # a DataParallel distribution: batch_size is the global batch
        if dp is not None and not dp.is_chief:
            verbose = 0  # one progress bar (and one callback chatter) for all ranks: rank 0's
        batch_size = batch_size or 32
        _check_class_weight(class_weight, sample_weight)
        data = make_data(x, y, sample_weight, batch_size, shuffle)
        if dp is not None and dp.auto_shard and not isinstance(data, ArrayData):
            dp.follow_chief_streams()  # before any batch is drawn: the loaders shuffle alike on every rank
        val = None
        if validation_data is not None:
            vd = tuple(validation_data) if isinstance(validation_data, (list, tuple)) else (validation_data,)
            vb = validation_batch_size or batch_size
            val = make_data(*vd[:3], batch_size=vb) if len(vd) > 1 else make_data(vd[0], batch_size=vb)
        elif validation_split:
            if not isinstance(data, ArrayData):
                raise ValueError("validation_split is only supported for array inputs")
            data, val = data.split(validation_split)
        steps = steps_per_epoch or data.steps(batch_size)
        # History and the progress bar run after the user's callbacks (which may add logs), as in Keras
        cb = cbks.CallbackList(callbacks, add_history=True, add_progbar=bool(verbose), model=self, epochs=epochs,
                               steps=steps, verbose=verbose)
        history = next(c for c in cb.callbacks if isinstance(c, cbks.History))
        self.history = history
        self.stop_training = False
        dev = device_of_layer(self)  # the weights' device, or the current one where the first batch builds them
        first = next(iter(data.batches(batch_size, device=dev)), None) if not _is_stream(data) else None
        if first is not None:
            self._ensure_ready(unpack_x_y_sample_weight(self._on_device(first, dev))[0])
            dev = device_of_layer(self)
        self._initial_epoch = None
        cb.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch  # BackupAndRestore resumes from its backup's epoch
        rng = generator()
        if dp is not None:  # every rank follows rank 0: its resumed epoch and its shuffle draws
            initial_epoch = dp.broadcast_int(initial_epoch)
            rng = dp.chief_permutations(rng)
        synced = dp is None
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cb.on_epoch_begin(epoch)
            epoch_logs = {}
            for step, batch in enumerate(data.batches(batch_size, shuffle=shuffle, rng=rng, device=dev)):
                batch = self._on_device(self._with_class_weight(batch, class_weight), dev)
                if step == 0 and first is None:
                    self._ensure_ready(unpack_x_y_sample_weight(batch)[0])
                if not synced:  # built, and restored by callbacks: rank 0's weights and optimizer state
                    dp.broadcast_state(self)
                    synced = True
                cb.on_train_batch_begin(step)
                epoch_logs = data_parallel.run_step(dp, self, self.train_step, batch)
                cb.on_train_batch_end(step, epoch_logs)
                if self.stop_training or (steps_per_epoch is not None and step + 1 >= steps_per_epoch):
                    break
            data.on_epoch_end()
            logs = dict(epoch_logs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_data(val, validation_batch_size or batch_size, None, validation_steps, cb)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        if isinstance(self.optimizer, optimizers_mod.Optimizer) and epochs > 0:
            self.optimizer.finalize_variable_values(self.trainable_weights)  # use_ema: the averages, as Keras
        cb.on_train_end(logs)
        return history

    def _evaluate_data(self, data, batch_size, bar, steps=None, cb=None, sync_state: bool = False) -> dict:
        """One pass of test_step; ``cb`` (a CallbackList) gets Keras' on_test_* hooks around it. Under a
        DataParallel distribution each batch is global (split across ranks, logs reduced); ``sync_state``
        first gives every rank rank 0's weights (a top-level evaluate)."""
        dp = data_parallel.active(self)
        self.reset_metrics()
        logs = {}
        if cb is not None:
            cb.on_test_begin()
        dev = device_of_layer(self)
        with no_grad():
            for step, batch in enumerate(data.batches(batch_size, device=dev)):
                batch = self._on_device(batch, dev)
                if step == 0:
                    self._ensure_ready(unpack_x_y_sample_weight(batch)[0])
                    if dp is not None and sync_state:
                        dp.broadcast_state(self)
                if cb is not None:
                    cb.on_test_batch_begin(step)
                logs = data_parallel.run_step(dp, self, self.test_step, batch)
                if cb is not None:
                    cb.on_test_batch_end(step, logs)
                if bar is not None:
                    bar.update(step + 1, logs)
                if steps is not None and step + 1 >= steps:
                    break
        if cb is not None:
            cb.on_test_end(logs)
        return logs

    @_metrics_looked_up_once
    @_on_model_device
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict: bool = False):
        verbose = 1 if verbose == "auto" else int(verbose)
        if not data_parallel.is_chief():
            verbose = 0
        batch_size = batch_size or 32
        data = make_data(x, y, sample_weight, batch_size)
        total = steps or data.steps(batch_size)
        bar = Progbar(total, verbose=verbose) if verbose else None
        cb = cbks.CallbackList(callbacks, model=self, verbose=verbose, epochs=1, steps=total)
        logs = self._evaluate_data(data, batch_size, bar, steps, cb, sync_state=True)
        if bar is not None:
            bar.update(total or 0, logs, finalize=True)
        return logs if return_dict else self._flatten_metrics_in_order(logs)

    @_on_model_device
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Under a DataParallel distribution each batch is global: every rank predicts its slice and gets
        the whole batch's predictions back (all_gather)."""
        verbose = 1 if verbose == "auto" else int(verbose)
        dp = data_parallel.active(self)
        if dp is not None and not dp.is_chief:
            verbose = 0
        batch_size = batch_size or 32
        data = make_data(x, batch_size=batch_size)
        total = steps or data.steps(batch_size)
        bar = Progbar(total, verbose=verbose) if verbose else None
        cb = cbks.CallbackList(callbacks, model=self, verbose=verbose, epochs=1, steps=total)
        outs = []
        cb.on_predict_begin()
        dev = device_of_layer(self)
        with no_grad():
            for step, batch in enumerate(data.batches(batch_size, device=dev)):
                batch = self._on_device(batch, dev)
                if not self.built:
                    self._build_from_data(unpack_x_y_sample_weight(batch)[0])
                if dp is not None and step == 0:
                    dp.broadcast_state(self)
                if dp is not None:
                    batch = dp.local_batch(batch)
                cb.on_predict_batch_begin(step)
                out = self.predict_step(batch)
                cb.on_predict_batch_end(step, {"outputs": out})
                host = [_host(o) for o in out] if isinstance(out, (list, tuple)) else _host(out)
                if dp is not None:
                    host = [dp.gather(h) for h in host] if isinstance(host, list) else dp.gather(host)
                outs.append(host)
                if bar is not None:
                    bar.update(step + 1)
                if steps is not None and step + 1 >= steps:
                    break
        cb.on_predict_end()
        if bar is not None:
            bar.update(total or 0, finalize=True)
        if outs and isinstance(outs[0], list):
            return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
        return np.concatenate(outs) if outs else np.empty((0,))


@functools.lru_cache(maxsize=None)
def _takes_training(compute_loss) -> bool:
    return "training" in inspect.signature(compute_loss).parameters


def _check_class_weight(class_weight, sample_weight) -> None:
    if class_weight is not None and sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")


def _is_stream(data) -> bool:
    return getattr(data, "stream", None) is not None


def _host(t: Tensor) -> np.ndarray:
    """A prediction as the NumPy array predict returns."""
    return backend_of(t._data).to_host(t._data)
