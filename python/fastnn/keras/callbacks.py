"""Keras callbacks: History, ProgbarLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger,
LearningRateScheduler, LambdaCallback; TerminateOnNaN, BackupAndRestore, SwapEMAWeights, TensorBoard and
RemoteMonitor are in callbacks_extra.py."""
from __future__ import annotations

import csv
import math
import operator
import os

import numpy as np

from .distribution import data_parallel
from .progbar import Progbar, print_msg


class Callback:
    def __init__(self) -> None:
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # Keras' older per-batch hooks run for training batches

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList(Callback):
    """Calls each hook on every callback in order. ``add_history`` / ``add_progbar`` append a History and a
    ProgbarLogger when none is given, as Keras'; ``params`` (epochs, steps, verbose) go to every callback."""

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False, model=None,
                 **params) -> None:
        super().__init__()
        self.callbacks = list(callbacks) if callbacks else []
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        self.set_params(params)

    def append(self, callback) -> None:
        self.callbacks.append(callback)

    def set_model(self, model) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def __getattribute__(self, name: str):
        if name.startswith("on_"):
            indexed = "epoch" in name or "batch" in name  # on_epoch_end(epoch, logs), on_train_end(logs)

            def call(*args, logs=None):
                if len(args) > indexed:
                    args, logs = args[:indexed], args[indexed]
                for cb in object.__getattribute__(self, "callbacks"):
                    getattr(cb, name)(*args, logs)  # logs passed positionally, as Keras' CallbackList does

            return call
        return object.__getattribute__(self, name)


class History(Callback):
    def on_train_begin(self, logs=None):
        self.epoch: list[int] = []
        self.history: dict[str, list] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/N`` and the progress bar for fit (verbose 1 or 2, from fit's params), as Keras'."""

    def __init__(self) -> None:
        super().__init__()
        self.bar = None
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")
        self.seen = 0
        self.bar = Progbar(self.target, verbose=self.verbose)

    def _progbar(self) -> Progbar:
        if self.bar is None:
            self.bar = Progbar(self.target, verbose=self.verbose)
        return self.bar

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self._progbar().update(self.seen, dict(logs or {}), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        self._progbar()
        if self.target is None:
            self.bar.target = self.seen
        self.bar.update(self.bar.target or self.seen, dict(logs or {}), finalize=True)


def _mode_op(mode: str, monitor: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall", "f1")) else "min"
    return (operator.lt, math.inf) if mode == "min" else (operator.gt, -math.inf)


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            import warnings

            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.monitor_op, self.initial = _mode_op(mode, monitor)
        self.min_delta = abs(min_delta) if self.monitor_op is operator.gt else -abs(min_delta)

    _missing = "{name}: metric `{monitor}` is not available. Available metrics are: {available}"

    def current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            import warnings

            warnings.warn(self._missing.format(name=type(self).__name__, monitor=self.monitor,
                                               available=",".join(logs or {})), stacklevel=3)
        return value

    def improved(self, value, best) -> bool:
        return bool(self.monitor_op(value - self.min_delta, best))


class EarlyStopping(_Monitor):
    _missing = ("Early stopping conditioned on metric `{monitor}` which is not available. Available metrics are: "
                "{available}")

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline=None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = self.initial if self.baseline is None else self.baseline
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = self.current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self.improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch > 0:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Saves the model (or its weights) after each epoch, or every ``save_freq`` batches, or only when
    ``monitor`` improved; ``filepath`` may hold ``{epoch:02d}``, ``{batch}`` (batch-level saves) and any log
    key (``{val_loss:.2f}``)."""

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq="epoch",
                 initial_value_threshold=None) -> None:
        super().__init__(monitor, mode, 0)
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or integer values")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        self.save_freq = save_freq
        self.best = self.initial if initial_value_threshold is None else initial_value_threshold
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        new_epoch = self._last_batch_seen is None or batch <= self._last_batch_seen
        self._batches_seen_since_last_saving += batch + 1 if new_epoch else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None

    def _save(self, epoch, batch, logs) -> None:
        logs = logs or {}
        path = self._path(epoch, batch, logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                import warnings

                warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            else:
                best = "None" if self.best is None else f"{self.best:.5f}"
                if not self.improved(value, self.best):
                    if self.verbose:
                        print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                    return
                if self.verbose:
                    print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {value:.5f}, saving "
                              f"model to {path}")
                self.best = value
        elif self.verbose:
            print_msg(f"\nEpoch {epoch + 1}: saving model to {path}")
        if os.path.isdir(path):
            raise OSError(f"Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing "
                          f"directory: {path}")
        if not data_parallel.is_chief():
            return  # a data-parallel run: the ranks hold the same weights, rank 0 alone writes them
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class ReduceLROnPlateau(_Monitor):
    _missing = ("Learning rate reduction is conditioned on metric `{monitor}` which is not available. Available "
                "metrics are: {available}.")

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 **kwargs) -> None:
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = self.initial, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self.model.optimizer.learning_rate
        value = self.current(logs)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(value, self.best):
            self.best, self.wait = value, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.model.optimizer.learning_rate
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at each epoch's start to ``schedule(epoch, lr)`` (or Keras 2's
    ``schedule(epoch)``); the schedule must return a float, as Keras checks."""

    def __init__(self, schedule, verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the older one-argument schedule
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        optimizer.learning_rate = float(lr)
        if self.verbose:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """One CSV row per epoch: ``epoch`` then the log keys in sorted order (with ``val_`` columns added
    when the first epoch had none, as Keras writes them); list values are written as ``"[a, b]"``."""

    def __init__(self, filename, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None
        self.writer = None
        self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer, self.keys = None, None

    @staticmethod
    def _cell(value):
        if isinstance(value, str):
            return value
        if hasattr(value, "__iter__") and getattr(value, "ndim", 1) != 0:
            return f'"[{", ".join(map(str, value))}]"'
        return value

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, delimiter=self.sep,
                                         lineterminator="\r\n")
            if self.append_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: self._cell(logs.get(k, "NA")) for k in self.keys}})
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LambdaCallback(Callback):
    """Callback hooks given as functions: the six named arguments, and any other attribute (``on_test_end=``,
    ``on_predict_begin=``, ...) set from ``**kwargs``, as Keras'."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs) -> None:
        super().__init__()
        self.__dict__.update(kwargs)
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


from .callbacks_extra import (BackupAndRestore, RemoteMonitor, SwapEMAWeights, TensorBoard,  # noqa: E402, F401
                              TerminateOnNaN)
