"""getitem (ints, slices with any step, None, Ellipsis, bool masks, integer arrays/tensors with repeats),
index_select, masked_fill and the __setitem__ rules; gradients scatter back and accumulate repeats."""
import numpy as np
import pytest

import fastnn
from op_helpers import assert_close, gradcheck_op

RNG = np.random.default_rng(5)
X = RNG.standard_normal((4, 5, 3))

# Each index is given as (fastnn index, NumPy index): tensors in the first, arrays in the second.
_I = fastnn.tensor
BASIC = {
    "int": (1, 1),
    "neg int": (-1, -1),
    "two ints": ((2, -2), (2, -2)),
    "three ints (0-d)": ((0, 4, 2), (0, 4, 2)),
    "slice": (slice(1, 3), slice(1, 3)),
    "slice step": ((slice(None), slice(None, None, 2)), (slice(None), slice(None, None, 2))),
    "neg step": (slice(None, None, -1), slice(None, None, -1)),
    "neg step 2": ((slice(None), slice(4, 0, -2)), (slice(None), slice(4, 0, -2))),
    "neg step last": ((Ellipsis, slice(None, None, -2)), (Ellipsis, slice(None, None, -2))),
    "neg start stop": ((slice(-3, -1), slice(-1, None)), (slice(-3, -1), slice(-1, None))),
    "empty slice": (slice(3, 1), slice(3, 1)),
    "past end": (slice(10, 20), slice(10, 20)),
    "None": (None, None),
    "None mid": ((slice(None), None, 1), (slice(None), None, 1)),
    "Ellipsis": (Ellipsis, Ellipsis),
    "Ellipsis last": ((Ellipsis, 0), (Ellipsis, 0)),
    "Ellipsis mid": ((1, Ellipsis, slice(1, None)), (1, Ellipsis, slice(1, None))),
    "Ellipsis None": ((Ellipsis, None, slice(None, None, -1)), (Ellipsis, None, slice(None, None, -1))),
}
MASK = X > 0.2
ROWMASK = np.array([True, False, True, True])
ADVANCED = {
    "bool mask full": (_I(MASK), MASK),
    "bool mask np": (MASK, MASK),
    "bool mask rows": (_I(ROWMASK), ROWMASK),
    "bool mask 2d": (_I(MASK[..., 0]), MASK[..., 0]),
    "bool mask none true": (_I(np.zeros(4, bool)), np.zeros(4, bool)),
    "bool mask then slice": ((_I(ROWMASK), slice(1, 3)), (ROWMASK, slice(1, 3))),
    "int tensor": (_I([0, 2, 0]), np.array([0, 2, 0])),
    "int list": ([3, 3, 1], np.array([3, 3, 1])),
    "int tensor neg": (_I([-1, 0, -1]), np.array([-1, 0, -1])),
    "int tensor 2d": (_I([[0, 1], [1, 1]]), np.array([[0, 1], [1, 1]])),
    "int tensor 0d": (_I(2), np.array(2)),
    "int pair": ((_I([0, 1, 0]), _I([4, 4, 4])), (np.array([0, 1, 0]), np.array([4, 4, 4]))),
    "int pair broadcast": ((_I([[0], [3]]), _I([1, 1, 2])), (np.array([[0], [3]]), np.array([1, 1, 2]))),
    "slice then ints": ((slice(None), _I([2, 2, 0])), (slice(None), np.array([2, 2, 0]))),
    "ints separated": ((_I([0, 0]), slice(None), _I([1, 1])), (np.array([0, 0]), slice(None), np.array([1, 1]))),
    "int and ellipsis": ((Ellipsis, _I([2, 0, 2])), (Ellipsis, np.array([2, 0, 2]))),
    "int and None": ((None, _I([1, 1])), (None, np.array([1, 1]))),
    "empty int": (_I(np.zeros(0, np.int64)), np.zeros(0, np.int64)),
}
ALL = {**BASIC, **ADVANCED}


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("dtype", [fastnn.float32, fastnn.float64], ids=str)
def test_getitem_matches_numpy(name, dtype):
    idx, np_idx = ALL[name]
    x = X.astype(dtype.np)
    out = fastnn.tensor(x)[idx]
    ref = x[np_idx]
    assert out.dtype is dtype
    assert out.shape == ref.shape
    assert_close(out, ref)


@pytest.mark.parametrize("name", list(BASIC))
def test_basic_indexing_returns_a_view(name):
    idx, _ = BASIC[name]
    t = fastnn.tensor(X)
    out = t[idx]
    if out.numel():
        assert np.shares_memory(np.asarray(out), np.asarray(t))


@pytest.mark.parametrize("name", list(ALL))
def test_getitem_backward_scatters_and_accumulates(name):
    idx, np_idx = ALL[name]
    t = fastnn.tensor(X, requires_grad=True)
    out = t[idx]
    g = RNG.standard_normal(out.shape)
    out.backward(fastnn.tensor(g))
    expected = np.zeros_like(X)
    np.add.at(expected, np_idx, g)  # NumPy's unbuffered add: repeated indices accumulate
    assert t.grad.shape == X.shape
    assert_close(t.grad, expected)


@pytest.mark.parametrize("name", ["int", "neg step 2", "None mid", "Ellipsis mid", "bool mask full", "int tensor",
                                  "int tensor 2d", "int pair broadcast", "ints separated", "int list"])
def test_getitem_gradcheck(name):
    idx, _ = ALL[name]
    small = X[:, :3, :2]
    if isinstance(idx, fastnn.Tensor) and idx.dtype is fastnn.bool and idx.shape == X.shape:
        idx = fastnn.tensor(MASK[:, :3, :2])
    gradcheck_op(lambda a: a[idx], small)


def test_repeated_index_gradient_counts_every_use():
    t = fastnn.tensor([1.0, 2.0, 3.0], dtype=fastnn.float64, requires_grad=True)
    t[fastnn.tensor([0, 0, 2, 0])].sum().backward()
    assert_close(t.grad, np.array([3.0, 0.0, 1.0]))
    t.grad = None
    (t[[1, 1]] * fastnn.tensor([2.0, 5.0], dtype=fastnn.float64)).sum().backward()
    assert_close(t.grad, np.array([0.0, 7.0, 0.0]))


def test_two_reads_of_one_tensor_accumulate():
    t = fastnn.tensor(X, requires_grad=True)
    (t[0].sum() + t[:, 0].sum() * 2).backward()
    expected = np.zeros_like(X)
    expected[0] += 1
    expected[:, 0] += 2
    assert_close(t.grad, expected)


def test_index_errors():
    t = fastnn.tensor(X)
    with pytest.raises(IndexError, match="out of bounds"):
        t[4]
    with pytest.raises(IndexError):
        t[0, 5]
    with pytest.raises(IndexError):
        t[fastnn.tensor([0, 9])]
    with pytest.raises(IndexError):
        t[fastnn.tensor([0.0])]
    with pytest.raises(IndexError):
        t[fastnn.tensor([True, False])]  # mask shape does not match
    with pytest.raises(IndexError):
        t[0, 0, 0, 0]
    with pytest.raises(IndexError):
        fastnn.tensor(1.0)[0]


def test_index_with_zero_dim_tensor_and_int_conversion():
    t = fastnn.tensor(X)
    i = fastnn.tensor(3)
    assert_close(t[i], X[3])
    assert [10, 20, 30, 40][i] == 40  # __index__
    with pytest.raises(TypeError):
        [1, 2][fastnn.tensor(1.0)]


# ---- index_select / masked_fill ------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim):
    idx = np.array([2, 0, 2])
    out = fastnn.index_select(fastnn.tensor(X), dim, fastnn.tensor(idx))
    assert_close(out, np.take(X, idx, axis=dim))
    assert_close(fastnn.tensor(X).index_select(dim, fastnn.tensor(idx)), np.take(X, idx, axis=dim))
    gradcheck_op(lambda a: a.index_select(dim, fastnn.tensor(idx)), X[:3, :3, :3])


def test_masked_fill():
    mask = X[..., 0] > 0
    t = fastnn.tensor(X[..., 0], requires_grad=True)
    out = t.masked_fill(fastnn.tensor(mask), -1.0)
    assert_close(out, np.where(mask, -1.0, X[..., 0]))
    out.sum().backward()
    assert_close(t.grad, (~mask).astype(np.float64))
    # A mask that broadcasts.
    row = fastnn.tensor(np.array([True, False, False, True, False]))
    assert_close(fastnn.masked_fill(fastnn.tensor(X[..., 0]), row, 0.0), np.where(row.numpy(), 0.0, X[..., 0]))
    gradcheck_op(lambda a: a.masked_fill(row, 3.0), X[..., 0])


# ---- __setitem__ --------------------------------------------------------------------------------------
SET_CASES = {
    "int": (1, 7.0),
    "slice step": ((slice(None), slice(None, None, 2)), -1.0),
    "neg step": ((Ellipsis, slice(None, None, -2)), np.arange(2.0)),
    "bool mask": (MASK, 0.0),
    "int array": (np.array([0, 3]), np.ones((2, 5, 3))),
    "broadcast row": ((slice(1, 3), 2), np.array([1.0, 2.0, 3.0])),
    "Ellipsis None": ((Ellipsis, None, 0), 5.0),
}


@pytest.mark.parametrize("name", list(SET_CASES))
@pytest.mark.parametrize("wrap", [False, True], ids=["array-index", "tensor-index"])
def test_setitem_matches_numpy(name, wrap):
    idx, value = SET_CASES[name]
    if wrap:
        idx = fastnn.tensor(idx) if isinstance(idx, np.ndarray) else idx
        value = fastnn.tensor(value) if isinstance(value, np.ndarray) else value
    t = fastnn.tensor(X)
    v0 = t._version
    t[idx] = value
    ref = X.copy()
    ref[SET_CASES[name][0]] = SET_CASES[name][1]
    assert_close(t, ref)
    assert t._version > v0


def test_setitem_casts_to_the_tensor_dtype():
    t = fastnn.zeros(3, dtype=fastnn.int64)
    t[0] = 2.9
    t[1:] = fastnn.tensor([1.5, -1.5])
    assert t.dtype is fastnn.int64
    assert_close(t, np.array([2, 1, -1]))
    f = fastnn.zeros(2)
    f[:] = fastnn.tensor([1.0, 2.0], dtype=fastnn.float64)
    assert f.dtype is fastnn.float32


def test_setitem_writes_through_views():
    base = fastnn.zeros(3, 4)
    row = base[1]
    row[2] = 5.0
    base[0, 3].fill_(2.0)  # a single element is a 0-d view as well
    base.T[0, 2] = 7.0  # .T is a view too
    ref = np.zeros((3, 4))
    ref[1, 2] = 5.0
    ref[0, 3] = 2.0
    ref[2, 0] = 7.0
    assert_close(base, ref)
    shared = np.zeros(3, np.float32)
    fastnn.from_numpy(shared)[1] = 4.0
    assert shared[1] == 4.0


def test_setitem_on_leaf_that_requires_grad_raises_outside_no_grad():
    t = fastnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        t[0] = 2.0
    with fastnn.no_grad():
        t[0] = 2.0
    assert_close(t, np.array([2.0, 1.0, 1.0]))
    assert t.requires_grad and t.is_leaf


def test_setitem_on_graph_tensor_is_recorded():
    # PyTorch's semantics: a non-leaf may be written in place; the region's gradient is cut there.
    t = fastnn.ones(3, requires_grad=True)
    y = t * 2
    y[0] = 0.0
    y.sum().backward()
    assert_close(t.grad, np.array([0.0, 2.0, 2.0]))
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        t[0] = 0.0


def test_setitem_with_value_that_requires_grad_flows_into_it():
    t = fastnn.zeros(3)
    v = fastnn.ones(1, requires_grad=True)
    t[0:1] = v
    assert t.requires_grad and not t.is_leaf
    (t * fastnn.tensor([3.0, 1.0, 1.0])).sum().backward()
    assert_close(v.grad, np.array([3.0]))
    with fastnn.no_grad():
        t = fastnn.zeros(3)
        t[0:1] = v
    assert_close(t, np.array([1.0, 0.0, 0.0]))
    assert not t.requires_grad


def test_setitem_on_broadcast_view_raises():
    e = fastnn.ones(1, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e[0] = fastnn.zeros(3)


def test_modifying_a_saved_input_under_no_grad_is_detected_at_backward():
    t = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = t * t
    with fastnn.no_grad():
        t[0] = 10.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_modifying_a_saved_constant_operand_is_detected_at_backward():
    w = fastnn.ones(3, dtype=fastnn.float64, requires_grad=True)
    c = fastnn.ones(3, dtype=fastnn.float64)
    y = w * c
    c[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
