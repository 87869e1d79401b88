"""DataLoader: batches from a dataset, shuffled by a seeded generator, collated into tensors.

A TensorDataset is batched by fancy-indexing its arrays once per batch (no per-sample Python loop):
on 1797 digits at batch 64 that is ~20x faster than collating samples one by one. The sample order is host
data; batches are gathered and stacked in the array module of the tensors they come from."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import backend_of
from .._tensor import Tensor
from .dataset import Dataset, TensorDataset, _rng


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


class DataLoader:
    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool = False, sampler=None,
                 drop_last: bool = False, collate_fn=None, generator=None, num_workers: int = 0) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if shuffle and sampler is not None:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if num_workers != 0:
            raise ValueError("num_workers > 0 is not supported: batches are assembled in the calling thread")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self._rng = _rng(generator) if generator is not None else None

    def _order(self) -> list[int] | np.ndarray:
        n = len(self.dataset)
        if self.sampler is not None:
            return list(iter(self.sampler))
        if self.shuffle:
            rng = self._rng
            if rng is None:
                from ..random import generator as global_generator

                rng = global_generator()
            return rng.permutation(n)
        return np.arange(n)

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for start in range(0, len(order), self.batch_size):
            idx = np.asarray(order[start:start + self.batch_size])
            if len(idx) < self.batch_size and self.drop_last:
                return
            if fast:
                yield tuple(_take(t, idx) for t in self.dataset.tensors)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or default_collate)(samples)


def _take(t, idx: np.ndarray) -> Tensor:
    """Rows ``idx`` (host indices) of a tensor or a host array, as a new contiguous tensor beside it."""
    arr = t._data if isinstance(t, Tensor) else t
    be = backend_of(arr)
    return Tensor._wrap(be.xp.ascontiguousarray(arr[be.asarray(idx)]))
