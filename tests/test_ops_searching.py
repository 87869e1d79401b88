"""nonzero (as_tuple), argwhere, one-argument where, searchsorted (right, side, sorter, N-d, scalars), bucketize
and isin against torch, with torch's errors; their results are indices or masks (no gradient)."""
import numpy as np
import pytest
import torch

import fastnn
from torch_compare import compare, raises_like

RNG = np.random.default_rng(7)

NONZERO_INPUTS = [RNG.random((3, 5)) > 0.5, RNG.integers(-1, 2, (2, 3, 4)), np.zeros((0, 3)), np.array(1.0),
                  np.array(0.0), np.zeros(4), np.array([0.0, np.nan, -0.0, 2.0])]


@pytest.mark.parametrize("case", range(len(NONZERO_INPUTS)))
def test_nonzero_family(case):
    x = NONZERO_INPUTS[case]
    compare(lambda m, t: m.nonzero(t), x, grad=False)
    compare(lambda m, t: t.nonzero(as_tuple=True), x, grad=False)
    compare(lambda m, t: m.argwhere(t), x, grad=False)
    compare(lambda m, t: t.argwhere(), x, grad=False)
    compare(lambda m, t: m.where(t), x, grad=False)
    if x.ndim >= 2:
        compare(lambda m, t: m.nonzero(t), x, grad=False, noncontig=True)


def test_where_three_arguments_still_select():
    c = RNG.random((3, 4)) > 0.5
    compare(lambda m, cond, a, b: m.where(cond, a, b), c, RNG.standard_normal((3, 4)), RNG.standard_normal(4))
    with pytest.raises(TypeError, match="where"):
        fastnn.where(fastnn.tensor(c), fastnn.ones(3, 4))


SEQ = np.sort(RNG.integers(0, 10, 9)).astype(np.float64)  # with repeats: left and right differ
VALS = np.concatenate([SEQ[:4], RNG.uniform(-2, 12, 6), [np.inf, -np.inf]])


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_1d(right):
    compare(lambda m, s, v: m.searchsorted(s, v, right=right), SEQ, VALS, grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, side="right" if right else "left"), SEQ, VALS.reshape(3, 4),
            grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, right=right), SEQ, np.zeros((0, 2)), grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, right=right), SEQ.astype(np.int64), VALS, grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, right=right), np.zeros(0), VALS, grad=False)
    f = fastnn.searchsorted(fastnn.tensor(SEQ), 5.0, right=right)
    t = torch.searchsorted(torch.tensor(SEQ), 5.0, right=right)
    assert f.shape == () and f.item() == t.item() and f.dtype is fastnn.int64


def test_searchsorted_nd_and_sorter():
    seq = np.sort(RNG.standard_normal((2, 3, 6)), axis=-1)
    vals = RNG.standard_normal((2, 3, 4))
    compare(lambda m, s, v: m.searchsorted(s, v), seq, vals, grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, side="right"), seq, vals, grad=False, noncontig=True)
    unsorted = RNG.standard_normal(7)
    sorter = np.argsort(unsorted)
    compare(lambda m, s, v, o: m.searchsorted(s, v, sorter=o), unsorted, vals, sorter, grad=False)
    rows = RNG.standard_normal((3, 5))
    compare(lambda m, s, v, o: m.searchsorted(s, v, right=True, sorter=o), rows, vals[0], np.argsort(rows, -1),
            grad=False)


@pytest.mark.parametrize("right", [False, True])
def test_bucketize(right):
    compare(lambda m, v, b: m.bucketize(v, b, right=right), VALS.reshape(2, 6), SEQ, grad=False)
    compare(lambda m, v, b: m.bucketize(v, b, right=right), np.array(3.0), SEQ, grad=False)
    f = fastnn.bucketize(3, fastnn.tensor(SEQ), right=right)
    assert f.item() == torch.bucketize(3, torch.tensor(SEQ), right=right).item()


def test_isin():
    a = RNG.integers(0, 6, (3, 4))
    b = np.array([1, 3, 3, 7])
    compare(lambda m, x, y: m.isin(x, y), a, b, grad=False)
    compare(lambda m, x, y: m.isin(x, y, invert=True), a, b, grad=False)
    compare(lambda m, x, y: m.isin(x, y), a.astype(np.float64), b, grad=False)
    compare(lambda m, x: m.isin(x, 3), a, grad=False)
    compare(lambda m, y: m.isin(3, y), b, grad=False)
    compare(lambda m, x, y: m.isin(x, y), np.zeros(0, np.int64), b, grad=False)
    compare(lambda m, x, y: m.isin(x, y, assume_unique=True), np.array([1, 2, 5]), np.array([5, 1]), grad=False)


@pytest.mark.parametrize("right", [False, True])
def test_out_int32_gives_int32(right):
    seq, v = np.array([[1.0, 2.0, 2.0, 5.0], [0.0, 1.0, 3.0, 4.0]]), np.array([[2.0, 6.0], [-1.0, 3.0]])
    got = fastnn.searchsorted(fastnn.tensor(seq), fastnn.tensor(v), out_int32=True, right=right)
    want = torch.searchsorted(torch.from_numpy(seq), torch.from_numpy(v), out_int32=True, right=right)
    assert got.dtype is fastnn.int32 and want.dtype == torch.int32 and got.tolist() == want.tolist()
    got = fastnn.bucketize(fastnn.tensor(v), fastnn.tensor(seq[0]), out_int32=True, right=right)
    want = torch.bucketize(torch.from_numpy(v), torch.from_numpy(seq[0]), out_int32=True, right=right)
    assert got.dtype is fastnn.int32 and got.tolist() == want.tolist()
    assert fastnn.searchsorted(fastnn.tensor(seq[0]), 3.0, out_int32=True).dtype is fastnn.int32


ERRORS = [
    lambda m, s: m.searchsorted(s, m.tensor([2]), side="left", right=True),
    lambda m, s: m.searchsorted(s, m.tensor([2]), side="foo"),
    lambda m, s: m.searchsorted(s.reshape(1, 3), m.tensor([2, 3])),
    lambda m, s: m.searchsorted(s.reshape(1, 3), 2),
    lambda m, s: m.searchsorted(s, m.tensor([2]), sorter=m.tensor([0, 1])),
    lambda m, s: m.searchsorted(s, m.tensor([2]), sorter=m.tensor([0, 1, 5])),
    lambda m, s: m.searchsorted(s[0], m.tensor([2])),
    lambda m, s: m.bucketize(m.tensor([2]), s.reshape(1, 3)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_torch(case):
    raises_like(ERRORS[case], np.array([1, 2, 3]))


def test_searchsorted_nd_zero_size():
    compare(lambda m, s, v: m.searchsorted(s, v), np.zeros((0, 0)), np.zeros((0, 0)), grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v), np.zeros((2, 0)), np.ones((2, 3)), grad=False)
    compare(lambda m, s, v: m.searchsorted(s, v, right=True), np.zeros((0, 4)), np.ones((0, 3)), grad=False)


@pytest.mark.parametrize("size, fill", [(0, -1), (2, -1), (9, -7)])
def test_nonzero_static(size, fill):
    x = RNG.integers(0, 2, (3, 4))
    compare(lambda m, t: m.nonzero_static(t, size=size, fill_value=fill), x, grad=False)
    compare(lambda m, t: t.nonzero_static(size=size), x, grad=False)
    raises_like(lambda m, t: m.nonzero_static(t, size=-1), x)


def test_unravel_index():
    for idx in [np.array([5, 7, 0, 11]), np.array(13), np.array([-1, -5]), np.zeros((2, 0), np.int64)]:
        for shape in [(3, 4), (2, 3, 2), (12,)]:
            compare(lambda m, t, shape=shape: m.unravel_index(t, shape), idx, grad=False)
    raises_like(lambda m, t: m.unravel_index(t, (3, 4)), np.array([1.5], dtype=np.float32), message=False)
    raises_like(lambda m, t: m.unravel_index(t, (3, -4)), np.array([1]))
