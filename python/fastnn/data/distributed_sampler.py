"""torch.utils.data.distributed.DistributedSampler: each rank draws its own disjoint share of a dataset.

Semantics follow torch 2.13: ``num_replicas`` / ``rank`` default to the default process group's world size
and rank; the shuffled order is a permutation drawn from a Generator seeded ``seed + epoch`` so that every
rank draws the same one (call ``set_epoch`` before each epoch to reshuffle); without ``drop_last`` the order
is padded by repeating its head until it divides evenly, with ``drop_last`` its tail is cut; rank ``r`` takes
positions ``r, r + num_replicas, ...``. The permutation comes from fastnn's Generator and ``randperm``, so its
numbers differ from torch's (another bit generator); the shard sizes and the padding do not."""
from __future__ import annotations

import math
from typing import Iterator

from ..creation import randperm
from ..random import Generator
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _default_group_value(what: str) -> int:
    # imported here: fastnn.distributed reaches for MPI, which a sampler given num_replicas/rank never needs
    from .. import distributed as dist

    if not dist.is_available():
        raise RuntimeError("Requires distributed package to be available")
    return dist.get_world_size() if what == "world_size" else dist.get_rank()


class DistributedSampler(Sampler):
    """Restricts loading to this rank's disjoint subset of ``dataset`` (see the module docstring)."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = _default_group_value("world_size")
        if rank is None:
            rank = _default_group_value("rank")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # the largest evenly divisible length not above n (torch's formula, kept for equal counts)
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                # fewer samples than replicas: the whole order repeats as often as needed
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})")
        indices = indices[self.rank:self.total_size:self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(
                f"Number of subsampled indices ({len(indices)}) does not match num_samples ({self.num_samples})")
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next ``__iter__`` seeds its shuffle with (``seed + epoch``); the same on every rank."""
        self.epoch = epoch
