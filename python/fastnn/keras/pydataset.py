"""``keras.utils.PyDataset`` (alias ``Sequence``): a dataset of batches a user writes in Python, indexed by
batch number (``__getitem__``, ``__len__``), with ``on_epoch_begin`` / ``on_epoch_end`` hooks. ``workers``,
``use_multiprocessing`` and ``max_queue_size`` say how batches are prefetched: ``epoch_batches`` runs one
epoch with that many threads (or processes), at most ``max_queue_size`` batches ahead, in batch order."""
from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import warnings
from collections import deque


class PyDataset:
    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = False
        for attr, default in (("_workers", 1), ("_use_multiprocessing", False), ("_max_queue_size", 10)):
            if not hasattr(self, attr):
                setattr(self, attr, default)
                missing = True
        if missing:
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value) -> None:
        self._max_queue_size = value

    def __getitem__(self, index):
        """Batch number ``index``: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``."""
        raise NotImplementedError

    @property
    def num_batches(self):
        """The number of batches per epoch (``len(self)``), or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError("You need to implement the `num_batches` property:\n\n@property\n"
                                  "def num_batches(self):\n  return ...")

    def __iter__(self):
        """One pass over the batches in order, in this thread (no epoch hooks): ``for x, y in dataset``."""
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        for index in (range(n) if n is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self) -> None:
        pass

    def on_epoch_end(self) -> None:
        pass

    def epoch_batches(self, shuffle: bool = False, rng=None):
        """One epoch of batches for a training loop: ``on_epoch_begin``, the batches (in a shuffled order of
        indices if ``shuffle``, from ``rng.permutation``), then ``on_epoch_end``. With ``workers > 1`` (or
        ``use_multiprocessing``) batches are fetched ahead by a pool of that many threads (processes), at
        most ``max_queue_size`` in flight, and still yielded in order."""
        self.on_epoch_begin()
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        if n is None:
            if shuffle:
                raise ValueError("A PyDataset without num_batches / __len__ cannot be shuffled")
            order = itertools.count()
        else:
            order = iter(rng.permutation(n).tolist() if shuffle else range(n))
        yield from self.fetch(order)
        self.on_epoch_end()

    def fetch(self, order):
        """The batches at the indices of ``order`` (an iterable), in that order, fetched ahead by ``workers``
        threads (processes with ``use_multiprocessing``) at most ``max_queue_size`` in flight; in this thread
        when ``workers <= 1`` (and no multiprocessing). No epoch hooks are called."""
        workers, processes = self.workers, self.use_multiprocessing
        if workers <= 1 and not (processes and workers > 0):
            for index in order:
                yield self[index]
            return
        workers = max(workers, 1)
        ahead = max(int(self.max_queue_size), 1)
        if processes:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_set_worker_dataset,
                                                          initargs=(self,))
            fetch = _worker_item
        else:
            pool = concurrent.futures.ThreadPoolExecutor(workers)
            fetch = self.__getitem__
        pending: deque = deque()
        with pool:
            for index in order:
                pending.append(pool.submit(fetch, index))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


Sequence = PyDataset  # Keras' older name

_worker_dataset = None


def _set_worker_dataset(dataset) -> None:
    global _worker_dataset
    _worker_dataset = dataset


def _worker_item(index):
    return _worker_dataset[index]


__all__ = ["PyDataset", "Sequence"]
