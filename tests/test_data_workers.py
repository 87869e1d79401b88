"""DataLoader with worker processes and the samplers, written as PyTorch programs use them: the batches equal
num_workers=0's, worker seeding and get_worker_info, iterable datasets sharded by worker, errors and timeouts
surface (never hang), pin_memory accepted with torch's warning; share_memory across fork; multiprocessing."""
import math
import multiprocessing as mp
import os
import time

import numpy as np
import pytest

import fastnn as torch
from fastnn.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset, RandomSampler, SequentialSampler,
                               SubsetRandomSampler, TensorDataset, WeightedRandomSampler, get_worker_info)

pytestmark = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="worker tests use fork")


class Squares(Dataset):
    def __init__(self, n=23):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": torch.tensor([float(i), float(i * i)]), "y": i, "name": f"s{i}"}


class Failing(Squares):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad sample 5")
        return super().__getitem__(i)


class Slow(Squares):
    def __getitem__(self, i):
        time.sleep(3)
        return super().__getitem__(i)


class Dies(Squares):
    def __getitem__(self, i):
        os._exit(3)


class Seeded(Squares):
    def __getitem__(self, i):
        info = get_worker_info()
        return torch.tensor([float(info.id), float(info.num_workers), float(torch.rand(1).item())])


class Stream(IterableDataset):
    def __init__(self, n=10):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        lo, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(lo, self.n, step))


def _flat(batches):
    return [(b["x"].tolist(), b["y"].tolist(), b["name"]) for b in batches]


@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=5, drop_last=True), dict(batch_size=None),
                                dict(batch_size=3, num_workers=3, prefetch_factor=1)])
def test_workers_give_the_same_batches_in_order(kw):
    workers = kw.pop("num_workers", 2)
    prefetch = kw.pop("prefetch_factor", None)
    ref = list(DataLoader(Squares(), **kw))
    got = list(DataLoader(Squares(), num_workers=workers, timeout=20, prefetch_factor=prefetch, **kw))
    if kw.get("batch_size", 1) is None:
        assert [b["y"] for b in got] == [b["y"] for b in ref] == list(range(23))
    else:
        assert _flat(got) == _flat(ref)
    assert len(got) == len(DataLoader(Squares(), **kw))


def test_shuffled_workers_follow_the_generator():
    ref = list(DataLoader(Squares(), batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(1)))
    got = list(DataLoader(Squares(), batch_size=4, shuffle=True, num_workers=2, timeout=20,
                          generator=torch.Generator().manual_seed(1)))
    assert _flat(got) == _flat(ref)
    assert sorted(y for b in got for y in b["y"].tolist()) == list(range(23))


def test_tensor_dataset_and_persistent_workers():
    x = torch.arange(40.0).reshape(20, 2)
    y = torch.arange(20)
    loader = DataLoader(TensorDataset(x, y), batch_size=6, num_workers=2, persistent_workers=True, timeout=20)
    ref = [tuple(t.tolist() for t in b) for b in DataLoader(TensorDataset(x, y), batch_size=6)]
    first = [tuple(t.tolist() for t in b) for b in loader]
    procs = list(loader._workers.procs)
    second = [tuple(t.tolist() for t in b) for b in loader]
    assert first == second == ref and loader._workers.procs == procs and all(p.is_alive() for p in procs)
    loader._workers.shutdown()
    assert not any(p.is_alive() for p in procs)


def test_worker_info_seeds_and_init_fn():
    calls = mp.get_context("fork").Array("i", [0, 0])

    def init(worker_id):
        calls[worker_id] = 10 + worker_id

    torch.manual_seed(0)
    out = torch.cat(list(DataLoader(Seeded(8), batch_size=2, num_workers=2, worker_init_fn=init, timeout=20)))
    ids = out[:, 0].tolist()
    assert ids == [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0] and set(out[:, 1].tolist()) == {2.0}
    assert list(calls) == [10, 11]
    r = out[:, 2].numpy()
    assert r[0] != r[2] and len(set(r.tolist())) == 8  # each worker its own stream, seeded base_seed + id
    assert get_worker_info() is None


def test_iterable_dataset_with_workers():
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    got = [b.tolist() for b in DataLoader(Stream(), batch_size=2, num_workers=2, timeout=20)]
    # round-robin over the workers (torch's order): worker 0 holds evens, worker 1 odds
    assert got == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    flat = sorted(v for b in DataLoader(Stream(7), batch_size=None, num_workers=3, timeout=20) for v in [int(b)])
    assert flat == list(range(7))
    loader = DataLoader(Stream(5), batch_size=2, num_workers=2, persistent_workers=True, timeout=20)
    assert [b.tolist() for b in loader] == [b.tolist() for b in loader]  # resumed for the second epoch
    loader._workers.shutdown()
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Stream(), shuffle=True)


def test_worker_errors_surface_with_the_original_type():
    with pytest.raises(ValueError, match="(?s)Caught ValueError in DataLoader worker process.*bad sample 5"):
        list(DataLoader(Failing(), batch_size=2, num_workers=2, timeout=20))


def test_timeout_and_dead_workers_raise_instead_of_hanging():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 1 seconds"):
        list(DataLoader(Slow(4), batch_size=1, num_workers=1, timeout=1))
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dies(4), batch_size=1, num_workers=1))
    assert time.monotonic() - t0 < 12


def test_loader_arguments_like_torch(no_cuda):  # without CUDA, pin_memory=True only warns
    with pytest.warns(UserWarning, match="pin_memory"):
        assert len(list(DataLoader(Squares(4), batch_size=2, pin_memory=True))) == 2
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(Squares(), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(Squares(), persistent_workers=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(Squares(), batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(Squares(), timeout=-1)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(Squares(), batch_size=None, drop_last=True)


def test_custom_sampler_batch_sampler_and_collate():
    ds = Squares(10)
    got = [b["y"].tolist() for b in DataLoader(ds, batch_sampler=[[3, 1], [0]], num_workers=2, timeout=20)]
    assert got == [[3, 1], [0]]
    got = [b for b in DataLoader(ds, batch_size=3, sampler=[9, 8, 7, 6], collate_fn=lambda s: [d["y"] for d in s])]
    assert got == [[9, 8, 7], [6]]
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=False)
    assert list(bs) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(bs) == 3
    assert len(BatchSampler(range(10), 4, drop_last=True)) == 2


# ---- samplers ----------------------------------------------------------------------------------------------
@pytest.mark.torch
def test_samplers_match_torchs_contracts():
    t = pytest.importorskip("torch")
    ds = list(range(10))
    for cls, args, kw in [(SequentialSampler, (ds,), {}), (RandomSampler, (ds,), {}),
                          (RandomSampler, (ds,), {"num_samples": 25}),
                          (RandomSampler, (ds,), {"replacement": True, "num_samples": 7}),
                          (SubsetRandomSampler, ([2, 4, 6],), {}),
                          (WeightedRandomSampler, ([0.1, 0.0, 0.9], 12), {}),
                          (WeightedRandomSampler, ([1.0, 1.0, 2.0], 3), {"replacement": False})]:
        ours = cls(*args, **kw)
        theirs = getattr(t.utils.data, cls.__name__)(*args, **kw)
        a, b = list(ours), list(theirs)
        assert len(ours) == len(theirs) == len(a) == len(b), cls.__name__
        assert all(type(i) is int for i in a)
        if cls is SequentialSampler:
            assert a == b
        elif cls is RandomSampler and not kw.get("replacement"):
            n = kw.get("num_samples", 10)
            assert sorted(a) == sorted(ds * (n // 10) + a[10 * (n // 10):]) and sorted(a[:10]) == ds
        elif cls is SubsetRandomSampler:
            assert sorted(a) == [2, 4, 6]
        elif cls is WeightedRandomSampler:
            assert (1 not in a) if kw.get("replacement", True) else sorted(a) == [0, 1, 2]
    g = torch.Generator().manual_seed(3)
    first = list(RandomSampler(ds, generator=g))
    g.manual_seed(3)
    assert list(RandomSampler(ds, generator=g)) == first
    s = RandomSampler(ds, generator=5)
    assert list(s) != list(s)  # an int seed is one stream: each epoch a new order
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(RuntimeError, match="n_sample > prob_dist"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    counts = np.bincount(list(WeightedRandomSampler([1.0, 3.0], 4000, generator=torch.Generator().manual_seed(0))))
    assert math.isclose(counts[1] / 4000, 0.75, abs_tol=0.03)


# ---- shared memory and torch.multiprocessing ---------------------------------------------------------------
def _hogwild(model, rank):
    with torch.no_grad():
        model.weight.add_(torch.full((1, 2), float(rank + 1)))


def test_share_memory_across_fork():
    model = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
    assert not model.weight.is_shared()
    assert model.share_memory() is model and model.weight.is_shared()
    ctx = torch.multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hogwild, args=(model, r)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(20)
    assert [p.exitcode for p in procs] == [0, 0]
    assert model.weight.tolist() == [[3.0, 3.0]]  # both children wrote into the parent's storage
    x = torch.ones(3)
    assert x.share_memory_() is x and x.is_shared() and x.tolist() == [1.0, 1.0, 1.0]


def _child(rank, out):
    out[rank] = rank * 10


def test_multiprocessing_module_reexports_and_spawn_helper():
    mpx = torch.multiprocessing
    assert mpx.Process is mp.Process and mpx.Queue is mp.Queue and mpx.cpu_count() == mp.cpu_count()
    arr = mp.get_context("fork").Array("i", [0, 0, 0])
    mpx.spawn(_child, args=(arr,), nprocs=3, start_method="fork")
    assert list(arr) == [0, 10, 20]
    with pytest.raises(mpx.ProcessRaisedException, match="ZeroDivisionError"):
        mpx.spawn(lambda r: 1 / 0, nprocs=1, start_method="fork")
    assert mpx.get_sharing_strategy() in mpx.get_all_sharing_strategies()


def test_leaving_an_epoch_early_stops_the_workers_at_once():
    t0 = time.monotonic()
    it = iter(DataLoader(Squares(200), batch_size=2, num_workers=2, timeout=20))
    first = next(it)
    assert first["y"].tolist() == [0, 1]
    it.close()  # what `break` in a for loop does, once the iterator is dropped
    assert time.monotonic() - t0 < 5
