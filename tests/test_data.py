"""fastnn.data: TensorDataset, DataLoader (batching, seeded shuffling, drop_last, collate), random_split."""
import numpy as np
import pytest

import fastnn
from fastnn.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def _ds(n=10):
    return TensorDataset(fastnn.arange(n * 2).reshape(n, 2).float(), fastnn.arange(n))


def test_tensor_dataset_items_and_errors():
    ds = _ds()
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and int(y) == 3 and len(ds) == 10
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(fastnn.zeros(3), fastnn.zeros(4))
    with pytest.raises(TypeError):
        TensorDataset([1, 2, 3])
    assert len(TensorDataset(np.zeros((5, 2)))) == 5


@pytest.mark.parametrize("drop_last,expected", [(False, [4, 4, 2]), (True, [4, 4])])
def test_loader_batches_in_order(drop_last, expected):
    loader = DataLoader(_ds(), batch_size=4, drop_last=drop_last)
    batches = list(loader)
    assert [len(b[1]) for b in batches] == expected and len(loader) == len(expected)
    assert np.concatenate([b[1].numpy() for b in batches]).tolist() == list(range(sum(expected)))
    assert batches[0][0].dtype is fastnn.float32 and batches[0][0].shape == (4, 2)


def test_shuffle_is_a_seeded_permutation_each_epoch():
    def epoch_orders(seed):
        loader = DataLoader(_ds(50), batch_size=7, shuffle=True, generator=np.random.default_rng(seed))
        return [np.concatenate([y.numpy() for _, y in loader]).tolist() for _ in range(2)]

    a, b = epoch_orders(1), epoch_orders(1)
    assert a == b  # same seed, same orders
    assert sorted(a[0]) == list(range(50)) and a[0] != a[1] and a[0] != list(range(50))
    fastnn.manual_seed(3)
    g1 = [y.tolist() for _, y in DataLoader(_ds(20), batch_size=20, shuffle=True)]
    fastnn.manual_seed(3)
    assert g1 == [y.tolist() for _, y in DataLoader(_ds(20), batch_size=20, shuffle=True)]


class _Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(3, i, np.float32), "y": i * i, "name": f"s{i}"}


def test_generic_dataset_collates_dicts_numbers_and_strings():
    batch = next(iter(DataLoader(_Squares(), batch_size=3)))
    assert batch["x"].shape == (3, 3) and batch["y"].tolist() == [0, 1, 4] and batch["name"] == ["s0", "s1", "s2"]
    raw = list(DataLoader(_Squares(), batch_size=2, collate_fn=lambda b: len(b)))
    assert raw == [2, 2, 1]
    assert default_collate([(1, 2.0), (3, 4.0)])[1].dtype is fastnn.float32
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object()])


def test_random_split_lengths_fractions_and_disjointness():
    ds = _ds(10)
    a, b = random_split(ds, [7, 3], generator=0)
    ids = sorted(int(a[i][1]) for i in range(len(a))) + sorted(int(b[i][1]) for i in range(len(b)))
    assert len(a) == 7 and len(b) == 3 and sorted(ids) == list(range(10))
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [5, 3, 2] and isinstance(parts[0], Subset)
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    assert len(ConcatDataset([a, b])) == 10 and int((a + b)[7][1]) == int(b[0][1])


def test_loader_validation():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_ds(), batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(_ds(), num_workers=-1)  # (workers are real processes now: tests/test_data_workers.py)
    assert [int(y) for _, y in DataLoader(_ds(3), batch_size=None)] == [0, 1, 2]
