"""DataLoader: batches from a dataset through a sampler, collated into tensors, in the calling process or in
worker processes.

A TensorDataset is batched by fancy-indexing its arrays once per batch (no per-sample Python loop):
on 1797 digits at batch 64 that is ~20x faster than collating samples one by one. The sample order is host
data; batches are gathered and stacked in the array module of the tensors they come from.

With ``num_workers > 0`` batches are built in worker processes (``worker.py``; started with the platform's
default start method, ``fork`` on Linux, or ``multiprocessing_context``), ``prefetch_factor`` batches ahead
per worker, and handed out in sampler order: the same batches as ``num_workers=0``."""
from __future__ import annotations

import math
import numbers
import queue as _queue
import warnings

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from . import worker as _worker
from .dataset import Dataset, IterableDataset, TensorDataset, _rng
from .sampler import BatchSampler, RandomSampler, SequentialSampler


def default_collate(batch):
    """Stacks a list of samples: tensors/arrays/numbers become one tensor with a leading batch dim;
    tuples, lists and dicts are collated field by field; strings stay lists."""
    from ..creation import tensor

    first = batch[0]
    if isinstance(first, Tensor):
        arrays = [b._data for b in batch]
        return Tensor._wrap(backend_of(*arrays).xp.stack(arrays))  # a fresh array of the samples' dtype
    if isinstance(first, np.ndarray) or isinstance(first, np.generic):  # host samples (a user's dataset)
        return tensor(np.stack(batch))
    if isinstance(first, (bool, numbers.Number)):
        return tensor(batch)
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return type(first)(default_collate(list(field)) for field in zip(*batch)) if isinstance(first, tuple) \
            else [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, NumPy arrays, numbers, dicts or lists; "
                    f"found {type(first).__name__}")


def default_convert(data):
    """The collate without batching (``batch_size=None``): host arrays become tensors, containers are
    converted element by element, anything else is returned as is (torch's default_convert)."""
    from ..creation import as_tensor

    if isinstance(data, np.generic) or (hasattr(data, "__array_interface__") and not isinstance(data, Tensor)):
        return as_tensor(data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    return data


class DataLoader:
    """torch.utils.data.DataLoader's signature and checks (see the module docstring)."""

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if not in_order:
            raise NotImplementedError("DataLoader(in_order=False): batches are always returned in sampler order")
        if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                                       or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
            generator = _rng(generator)  # an int seed: one stream for all epochs (each epoch a new order)

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 f"shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 f"sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 f"got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        self._own_batch_sampler = False
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                                 "drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None and not iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self._own_batch_sampler = True

        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self._user_collate = collate_fn
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self._iterable = iterable
        self._workers = None  # the persistent workers, between epochs

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable_style() and self.batch_size is not None)

    def _iterable_style(self) -> bool:
        return isinstance(self.dataset, IterableDataset)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # a TypeError when the iterable dataset has no length, as in torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def __iter__(self):
        batches = self._batches()
        if not self.pin_memory:
            return batches
        from .. import _pinned, cuda

        if not cuda.is_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", UserWarning, stacklevel=2)
            return batches
        return _pinned_batches(batches, self.pin_memory_device or None, _pinned.pin_batch)

    def _batches(self):
        if self.num_workers == 0:
            return self._single_process()
        if self.persistent_workers:
            if self._workers is None:
                self._workers = _Workers(self)
            else:
                self._workers.reset()
            return self._workers.epoch()
        workers = _Workers(self)
        return workers.epoch(shutdown=True)

    def _single_process(self):
        if self._iterable:
            it = iter(self.dataset)
            while True:
                result = _worker._next_batch(it, self.collate_fn, self._auto_collation, self.batch_size,
                                             self.drop_last)
                if isinstance(result, _worker.IterableDone):
                    return
                yield result
        if self._own_batch_sampler and isinstance(self.dataset, TensorDataset) and self._user_collate is None:
            # the fast path: one fancy-index per tensor and batch
            order = np.asarray(list(iter(self.sampler)), dtype=np.int64)
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                if len(idx) < self.batch_size and self.drop_last:
                    return
                yield tuple(_take(t, idx) for t in self.dataset.tensors)
            return
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])


class _Workers:
    """The worker processes of one DataLoader (for one epoch, or across epochs with persistent_workers)."""

    def __init__(self, loader: DataLoader) -> None:
        import multiprocessing as _mp  # (here: programs without workers do not import it at start-up)

        self.loader = loader
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = _mp.get_context()
        elif isinstance(ctx, str):
            ctx = _mp.get_context(ctx)
        n = loader.num_workers
        self.result_queue = ctx.Queue()
        self.index_queues = [ctx.Queue() for _ in range(n)]
        for q in self.index_queues:
            q.cancel_join_thread()  # exiting must not wait for tasks nobody will read
        self.procs = [None] * n
        self.alive = True
        self.first = True
        # The first tasks are queued before the workers start and before their seed is drawn: a shuffling
        # sampler draws its order first, from the same generator, so the order equals num_workers=0's.
        self.reset()
        base_seed = int(_rng(loader.generator).integers(0, 2**63 - 1))  # torch draws it from the loader's generator
        for i, q in enumerate(self.index_queues):
            p = ctx.Process(target=_worker.worker_loop, daemon=True,
                            args=(loader.dataset, q, self.result_queue, loader.collate_fn, loader._auto_collation,
                                  loader.batch_size, loader.drop_last, base_seed + i, loader.worker_init_fn, i, n,
                                  loader._iterable))
            p.start()
            self.procs[i] = p

    def reset(self) -> None:
        loader = self.loader
        if not self.first and loader._iterable:
            for q in self.index_queues:
                q.put((-1, _worker.RESUME))
        self.first = False
        self.tasks = iter(loader.batch_sampler if loader.batch_sampler is not None else loader.sampler) \
            if not loader._iterable else None
        self.active = [True] * len(self.procs)
        self.next_worker = 0
        self.send_idx = 0
        self.rcvd_idx = 0
        self.task_worker: dict[int, int] = {}
        self.buffer: dict[int, object] = {}
        for _ in range(loader.prefetch_factor * len(self.procs)):
            if not self._dispatch():
                break

    def _dispatch(self) -> bool:
        """Sends the next task to the next active worker (round-robin); False when there is none to send."""
        n = len(self.procs)
        for _ in range(n):
            w = self.next_worker
            self.next_worker = (w + 1) % n
            if self.active[w]:
                break
        else:
            return False
        if self.tasks is not None:
            try:
                indices = next(self.tasks)
            except StopIteration:
                self.tasks = None
                self.active = [False] * n
                return False
        else:
            indices = None
        self.index_queues[w].put((self.send_idx, indices))
        self.task_worker[self.send_idx] = w
        self.send_idx += 1
        return True

    def _get(self):
        """One result from the workers, watching for dead workers and the loader's timeout."""
        timeout = self.loader.timeout
        waited = 0.0
        while True:
            step = min(1.0, timeout - waited) if timeout > 0 else 1.0
            try:
                return self.result_queue.get(timeout=step)
            except _queue.Empty:
                waited += step
                dead = [p.pid for p in self.procs if p is not None and not p.is_alive()]
                if dead:
                    self.shutdown(graceful=False)
                    raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(map(str, dead))}) exited "
                                       "unexpectedly") from None
                if timeout > 0 and waited >= timeout:
                    self.shutdown(graceful=False)
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def epoch(self, shutdown: bool = False):
        try:
            while self.rcvd_idx < self.send_idx:
                while self.rcvd_idx not in self.buffer:
                    task_id, w, result = self._get()
                    self.buffer[task_id] = result
                result = self.buffer.pop(self.rcvd_idx)
                w = self.task_worker.pop(self.rcvd_idx)
                self.rcvd_idx += 1
                if isinstance(result, _worker.ExceptionWrapper):
                    self.shutdown(graceful=False)
                    result.reraise()
                if isinstance(result, _worker.IterableDone):
                    self.active[w] = False
                    self._dispatch()
                    continue
                self._dispatch()
                yield result
        finally:  # also reached when the caller stops early (the generator is closed): nothing to wait for then
            if shutdown or not self.alive:
                self.shutdown(graceful=self.rcvd_idx >= self.send_idx)

    def shutdown(self, graceful: bool = True) -> None:
        """Stops the workers: asked to exit (``graceful``: the end of an epoch), else terminated at once (an
        error, a timeout, a dead sibling: what they are doing no longer matters, as in torch)."""
        if not self.alive:
            return
        self.alive = False
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for p in self.procs:
            if p is None:  # never started (an error while starting the others)
                continue
            if not graceful:
                p.terminate()
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
        if self.loader._workers is self:
            self.loader._workers = None

    def __del__(self):
        try:
            self.shutdown()
        except Exception:
            pass


def _take(t, idx: np.ndarray) -> Tensor:
    """Rows ``idx`` (host indices) of a tensor or a host array, as a new contiguous tensor beside it."""
    arr = t._data if isinstance(t, Tensor) else t
    be = backend_of(arr)
    return Tensor._wrap(be.xp.ascontiguousarray(arr[be.asarray(idx)]))


def _pinned_batches(batches, device, pin):
    """Each batch with its tensors in pinned memory (torch's pin-memory step, done in this thread); closing
    it closes ``batches`` (shutting its workers down)."""
    try:
        for batch in batches:
            yield pin(batch, device)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
