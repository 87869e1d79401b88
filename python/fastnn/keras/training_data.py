"""The batches fit / evaluate / predict iterate, each packed as Keras packs it: ``x``, ``(x, y)`` or
``(x, y, sample_weight)``, with host arrays turned into tensors (a custom ``train_step`` sees tensors).

Sources: NumPy arrays / lists / tensors (sliced here, shuffled per epoch), a fastnn ``Dataset`` (batched by
a DataLoader), a ``keras.utils.PyDataset`` or any object with ``__len__`` and ``__getitem__`` returning
batches, and any other iterable or generator of batches (a generator is one stream: later epochs continue
it, so give ``steps_per_epoch`` for an endless one)."""
from __future__ import annotations

import copy
import random

import numpy as np

from ..creation import tensor as _tensor
from .._tensor import Tensor


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    if y is None:
        return x if not isinstance(x, (list, tuple)) else (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found: "
                     f"{data}")


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def to_array(x):
    """Data to slice batches from: a tensor (detached, where it is) or a host array."""
    if isinstance(x, Tensor):
        return x.detach()
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # Keras' default float type; float64 data would double every cost
    return arr


def to_tensors(x, device=None):
    """Host arrays in a batch (nested in tuples, lists, dicts) as tensors on ``device`` (the CPU by default);
    tensors stay as they are."""
    if isinstance(x, Tensor) or x is None:
        return x
    if isinstance(x, dict):
        return {k: to_tensors(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(to_tensors(v, device) for v in x)
    if hasattr(x, "__array__") or isinstance(x, (float, int, bool)):  # host data (NumPy arrays, numbers)
        return host_or_tensor(to_array(x), device)
    return x


def host_or_tensor(arr, device=None):
    """A host array as a tensor on ``device`` (the CPU by default); string data stays a host array (the
    string preprocessing layers read it)."""
    if getattr(getattr(arr, "dtype", None), "kind", None) in ("U", "S", "O"):
        return arr
    return _tensor(arr, device=device)


def batch_len(data) -> int:
    x = unpack_x_y_sample_weight(data)[0]
    while isinstance(x, (list, tuple, dict)):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return int(x.shape[0])


def _num_samples(arrays) -> int:
    sizes = {a.shape[0] for a in arrays}
    if len(sizes) != 1:
        raise ValueError(f"Data cardinality is ambiguous: the arrays have sizes {sorted(sizes)}; make sure all "
                         "arrays contain the same number of samples.")
    return sizes.pop()


class ArrayData:
    """x / y / sample weights as lists of arrays (or tensors), sliced into batches."""

    def __init__(self, x, y=None, sample_weight=None) -> None:
        self.multi_x = isinstance(x, (list, tuple))
        self.dict_x = isinstance(x, dict)
        self.x_keys = list(x) if self.dict_x else None
        self.xs = [to_array(v) for v in (x.values() if self.dict_x else _as_list(x))]
        self.multi_y = isinstance(y, (list, tuple))
        self.y_keys = list(y) if isinstance(y, dict) else None  # targets by output name
        self.ys = [to_array(v) for v in (y.values() if self.y_keys is not None else _as_list(y))]
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

    def batches(self, batch_size: int, shuffle: bool = False, rng=None, device=None):
        """The batches in order (or shuffled by ``rng``), host slices made tensors on ``device`` (the CPU by
        default) in one copy; slices of tensors stay on their device."""
        order = rng.permutation(self.n) if shuffle else None
        for start in range(0, self.n, batch_size):
            sl = order[start:start + batch_size] if shuffle else slice(start, start + batch_size)
            xs = [host_or_tensor(v[sl], device) if not isinstance(v, Tensor) else v[sl] for v in self.xs]
            ys = [_tensor(v[sl], device=device) if not isinstance(v, Tensor) else v[sl] for v in self.ys]
            x = dict(zip(self.x_keys, xs)) if self.dict_x else (xs if self.multi_x else xs[0])
            y = dict(zip(self.y_keys, ys)) if self.y_keys is not None else (ys if self.multi_y else ys[0]) if ys \
                else None
            yield pack_x_y_sample_weight(x, y, _tensor(self.sw[sl], device=device) if self.sw is not None else None)

    def steps(self, batch_size: int) -> int:
        return -(-self.n // batch_size)

    def on_epoch_end(self) -> None:
        pass


class IterableData:
    """A DataLoader, a generator or any iterable of batches, used as it is (host arrays become tensors)."""

    def __init__(self, source) -> None:
        self.source = source
        # a one-shot generator / iterator (asking a DataLoader for an iterator here would start its workers)
        self.stream = source if hasattr(source, "__next__") else None

    def batches(self, batch_size=None, shuffle=False, rng=None, device=None):
        it = self.stream if self.stream is not None else iter(self.source)
        for batch in it:
            yield to_tensors(tuple(batch) if isinstance(batch, list) else batch, device)

    def steps(self, batch_size=None):
        try:
            return len(self.source)
        except TypeError:
            return None

    def on_epoch_end(self) -> None:
        pass


class IndexedData:
    """A ``keras.utils.PyDataset`` (or Keras 2's ``Sequence``): ``len()`` batches, ``ds[i]`` the i-th,
    ``on_epoch_end()`` after each epoch; the batch order is shuffled per epoch when fit shuffles, as in Keras."""

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def batches(self, batch_size=None, shuffle=False, rng=None, device=None):
        order = list(range(len(self.dataset)))
        if shuffle:
            random.shuffle(order)
        fetch = getattr(self.dataset, "fetch", None)  # a PyDataset prefetches with its workers / processes
        for batch in (fetch(order) if callable(fetch) else (self.dataset[i] for i in order)):
            yield to_tensors(tuple(batch) if isinstance(batch, list) else batch, device)

    def steps(self, batch_size=None):
        return len(self.dataset)

    def on_epoch_end(self) -> None:
        hook = getattr(self.dataset, "on_epoch_end", None)
        if callable(hook):
            hook()


def make_data(x, y=None, sample_weight=None, batch_size: int = 32, shuffle: bool = False):
    from ..data import DataLoader, Dataset

    if isinstance(x, Dataset):
        x = DataLoader(x, batch_size=batch_size, shuffle=shuffle)
    arrayish = isinstance(x, (np.ndarray, Tensor, list, tuple, dict))
    if not arrayish and hasattr(x, "__getitem__") and hasattr(x, "__len__") and not isinstance(x, DataLoader):
        _no_y(y, sample_weight, "a PyDataset")
        return IndexedData(x)
    if not arrayish and hasattr(x, "__iter__"):
        _no_y(y, sample_weight, "a dataset, generator or loader")
        return IterableData(x)
    return ArrayData(x, y, sample_weight)


def _no_y(y, sample_weight, what: str) -> None:
    if y is not None:
        raise ValueError(f"`y` argument is not supported when using {what} as input")
    if sample_weight is not None:
        raise ValueError(f"`sample_weight` argument is not supported when using {what} as input")
