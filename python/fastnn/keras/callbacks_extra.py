"""Keras callbacks beyond the basic ones: TerminateOnNaN, BackupAndRestore, SwapEMAWeights, TensorBoard and
RemoteMonitor, with Keras 3.15's arguments, defaults and errors."""
from __future__ import annotations

import json
import math
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import warnings

from .. import _atomic_file
from .callbacks import Callback
from .distribution import data_parallel
from .progbar import print_msg


def _scalar(v):
    """A log value as a Python number (a 0-d tensor or NumPy scalar unwrapped), for JSON and event files."""
    if hasattr(v, "item") and callable(v.item):
        return v.item()
    return v


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite; with ``raise_error=True`` raises instead."""

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(_scalar(loss))
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class BackupAndRestore(Callback):
    """Backs up the model's weights and the epoch reached to ``backup_dir`` (at each epoch's end, or every
    ``save_freq`` batches); a later ``fit`` that finds a backup restores it and resumes from that epoch. The
    backup is deleted when training ends normally (``delete_checkpoint=True``). ``double_checkpoint`` keeps
    the previous backup as well, used when the latest one cannot be read."""

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True):
        super().__init__()
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        self.backup_dir = os.fspath(backup_dir)
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = f"{self._weights_path}.bkp"
        self._prev_training_metadata_path = f"{self._training_metadata_path}.bkp"
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(f"Invalid value for argument `save_freq`. Received: save_freq={save_freq}. Expected "
                             "either 'epoch' or an integer value.")

    def on_train_begin(self, logs=None):
        try:
            self._load_model()
        except (OSError, ValueError) as e:
            if isinstance(e, ValueError) and not os.path.exists(self._weights_path):
                raise
            if not os.path.exists(self._prev_weights_path):  # the latest backup is unreadable: the previous one
                raise
            _atomic_file.copy_file(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_training_metadata_path):
                _atomic_file.copy_file(self._prev_training_metadata_path, self._training_metadata_path)
            elif os.path.exists(self._training_metadata_path):
                os.remove(self._training_metadata_path)
            self._load_model()

    def _load_model(self):
        if not self.model.built:
            raise ValueError(f"To use the BackupAndRestore callback, you model must be built before you call `fit()`. "
                             f"Model {self.model} is unbuilt. You can build it beforehand by calling it on a batch "
                             "of data.")
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path) as f:
                self.model._initial_epoch = json.loads(f.read())["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model()

    def _save_model(self):
        if not data_parallel.is_chief():
            return  # a data-parallel run: rank 0 alone writes the backup every rank restores from
        os.makedirs(self.backup_dir, exist_ok=True)
        # every file replaced atomically, so a kill at any moment leaves a complete backup to restore from
        if self.double_checkpoint and os.path.exists(self._weights_path):
            _atomic_file.copy_file(self._weights_path, self._prev_weights_path)
        if self.double_checkpoint and os.path.exists(self._training_metadata_path):
            _atomic_file.copy_file(self._training_metadata_path, self._prev_training_metadata_path)
        self.model.save_weights(self._weights_path, overwrite=True)
        _atomic_file.write_text(self._training_metadata_path,
                                json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))

    def _should_save_on_batch(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen  # a new epoch
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and data_parallel.is_chief() and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)


class SwapEMAWeights(Callback):
    """Evaluates and predicts with the optimizer's exponential moving average of the weights (an optimizer
    made with ``use_ema=True``), swapping them in for evaluation and back after; ``swap_on_epoch=True``
    also swaps them in at each epoch's end (so that ModelCheckpoint saves the averages)."""

    def __init__(self, swap_on_epoch: bool = False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizers(self):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        if hasattr(optimizer, "optimizers"):
            inner = [o for o in optimizer.optimizers if getattr(o, "use_ema", False)]
            if not inner:
                raise ValueError("SwapEMAWeights must be used when at least one inner optimizer has `use_ema=True` "
                                 "set. Received a MultiOptimizer with all inner optimizers having `use_ema=False`.")
        else:
            inner = [optimizer]
        for opt in inner:
            if not hasattr(opt, "_model_variables_moving_average"):
                raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the optimizer. "
                                 f"Received: use_ema={getattr(opt, 'use_ema', False)}")
        return inner

    @staticmethod
    def _pairs(opt):
        return zip(opt._trainable_variables, opt._model_variables_moving_average)

    def _swap_variables(self):
        from ..autograd.grad_mode import no_grad

        with no_grad():
            for opt in self._optimizers():
                for var, average in self._pairs(opt):
                    kept = var.detach().clone()
                    var.copy_(average)
                    average.copy_(kept)

    def _finalize_ema_values(self):
        from ..autograd.grad_mode import no_grad

        with no_grad():
            for opt in self._optimizers():
                for var, average in self._pairs(opt):
                    average.copy_(var)

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True
            if epoch == self.params["epochs"] - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False

    def on_predict_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_predict_end(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = False


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError("keras.callbacks.TensorBoard needs the `tensorboardX` package to write TensorBoard event "
                          "files (pip install tensorboardX); fastnn.keras does not use TensorFlow's writer.") from e
    return SummaryWriter


class TensorBoard(Callback):
    """Writes TensorBoard event files: per-epoch scalars (``epoch_loss``, ``epoch_<metric>``,
    ``epoch_learning_rate``) under ``log_dir/train`` and the validation ones under ``log_dir/validation``,
    as Keras does; ``update_freq='batch'`` or N adds ``batch_<name>`` scalars every N batches,
    ``histogram_freq`` weight histograms, ``write_graph`` the model's summary as text and
    ``write_steps_per_second`` the training speed. The files are written with tensorboardX."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if profile_batch:
            raise ValueError("Profiling is not yet available with the fastnn backend. Received: "
                             f"profile_batch={profile_batch} (must be 0)")
        if write_images:
            raise NotImplementedError("TensorBoard(write_images=True): weight images are not written by fastnn.keras")
        if embeddings_freq or embeddings_metadata is not None:
            raise NotImplementedError("TensorBoard(embeddings_freq=...): the embedding projector is not written by "
                                      "fastnn.keras")
        if update_freq not in ("epoch", "batch") and not isinstance(update_freq, int):
            raise ValueError(f"Unrecognized update_freq: {update_freq}")
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict = {}
        self._global_train_batch = 0
        self._epoch_start = None

    def _writer(self, which: str):
        if which not in self._writers:
            self._writers[which] = self._writer_class(os.path.join(self.log_dir, which))
        return self._writers[which]

    def set_model(self, model):
        super().set_model(model)
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        if self.write_graph:
            from .summary import print_summary

            lines: list[str] = []
            try:
                print_summary(self.model, lines.append)
            except (ValueError, AttributeError):  # an unbuilt subclassed model has no summary yet
                lines = [f"Model: {getattr(self.model, 'name', type(self.model).__name__)}"]
            self._writer("train").add_text("keras", "\n".join(lines), 0)

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._epoch_start = time.perf_counter()
        self._epoch_batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_train_batch += 1
        self._epoch_batches = getattr(self, "_epoch_batches", 0) + 1
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(_scalar(value)), self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        import time

        logs = dict(logs or {})
        train, val = self._writer("train"), None
        lr = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
        if lr is not None and "learning_rate" not in logs:
            logs["learning_rate"] = lr
        if self.write_steps_per_second and self._epoch_start is not None:
            elapsed = time.perf_counter() - self._epoch_start
            logs["steps_per_second"] = getattr(self, "_epoch_batches", 0) / max(elapsed, 1e-9)
        for name, value in logs.items():
            if name.startswith("val_"):
                val = val or self._writer("validation")
                val.add_scalar(f"epoch_{name[4:]}", float(_scalar(value)), epoch)
            else:
                train.add_scalar(f"epoch_{name}", float(_scalar(value)), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for layer in self.model.layers:
                for name, w in zip(getattr(layer, "_weight_order", []), layer.get_weights()):
                    train.add_histogram(f"{layer.name}/{name}", w, epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}


class RemoteMonitor(Callback):
    """POSTs each epoch's logs to ``root + path``: as a form field ``field`` holding the logs' JSON, or as a
    JSON body with ``send_as_json=True`` (Keras' two formats). It posts with the standard library's urllib,
    so it needs no ``requests`` package; an unreachable server is a warning, as in Keras."""

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch, **{k: _scalar(v) for k, v in (logs or {}).items()}}
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("ascii")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
