"""Datasets: the map-style base class, tensors zipped as samples, concatenation, subsets and random_split."""
from __future__ import annotations

import bisect
import math
from typing import Sequence

import numpy as np

from .._tensor import Tensor
from ..random import Generator


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` one of them (any structure the collate accepts)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """An iterable-style dataset: ``iter(ds)`` yields samples. With DataLoader workers every worker iterates
    its own copy; use ``get_worker_info()`` in ``__iter__`` to give each worker its share."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        raise TypeError("IterableDataset does not support + (torch's ChainDataset is not provided)")


def _length(x) -> int:
    return x.shape[0] if hasattr(x, "shape") else len(x)


class TensorDataset(Dataset):
    """Samples are the i-th rows of each of the given tensors (or NumPy arrays), which share their first dim."""

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = _length(tensors[0])
        for t in tensors:
            if not isinstance(t, (Tensor, np.ndarray)):
                raise TypeError(f"TensorDataset expects Tensors or NumPy arrays, got {type(t).__name__}")
            if _length(t) != n:
                raise ValueError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return _length(self.tensors[0])


class ConcatDataset(Dataset):
    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, index: int):
        if index < 0:
            if -index > len(self):
                raise IndexError("absolute value of index should not exceed dataset length")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = 0 if which == 0 else int(self.cumulative_sizes[which - 1])
        return self.datasets[which][index - start]


class Subset(Dataset):
    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = list(indices)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Sequence[float], generator=None) -> list[Subset]:
    """Splits into non-overlapping subsets of the given lengths, or fractions summing to 1 (the remainder
    is dealt round-robin, as torch does). ``generator`` is a NumPy Generator or an int seed."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    rng = _rng(generator)
    perm = rng.permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out


def _rng(generator) -> np.random.Generator:
    if generator is None:
        from ..random import generator as global_generator

        return global_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, Generator):  # fastnn.Generator (torch.Generator)
        return generator._gen
    if isinstance(generator, (int, np.integer)):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be a fastnn.Generator, a numpy Generator or an int seed, got "
                    f"{type(generator).__name__}")
