"""What ``fit`` / ``evaluate`` / ``predict`` do under a ``DataParallel`` distribution, one rank per process.

Keras' data parallelism (JAX backend) runs the single-device program on a global batch sharded along its first
dimension, so training is numerically the one-device training on the global batch. Here each rank runs the
step on its slice and the pieces are joined by collectives of fastnn.distributed:

- ``batch_size`` is the GLOBAL batch: rank r computes on its contiguous slice (sizes differ by at most one,
  none may be empty). With ``auto_shard_dataset=False`` each rank's batches are its own and the global batch is
  their union.
- Gradients: the optimizer's apply (every train_step's path, a custom one's included) replaces each rank's
  gradients by ``sum_r (b_r / B) * grad_r`` (one all_reduce per dtype), the gradient of the global batch's
  mean loss (exact for Keras' default "sum_over_batch_size" reductions and for layer losses; a "sum"
  reduction would need the plain sum). Every rank then applies the same update.
- Metrics: before the logs are read, each metric variable is reduced across ranks by its ``aggregation``
  ("sum": summed, "mean": averaged, "only_first_replica": rank 0's, "none": left local), ``result()`` is
  taken and the local state restored, so logs, History and callbacks see the global figures on every rank.
- Weights, optimizer state and the shuffle order come from rank 0 (broadcast when fit / evaluate / predict
  start, after callbacks restored a backup), so ranks never drift apart. Arrays are shuffled by rank 0's
  draws; for a Dataset / DataLoader / PyDataset, fit first gives every rank rank 0's Python ``random`` and
  fastnn generator states, which their shuffles draw from. A generator or other iterable must itself yield
  the same batches on every rank (or its rank's own, with ``auto_shard_dataset=False``).
- Dropout and other random layers draw from each rank's own generator: their masks differ from a single
  process's (the statistics do not).
- BatchNormalization in training uses the global batch's statistics (``global_batch_norm.py``, a sync batch
  norm), as Keras' sharded program does: outputs and gradients are the single-process ones and the moving
  statistics are identical on every rank (PyTorch's DDP, by contrast, keeps per-rank statistics).
- ``predict`` returns the predictions of the whole input on every rank (all_gather)."""
from __future__ import annotations

import contextlib

from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad
from ...backend import backend_of
from ..training_data import batch_len
from . import distribution_lib

_STEP = None  # the DataParallelRun of the train / test step running now (its ``weight`` is this rank's share)


def active(model=None):
    """A DataParallelRun when the current distribution is a DataParallel one, else None."""
    dist = distribution_lib.distribution()
    if not isinstance(dist, distribution_lib.DataParallel):
        return None
    return DataParallelRun(dist)


def current_step():
    """The run whose step is executing (None outside a data-parallel step)."""
    return _STEP


def sync_gradients(arrays: list) -> list:
    """The optimizer's hook: global gradients inside a data-parallel step, the arrays unchanged outside."""
    return arrays if _STEP is None else _STEP.reduce_gradients(arrays)


def all_ranks_true(flag: bool) -> bool:
    """True when ``flag`` is true on every rank (decisions that must agree, e.g. a loss scale's skip)."""
    if _STEP is None or _STEP.world == 1:
        return bool(flag)
    return _STEP.all_true(flag)


def is_chief() -> bool:
    """Whether this process writes files (checkpoints) under the current distribution: rank 0 only."""
    run = active()
    return run is None or run.rank == 0


def _collectives():
    from ... import distributed

    return distributed


def _slice(data, start: int, stop: int):
    """The samples [start, stop) of a nested batch (tensors, host arrays, dicts, lists, tuples)."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: _slice(v, start, stop) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_slice(v, start, stop) for v in data)
    if hasattr(data, "shape") and len(data.shape):
        return data[start:stop]
    return data


def _split_sizes(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if r < extra else 0) for r in range(parts)]


class DataParallelRun:
    """One fit / evaluate / predict call under a DataParallel distribution (see the module docstring)."""

    def __init__(self, dist) -> None:
        self.world = dist.num_processes
        self.rank = dist._process_id
        self.auto_shard = bool(dist.auto_shard_dataset)
        self.weight = 1.0
        self.counts = [0] * self.world

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    # ---- collectives on host / device arrays -------------------------------------------------------------
    def _all_reduce(self, arrays: list, op: str = "SUM") -> list:
        """``arrays`` reduced across ranks: one collective per dtype over a flat buffer (new arrays)."""
        if self.world == 1 or not arrays:
            return [a.copy() for a in arrays]
        d = _collectives()
        return _per_dtype(arrays, lambda flat: d.all_reduce(flat, op=getattr(d.ReduceOp, op)))

    def _broadcast(self, arrays: list) -> list:
        """Rank 0's values of ``arrays`` (same shapes and dtypes on every rank)."""
        if self.world == 1 or not arrays:
            return arrays
        d = _collectives()
        return _per_dtype(arrays, lambda flat: d.broadcast(flat, src=0))

    def _ints(self, values: list[int], op: str = "SUM") -> list[int]:
        from ...creation import tensor

        if self.world == 1:
            return list(values)
        t = tensor(values, dtype="int64")
        self._collective_in_place(t, op)
        return [int(v) for v in t.tolist()]

    def _collective_in_place(self, t: Tensor, op: str) -> None:
        d = _collectives()
        if op == "BROADCAST":
            d.broadcast(t, src=0)
        else:
            d.all_reduce(t, op=getattr(d.ReduceOp, op))

    def all_true(self, flag: bool) -> bool:
        return self._ints([1 if flag else 0], "MIN")[0] == 1

    def broadcast_int(self, value: int) -> int:
        if self.world == 1:
            return int(value)
        from ...creation import tensor

        t = tensor([int(value)], dtype="int64")
        self._collective_in_place(t, "BROADCAST")
        return int(t.tolist()[0])

    # ---- state -------------------------------------------------------------------------------------------
    def broadcast_state(self, model) -> None:
        """Rank 0's weights (trainable and not) and optimizer variables on every rank; a rank whose model
        holds other shapes fails on every rank with a ValueError instead of a collective mismatch."""
        tensors = list(model.weights)
        opt = getattr(model, "optimizer", None)
        if opt is not None and getattr(opt, "built", False):
            tensors += [v for v in opt.variables if isinstance(v, Tensor)]
        if self.world == 1:
            return
        sizes = [len(tensors), sum(int(t.numel()) for t in tensors),
                 sum((i + 1) * int(t.numel()) for i, t in enumerate(tensors))]
        low, high = self._ints(sizes, "MIN"), self._ints(sizes, "MAX")
        if low != high:
            raise ValueError(f"DataParallel: the ranks' models differ (weight counts / sizes {low} to {high} across "
                             f"ranks; rank {self.rank} has {sizes}): every rank must build the same model")
        values = self._broadcast([t.detach()._data.copy() for t in tensors])
        if self.rank != 0:
            with no_grad():
                for t, v in zip(tensors, values):
                    t._write(..., v)

    def follow_chief_streams(self) -> None:
        """Rank 0's Python ``random`` and fastnn generator states on every rank: a DataLoader or PyDataset
        draws its batch order from them, and every rank must see the same global batches to take its part."""
        if self.world == 1:
            return
        import random

        from ... import random as fastnn_random

        states = [random.getstate(), fastnn_random.get_rng_state()]
        _collectives().broadcast_object_list(states, src=0)
        random.setstate(states[0])
        fastnn_random.set_rng_state(states[1])

    def chief_permutations(self, rng):
        """An object whose ``permutation(n)`` is rank 0's draw from ``rng`` on every rank (fit's shuffle)."""
        return _ChiefPermutation(self, rng)

    # ---- batches -----------------------------------------------------------------------------------------
    def local_batch(self, batch):
        """This rank's part of a global batch; sets ``weight`` (its share of the global batch) and ``counts``."""
        n = batch_len(batch)
        if self.auto_shard:
            counts = _split_sizes(n, self.world)
        else:
            mine = [0] * self.world
            mine[self.rank] = n
            counts = self._ints(mine, "SUM")
        total = sum(counts)
        if min(counts) == 0:
            raise ValueError(f"DataParallel: a global batch of {total} samples cannot be split across {self.world} "
                             "processes: every process needs at least one sample. Use a batch size (and a number "
                             f"of samples per batch, the last one included) of at least {self.world}.")
        self.counts, self.weight = counts, counts[self.rank] / total
        if not self.auto_shard:
            return batch
        start = sum(counts[:self.rank])
        return _slice(batch, start, start + counts[self.rank])

    @contextlib.contextmanager
    def step(self):
        """Marks a train / test step as running: the optimizer's apply and BatchNormalization find it."""
        global _STEP
        before, _STEP = _STEP, self
        try:
            yield self
        finally:
            _STEP = before

    def reduce_gradients(self, arrays: list) -> list:
        scaled = [a * a.dtype.type(self.weight) for a in arrays]
        return self._all_reduce(scaled, "SUM") if self.world > 1 else scaled

    # ---- logs --------------------------------------------------------------------------------------------
    def reduce_logs(self, model, raw_logs) -> dict:
        """The step's logs as global figures: metric results from states reduced across ranks, other
        numbers averaged with each rank's share of the batch as its weight."""
        from ..training import _python_logs

        local = _python_logs(raw_logs)
        if self.world == 1:
            return local
        results = self._global_metric_results(model)
        others = [k for k, v in local.items() if k not in results and isinstance(v, float)]
        from ...creation import tensor

        averaged = {}
        if others:
            t = tensor([local[k] * self.weight for k in others], dtype="float64")
            self._collective_in_place(t, "SUM")
            averaged = dict(zip(others, t.tolist()))
        return {k: results.get(k, averaged.get(k, v)) for k, v in local.items()}

    def _global_metric_results(self, model) -> dict:
        variables = []
        for m in model.metrics:
            variables += _metric_variables(m)
        groups = {"sum": [], "mean": [], "only_first_replica": []}
        for v in variables:
            if getattr(v, "aggregation", "sum") in groups:
                groups[getattr(v, "aggregation", "sum")].append(v)
        saved = [(v, v._data.copy()) for g in groups.values() for v in g]
        reduced = (list(zip(groups["sum"], self._all_reduce([v._data for v in groups["sum"]], "SUM")))
                   + list(zip(groups["mean"], self._all_reduce([v._data for v in groups["mean"]], "AVG")))
                   + list(zip(groups["only_first_replica"],
                              self._broadcast([v._data.copy() for v in groups["only_first_replica"]]))))
        try:
            with no_grad():
                for v, value in reduced:
                    v._write(..., value)
            return model.get_metrics_result()
        finally:
            with no_grad():
                for v, value in saved:
                    v._write(..., value)

    # ---- predictions -------------------------------------------------------------------------------------
    def gather(self, arr):
        """The predictions of every rank's slice, in rank order (host or device arrays of one output)."""
        if self.world == 1:
            return arr
        d = _collectives()
        xp = backend_of(arr).xp
        rows = max(self.counts)
        padded = xp.zeros((rows,) + tuple(arr.shape[1:]), dtype=arr.dtype)
        padded[:arr.shape[0]] = arr
        parts = [Tensor._wrap(xp.empty_like(padded)) for _ in range(self.world)]
        d.all_gather(parts, Tensor._wrap(padded))
        return xp.concatenate([p._data[:c] for p, c in zip(parts, self.counts)])


def _metric_variables(metric) -> list:
    """A metric's state variables, a CompileMetrics' inner metrics' included (it holds them in ``entries``)."""
    out = list(metric.variables)
    for entry in getattr(metric, "entries", None) or []:
        out += _metric_variables(entry[2])
    seen, unique = set(), []
    for v in out:
        if id(v) not in seen:
            seen.add(id(v))
            unique.append(v)
    return unique


class _ChiefPermutation:
    def __init__(self, run: DataParallelRun, rng) -> None:
        self.run, self.rng = run, rng

    def permutation(self, n: int):
        from ...creation import tensor

        order = self.rng.permutation(n) if self.run.rank == 0 else None
        if self.run.world == 1:
            return order
        t = tensor(order if order is not None else [0] * n, dtype="int64")
        self.run._collective_in_place(t, "BROADCAST")
        return t._data


def run_step(run, model, step_fn, batch) -> dict:
    """``step_fn`` (train_step / test_step) on this rank's part of ``batch``; the logs as Python numbers, the
    global figures under a data-parallel run."""
    from ..training import _python_logs

    if run is None:
        return _python_logs(step_fn(batch))
    local = run.local_batch(batch)
    with run.step():
        raw = step_fn(local)
    return run.reduce_logs(model, raw)


def _per_dtype(arrays: list, collective) -> list:
    """``collective`` (run in place on a flat Tensor) applied to ``arrays`` with one call per dtype and array type:
    each group is concatenated, communicated, and split back into new arrays of the original shapes."""
    out = [None] * len(arrays)
    by_dtype: dict = {}
    for i, a in enumerate(arrays):
        by_dtype.setdefault((str(a.dtype), type(a)), []).append(i)
    for idx in by_dtype.values():
        xp = backend_of(arrays[idx[0]]).xp
        flat = xp.concatenate([arrays[i].reshape(-1) for i in idx])
        collective(Tensor._wrap(flat))
        at = 0
        for i in idx:
            n = arrays[i].size
            out[i] = flat[at:at + n].reshape(arrays[i].shape)
            at += n
    return out
