"""DataLoader worker processes: the loop each worker runs, and ``get_worker_info`` for datasets.

Each worker owns an index queue; the loader sends it tasks ``(task_id, indices)`` (map-style: the indices of
one batch, or one index without batching) or ``(task_id, None)`` (iterable-style: "your next batch"), and
the worker answers on the shared result queue with ``(task_id, worker_id, result)``. Tasks go round-robin to
the workers and results are handed out in task order, so the batches equal those of num_workers=0. A worker
stops on ``None``. Samples and batches cross the process boundary pickled (tensors by value)."""
from __future__ import annotations

import os
import queue as _queue
import random

_info = None  # this process's WorkerInfo (None in the main process)


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker (torch's fields, read-only)."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id: int, num_workers: int, seed: int, dataset) -> None:  # noqa: A002  (torch's name)
        for k, v in (("id", id), ("num_workers", num_workers), ("seed", seed), ("dataset", dataset)):
            object.__setattr__(self, k, v)

    def __setattr__(self, key, value):
        raise RuntimeError(f"Cannot assign attributes to WorkerInfo objects ({key})")

    def __repr__(self) -> str:
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers})"


def get_worker_info() -> WorkerInfo | None:
    """The calling worker's WorkerInfo, or None in the main process."""
    return _info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback text."""

    def __init__(self, exc: BaseException, worker_id: int) -> None:
        import traceback  # (here: only a failing worker pays for it)

        self.exc_type = type(exc)
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}.\nOriginal "
                        + traceback.format_exc())

    def reraise(self):
        try:  # torch re-raises the worker's exception type with the traceback text as its message
            err = self.exc_type(self.message)
        except Exception:
            err = RuntimeError(self.message)
        if self.exc_type is KeyError:  # KeyError quotes its argument; torch wraps the text the same way
            err = KeyError(self.message)
        raise err


class IterableDone:
    """The answer of a worker whose iterable-style dataset is exhausted."""


RESUME = "__resume__"  # a persistent worker's signal to restart its iterable dataset for a new epoch


def worker_loop(dataset, index_queue, result_queue, collate_fn, auto_collation: bool, batch_size, drop_last: bool,
                seed: int, init_fn, worker_id: int, num_workers: int, iterable: bool) -> None:
    global _info
    from .. import _runtime
    from ..random import manual_seed

    # OpenMP's thread pool does not survive fork: one thread per worker, as torch sets it
    _runtime.set_num_threads(1)
    manual_seed(seed % (2**63))
    random.seed(seed)
    _info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_error = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        it = iter(dataset) if iterable else None
    except Exception as e:
        init_error = ExceptionWrapper(e, worker_id)
    exhausted = False
    parent = os.getppid()
    while True:
        try:
            task = index_queue.get(timeout=5.0)
        except _queue.Empty:
            if os.getppid() != parent:  # the loader's process died without shutting us down
                break
            continue
        if task is None:
            break
        task_id, indices = task
        if indices == RESUME:
            if init_error is None:
                try:
                    it, exhausted = iter(dataset), False
                except Exception as e:
                    init_error = ExceptionWrapper(e, worker_id)
            continue
        if init_error is not None:
            result_queue.put((task_id, worker_id, init_error))
            continue
        try:
            if iterable:
                if exhausted:
                    result = IterableDone()
                else:
                    result = _next_batch(it, collate_fn, auto_collation, batch_size, drop_last)
                    exhausted = isinstance(result, IterableDone)
            elif auto_collation:
                result = collate_fn([dataset[i] for i in indices])
            else:
                result = collate_fn(dataset[indices])
        except Exception as e:
            result = ExceptionWrapper(e, worker_id)
        result_queue.put((task_id, worker_id, result))
        del result


def _next_batch(it, collate_fn, auto_collation: bool, batch_size, drop_last: bool):
    if not auto_collation:
        try:
            return collate_fn(next(it))
        except StopIteration:
            return IterableDone()
    batch = []
    for sample in it:
        batch.append(sample)
        if len(batch) == batch_size:
            return collate_fn(batch)
    if batch and not drop_last:
        return collate_fn(batch)
    return IterableDone()
