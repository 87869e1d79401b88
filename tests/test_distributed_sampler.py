"""fastnn.data.DistributedSampler against torch 2.13's: shard sizes, padding, drop_last, disjointness,
set_epoch, errors, and use with a DataLoader. Ranks are passed explicitly, so no MPI launch is needed."""
from collections import Counter

import pytest

import fastnn
from fastnn.data import DataLoader, DistributedSampler, TensorDataset

CASES = [(n, r, d) for n in (0, 1, 2, 3, 5, 7, 8, 10, 11, 16, 17) for r in (1, 2, 3, 4, 5, 8, 13)
         for d in (False, True)]


def _shards(n, replicas, drop_last, **kw):
    return [list(DistributedSampler(range(n), num_replicas=replicas, rank=k, drop_last=drop_last, **kw))
            for k in range(replicas)]


@pytest.mark.torch
@pytest.mark.parametrize("n,replicas,drop_last", CASES)
def test_unshuffled_shards_equal_torchs(n, replicas, drop_last):
    """Without shuffling there is no random number: every rank's list, its length and the sampler's
    num_samples / total_size equal torch's, including padding when the dataset is shorter than the world."""
    tdist = pytest.importorskip("torch.utils.data.distributed")
    for k in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=k, shuffle=False, drop_last=drop_last)
        theirs = tdist.DistributedSampler(range(n), num_replicas=replicas, rank=k, shuffle=False,
                                          drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert (len(ours), ours.num_samples, ours.total_size) == (len(theirs), theirs.num_samples, theirs.total_size)


@pytest.mark.parametrize("n,replicas,drop_last", [c for c in CASES if c[0] > 0])
def test_shuffled_shards_are_the_padded_permutation_interleaved(n, replicas, drop_last):
    """Shuffled: every rank's shard has num_samples entries; interleaving the shards rebuilds one permutation
    of the dataset padded by its own head (or cut, with drop_last); so the shards are disjoint up to padding
    and together cover the dataset (all of it without drop_last)."""
    shards = _shards(n, replicas, drop_last, seed=3)
    size = len(shards[0])
    assert all(len(s) == size for s in shards)
    merged = [shards[k][i] for i in range(size) for k in range(replicas)]
    perm = fastnn.randperm(n, generator=fastnn.Generator().manual_seed(3)).tolist()
    if drop_last:
        assert merged == perm[:len(merged)] and n - len(merged) < replicas
    else:
        padded = (perm * -(-len(merged) // n))[:len(merged)]
        assert merged == padded and len(merged) - n < replicas
        assert set(merged) == set(range(n))
    if len(merged) <= n:
        assert all(c == 1 for c in Counter(merged).values())  # disjoint when nothing is padded


def test_every_rank_draws_the_same_permutation_and_set_epoch_reshuffles():
    n, replicas = 40, 4
    samplers = [DistributedSampler(range(n), num_replicas=replicas, rank=k, seed=7) for k in range(replicas)]
    epoch0 = [list(s) for s in samplers]
    assert sorted(sum(epoch0, [])) == list(range(n))  # disjoint and covering: one shared permutation
    assert [list(s) for s in samplers] == epoch0  # no set_epoch: the same order again
    for s in samplers:
        s.set_epoch(1)
    epoch1 = [list(s) for s in samplers]
    assert sorted(sum(epoch1, [])) == list(range(n)) and epoch1 != epoch0
    other_seed = DistributedSampler(range(n), num_replicas=replicas, rank=0, seed=8)
    assert list(other_seed) != epoch0[0]
    # the seed of epoch e is seed + e: seed 7 at epoch 1 is seed 8 at epoch 0
    assert list(other_seed) == epoch1[0]


def test_defaults_and_invalid_rank_messages():
    s = DistributedSampler(range(6), num_replicas=2, rank=1)
    assert (s.shuffle, s.seed, s.drop_last, s.epoch, len(s)) == (True, 0, False, 0, 3)
    for rank in (2, -1):
        with pytest.raises(ValueError, match=r"Invalid rank %d, rank should be in the interval \[0, 1\]" % rank):
            DistributedSampler(range(6), num_replicas=2, rank=rank)


def test_torch_module_path():
    from fastnn.utils.data.distributed import DistributedSampler as ByPath

    import fastnn.utils.data

    assert ByPath is DistributedSampler is fastnn.utils.data.DistributedSampler
    assert fastnn.utils.data.distributed.DistributedSampler is DistributedSampler


def test_with_a_data_loader():
    """Each rank's loader yields its shard in batches; the shards of all ranks cover the dataset once."""
    ds = TensorDataset(fastnn.arange(20).float().reshape(10, 2), fastnn.arange(10))
    seen = []
    for k in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=k, seed=1)
        sampler.set_epoch(4)
        loader = DataLoader(ds, batch_size=2, sampler=sampler)
        batches = list(loader)
        assert len(loader) == len(batches) == 3 and [len(y) for _, y in batches] == [2, 2, 1]
        for x, y in batches:
            assert x.tolist() == [[2.0 * i, 2.0 * i + 1] for i in y.tolist()]
            seen += y.tolist()
        assert [int(i) for _, y in batches for i in y] == list(sampler)
    assert sorted(seen) == list(range(10))


def test_defaults_need_an_initialized_process_group():
    """num_replicas / rank default to the default group's; without one, torch's ValueError."""
    import fastnn.distributed as dist

    if dist.is_initialized():  # another test of this session initialized the (singleton) world
        s = DistributedSampler(range(5))
        assert (s.num_replicas, s.rank) == (dist.get_world_size(), dist.get_rank())
        return
    with pytest.raises(ValueError, match="Default process group has not been initialized, please make sure to call "
                                         "init_process_group."):
        DistributedSampler(range(5))
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(5), num_replicas=2)  # the rank is still looked up
