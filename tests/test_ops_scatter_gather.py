"""gather, scatter (+ value, reduce), scatter_add, scatter_reduce (every reduction, include_self), index_add,
index_copy, index_fill, index_put (accumulate), masked_select, masked_scatter, take_along_dim and advanced
__getitem__ against torch: values, gradients (repeated indices accumulate), float64 gradchecks, torch's errors
for bad indices, and the in-place forms outside autograd."""
import numpy as np
import pytest
import torch

import fastnn
from op_helpers import gradcheck_op
from torch_compare import compare, raises_like

RNG = np.random.default_rng(3)


def r(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def idx(*values):
    return np.array(values, dtype=np.int64)


IDX_2D = RNG.integers(0, 3, (4, 2))  # repeats along dim 0 of a (3, 5) input
IDX_DIM1 = RNG.integers(0, 5, (2, 7))  # more indices than the dim is long: repeats

CASES = {
    "gather0": (lambda m, x, i: m.gather(x, 0, i), (r(3, 5), IDX_2D)),
    "gather1": (lambda m, x, i: x.gather(-1, i), (r(3, 5), IDX_DIM1)),
    "gather_empty": (lambda m, x, i: m.gather(x, 1, i), (r(3, 5), np.zeros((3, 0), np.int64))),
    "gather_1d": (lambda m, x, i: m.gather(x, 0, i), (r(4), idx(3, 3, 0))),
    "gather_size1": (lambda m, x, i: m.gather(x, 1, i), (r(1, 4), idx(0, 3)[None])),
    "take_along_dim": (lambda m, x, i: m.take_along_dim(x, i, 1), (r(3, 5), IDX_DIM1[:1])),
    "take_along_dim_bcast": (lambda m, x, i: x.take_along_dim(i, dim=0), (r(3, 1), IDX_2D)),
    "take_along_dim_neg": (lambda m, x, i: m.take_along_dim(x, i, 1), (r(2, 3), idx(0, -1, -3)[None])),
    "take_along_dim_flat": (lambda m, x, i: m.take_along_dim(x, i), (r(3, 5), idx(0, 14, 7, 7))),
    "scatter": (lambda m, x, i, s: m.scatter(x, 1, i, s), (r(3, 5), np.array([[0, 4], [1, 2]]), r(2, 2))),
    "scatter_value": (lambda m, x, i: x.scatter(0, i, 2.5), (r(3, 5), np.array([[0, 1, 2, 0, 1]]))),
    "scatter_add": (lambda m, x, i, s: m.scatter_add(x, 0, i, s), (r(3, 5), IDX_2D, r(4, 2))),
    "scatter_add_1d": (lambda m, x, i, s: x.scatter_add(0, i, s), (r(4), idx(1, 1, 3, 1), r(4))),
    "scatter_add_empty": (lambda m, x, i, s: m.scatter_add(x, 0, i, s), (r(0, 2), np.zeros((0, 2), np.int64),
                                                                         r(0, 2))),
    "index_add": (lambda m, x, i, s: m.index_add(x, 0, i, s), (r(3, 5), idx(2, 0, 2, 2), r(4, 5))),
    "index_add_alpha": (lambda m, x, i, s: x.index_add(-1, i, s, alpha=-1.5), (r(3, 5), idx(4, 4), r(3, 2))),
    "index_add_empty": (lambda m, x, i, s: m.index_add(x, 0, i, s), (r(3, 5), idx(), r(0, 5))),
    "index_copy": (lambda m, x, i, s: m.index_copy(x, 1, i, s), (r(3, 5), idx(4, 0, 2), r(3, 3))),
    "index_copy_0": (lambda m, x, i, s: x.index_copy(0, i, s), (r(3, 5), idx(1), r(1, 5))),
    "index_fill": (lambda m, x, i: m.index_fill(x, 1, i, -2.0), (r(3, 5), idx(0, 3, 3))),
    "index_fill_0d_index": (lambda m, x, i: x.index_fill(0, i, 1.0), (r(3, 5), np.array(1))),
    "index_fill_tensor": (lambda m, x, i, v: m.index_fill(x, 0, i, v), (r(3, 5), idx(0, 2), np.array(1.5))),
    "index_put": (lambda m, x, i, v: m.index_put(x, (i,), v), (r(3, 5), idx(2, 0), r(2, 5))),
    "index_put_pair": (lambda m, x, i, j, v: x.index_put((i, j), v), (r(3, 5), idx(0, 2, 1), idx(4, 4, 0), r(3))),
    "index_put_bcast": (lambda m, x, i, v: m.index_put(x, (i,), v), (r(3, 5), idx(1), r(5))),
    "index_put_acc": (lambda m, x, i, v: m.index_put(x, (i,), v, accumulate=True), (r(3, 5), idx(1, 1, 0), r(3, 5))),
    "index_put_acc_pair": (lambda m, x, i, j, v: x.index_put((i, j), v, True), (r(3, 5), idx(0, 0), idx(2, 2), r(2))),
    "index_put_mask": (lambda m, x, b, v: m.index_put(x, (b,), v), (r(3, 5), np.array([True, False, True]), r(5))),
    "masked_select": (lambda m, x, b: m.masked_select(x, b), (r(3, 5), RNG.random((3, 5)) > 0.5)),
    "masked_select_bcast": (lambda m, x, b: x.masked_select(b), (r(3, 1), RNG.random((2, 3, 4)) > 0.5)),
    "masked_select_none": (lambda m, x, b: m.masked_select(x, b), (r(3, 5), np.zeros(5, bool))),
    "masked_scatter": (lambda m, x, b, s: m.masked_scatter(x, b, s), (r(3, 5), RNG.random((3, 5)) > 0.5, r(20))),
    "masked_scatter_bcast": (lambda m, x, b, s: x.masked_scatter(b, s), (r(3, 5), RNG.random(5) > 0.3, r(4, 5))),
    "masked_scatter_grow": (lambda m, x, b, s: m.masked_scatter(x, b, s), (r(5), RNG.random((2, 5)) > 0.5, r(11))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    fn, arrays = CASES[name]
    compare(fn, *arrays)
    compare(fn, *arrays, noncontig=True)
    compare(fn, *[a.astype(np.float32) if a.dtype == np.float64 else a for a in arrays], grad=False)


@pytest.mark.parametrize("name", ["gather0", "scatter", "scatter_add", "index_add", "index_copy", "index_put",
                                  "masked_select", "masked_scatter", "take_along_dim"])
def test_int_dtype(name):
    fn, arrays = CASES[name]
    compare(fn, *[RNG.integers(-9, 9, a.shape) if a.dtype == np.float64 else a for a in arrays], grad=False)


GRADCHECK = ["gather0", "gather1", "take_along_dim_bcast", "take_along_dim_neg", "scatter", "scatter_add",
             "index_add_alpha", "index_copy", "index_put_pair", "index_put_acc", "masked_select_bcast",
             "masked_scatter_bcast"]


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradcheck(name):
    fn, arrays = CASES[name]
    gradcheck_op(lambda *ts: fn(fastnn, *ts), *arrays)


def test_gradcheck_value_tensor_of_index_fill():
    # gradcheck_op's inputs are at least 1-d: the 0-d value is taken from a 1-element one.
    gradcheck_op(lambda x, v: x.index_fill(0, fastnn.tensor([0, 2]), v.reshape(())), (3, 5), (1,))


def test_src_larger_than_index():
    # Only index's region of src is read; the rest of src gets a zero gradient (torch's own backward fails
    # on this shape, so the gradient is checked by finite differences instead).
    i = np.array([[0, 4], [1, 2]])
    compare(lambda m, x, s: m.scatter(x, 1, m.tensor(i), s), r(3, 5), r(2, 3), grad=False)
    compare(lambda m, x, s: m.scatter_add(x, 0, m.tensor(IDX_2D), s), r(3, 5), r(5, 3), grad=False)
    compare(lambda m, x, s: m.scatter_reduce(x, 1, m.tensor(i), s, "amax"), r(3, 5), r(3, 4), grad=False)
    gradcheck_op(lambda x, s: fastnn.scatter(x, 1, fastnn.tensor(i), s), (3, 5), (2, 3))
    gradcheck_op(lambda x, s: fastnn.scatter_add(x, 0, fastnn.tensor(IDX_2D), s), (3, 5), (5, 3))
    gradcheck_op(lambda x, s: fastnn.scatter_reduce(x, 1, fastnn.tensor(i), s, "mean"), (3, 5), (3, 4))


# ---- scatter_reduce: every reduction, with and without self, ties and zeros for amax/prod ------------------
SR_INDEX = np.array([[0, 0, 2, 2, 2], [1, 0, 1, 1, 0]])


def _sr_inputs(reduce):
    x, s = r(3, 5), r(2, 5)
    if reduce in ("amax", "amin"):  # ties between self and src and inside src share the gradient
        s[0, 2] = s[0, 3]
        s[1, 1] = x[0, 1]
    if reduce == "prod":  # zeros: one zero in a group, and two zeros in another
        s[0, 2] = 0.0
        s[1, 1] = 0.0
        x[0, 1] = 0.0
    return x, s


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    x, s = _sr_inputs(reduce)

    def fn(m, a, b):
        return m.scatter_reduce(a, 0, m.tensor(SR_INDEX), b, reduce, include_self=include_self)

    compare(fn, x, s)
    compare(fn, x.astype(np.float32), s.astype(np.float32), grad=False)
    compare(fn, RNG.integers(-9, 9, x.shape), RNG.integers(-9, 9, s.shape), grad=False)
    if reduce not in ("amax", "amin"):  # gradcheck away from the ties (the max is not differentiable there)
        gradcheck_op(lambda a, b: fn(fastnn, a, b), r(3, 5), r(2, 5))


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce(reduce):
    compare(lambda m, x, s: m.scatter(x, 0, m.tensor(SR_INDEX), s, reduce=reduce), r(3, 5), r(2, 5), grad=False)
    compare(lambda m, x: x.scatter(1, m.tensor(SR_INDEX), 1.5, reduce=reduce), r(3, 5), grad=False)


# ---- advanced __getitem__ -----------------------------------------------------------------------------------
GETITEM = {
    "int tensor repeats": (lambda m, x: x[m.tensor([0, 2, 0, 0])]),
    "list": (lambda m, x: x[[2, -1, 2]]),
    "pair": (lambda m, x: x[m.tensor([0, 1, 1]), m.tensor([4, -5, 4])]),
    "slice then tensor": (lambda m, x: x[:, m.tensor([[1, 1], [0, 3]])]),
    "mask": (lambda m, x: x[x > 0]),
    "row mask": (lambda m, x: x[m.tensor([True, False, True])]),
    "bool list": (lambda m, x: x[[True, True, False]]),
    "separated": (lambda m, x: x[m.tensor([0, 0])[:, None], 1:, m.tensor([1, 1])] if x.ndim == 3 else x[[0, 0]]),
}


@pytest.mark.parametrize("name", list(GETITEM))
def test_advanced_getitem_matches_torch(name):
    fn = GETITEM[name]
    compare(fn, r(3, 5))
    compare(fn, r(3, 5), noncontig=True)
    if name == "separated":
        compare(fn, r(3, 4, 2))


GETITEM_ERRORS = [
    lambda m, x: x[5],
    lambda m, x: x[-4],
    lambda m, x: x[m.tensor([5])],
    lambda m, x: x[[0, -4]],
    lambda m, x: x[0, 0, 0],
    lambda m, x: x[m.tensor([0.0])],
    lambda m, x: x[m.tensor([True, False])],
    lambda m, x: x[:, 7],
    lambda m, x: x[..., -8],
    lambda m, x: x[1.5],
    lambda m, x: x[0, 2.0],
    lambda m, x: x[m.tensor([[True]])],
    lambda m, x: x[:, m.tensor([True, False])],
]


@pytest.mark.parametrize("case", range(len(GETITEM_ERRORS)))
def test_getitem_errors_match_torch(case):
    raises_like(GETITEM_ERRORS[case], r(3, 5, dtype=np.float32))


# ---- in-place forms (outside autograd) ------------------------------------------------------------------------
INPLACE = [
    ("scatter_", lambda t, m: t.scatter_(1, m.tensor([[0, 4], [1, 2]]), m.ones(2, 2))),
    ("scatter_ value", lambda t, m: t.scatter_(1, m.tensor([[0, 4]]), 3.0)),
    ("scatter_add_", lambda t, m: t.scatter_add_(0, m.tensor([[0, 0, 1, 1, 2]]), m.ones(1, 5))),
    ("scatter_reduce_", lambda t, m: t.scatter_reduce_(0, m.tensor([[0, 0, 1, 1, 2]]), m.ones(1, 5), "amax")),
    ("index_add_", lambda t, m: t.index_add_(0, m.tensor([1, 1]), m.ones(2, 5), alpha=2)),
    ("index_copy_", lambda t, m: t.index_copy_(1, m.tensor([3]), m.zeros(3, 1))),
    ("index_fill_", lambda t, m: t.index_fill_(1, m.tensor([0, 2]), 7.0)),
    ("index_put_", lambda t, m: t.index_put_((m.tensor([0, 0]),), m.ones(2, 5), accumulate=True)),
    ("masked_scatter_", lambda t, m: t.masked_scatter_(t > 0, m.zeros(15))),
]


@pytest.mark.parametrize("case", range(len(INPLACE)))
def test_inplace_forms(case):
    name, fn = INPLACE[case]
    x = r(3, 5, dtype=np.float32)
    ft, tt = fastnn.tensor(x), torch.tensor(x)
    version = ft._version
    assert fn(ft, fastnn) is ft
    fn(tt, torch)
    assert ft._version > version
    np.testing.assert_allclose(np.asarray(ft), tt.numpy(), rtol=1e-6)
    leaf = fastnn.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        fn(leaf, fastnn)
    with fastnn.no_grad():  # optimiser-style code outside the graph
        fn(leaf, fastnn)


def test_inplace_refuses_a_source_that_requires_grad():
    t = fastnn.zeros(3)
    src = fastnn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="source requires grad"):
        t.index_add_(0, fastnn.tensor([0, 0]), src)


def test_node_names():
    x = fastnn.tensor(r(3, 5), requires_grad=True)
    i = fastnn.tensor([[0, 1]])
    for out, name in [(x.gather(1, i), "GatherBackward0"), (x.scatter(1, i, x[:1, :2]), "ScatterBackward0"),
                      (x.scatter_add(1, i, x), "ScatterAddBackward0"),
                      (x.scatter_reduce(1, i, x, "sum"), "ScatterReduceBackward0"),
                      (x.index_add(0, i[0], x[:2]), "IndexAddBackward0"),
                      (x.masked_select(x > 0), "MaskedSelectBackward0"),
                      (x.index_put((i[0],), x[0]), "IndexPutBackward0")]:
        assert out.grad_fn.name == name


ERRORS = [
    lambda m, x: m.gather(x, 1, m.tensor([[0, 1, 5]])),
    lambda m, x: m.gather(x, 1, m.tensor([[0, -1]])),
    lambda m, x: m.gather(x, 1, m.tensor([0])),
    lambda m, x: m.gather(x, 1, m.tensor([[0], [1], [1]])),
    lambda m, x: m.gather(x, 1, m.tensor([[0.0]])),
    lambda m, x: m.gather(x, 2, m.tensor([[0]])),
    lambda m, x: m.scatter(x, 1, m.tensor([[3]]), m.ones(1, 1)),
    lambda m, x: m.scatter(x, 1, m.tensor([[-1]]), m.ones(1, 1)),
    lambda m, x: m.scatter(x, 1, m.tensor([[0, 1]]), m.ones(1, 1)),
    lambda m, x: m.scatter(x, 1, m.tensor([[0, 1]]), m.ones(1, 2), reduce="foo"),
    lambda m, x: m.scatter(x, 1, m.tensor([[0, 1]]), m.ones(1, 2, dtype=m.float64)),
    lambda m, x: m.scatter(x, 1, m.tensor([[0.0]]), m.ones(1, 1)),
    lambda m, x: m.scatter_add(x, 1, m.tensor([0]), m.ones(1, 1)),
    lambda m, x: m.scatter_reduce(x, 1, m.tensor([[0, 1]]), m.ones(1, 2), "foo"),
    lambda m, x: m.index_add(x, 0, m.tensor([0, 3]), m.ones(2, 3)),
    lambda m, x: m.index_add(x, 0, m.tensor([0]), m.ones(2, 3)),
    lambda m, x: m.index_add(x, 0, m.tensor([[0]]), m.ones(1, 3)),
    lambda m, x: m.index_add(x, 0, m.tensor([0]), m.ones(1, 2)),
    lambda m, x: m.index_add(x, 0, m.tensor([-1]), m.ones(1, 3)),
    lambda m, x: m.index_add(x, 0, m.tensor([0.0]), m.ones(1, 3)),
    lambda m, x: m.index_add(x, 0, m.tensor([0]), m.ones(1, 3, dtype=m.float64)),
    lambda m, x: m.index_copy(x, 0, m.tensor([0, 3]), m.ones(2, 3)),
    lambda m, x: m.index_copy(x, 0, m.tensor([-1]), m.ones(1, 3)),
    lambda m, x: m.index_copy(x, 0, m.tensor([0, 1]), m.ones(1, 3)),
    lambda m, x: m.index_copy(x, 0, m.tensor([0.0]), m.ones(1, 3)),
    lambda m, x: m.index_copy(x, 0, m.tensor([0]), m.ones(1, 3, dtype=m.float64)),
    lambda m, x: m.index_fill(x, 0, m.tensor([0, 3]), 1.0),
    lambda m, x: m.index_fill(x, 0, m.tensor([-1]), m.tensor([1.0])),
    lambda m, x: m.index_fill(x, 0, m.tensor([0.0]), 1),
    lambda m, x: m.index_put(x, (m.tensor([0, 3]),), m.tensor(1.0)),
    lambda m, x: m.index_put(x, (m.tensor([0]),), 1.0),
    lambda m, x: m.index_put(x, (m.tensor([0]),), m.tensor(1.0, dtype=m.float64)),
    lambda m, x: m.index_put(x, (m.tensor([0.0]),), m.tensor(1.0)),
    lambda m, x: m.masked_select(x, m.tensor([1, 0, 1])),
    lambda m, x: m.masked_select(x, m.ones(4, dtype=m.bool)),
    lambda m, x: m.masked_scatter(x, m.ones(2, 3, dtype=m.bool), m.ones(2)),
    lambda m, x: m.masked_scatter(x, m.ones(2, 3), m.ones(6)),
    lambda m, x: m.masked_scatter(x, m.ones(2, 3, dtype=m.bool), m.ones(6, dtype=m.float64)),
    lambda m, x: m.take_along_dim(x, m.tensor([0, 1]), 1),
    lambda m, x: m.take_along_dim(x, m.tensor([[0.0]]), 1),
    lambda m, x: m.take_along_dim(x, m.tensor([[0]]), 2),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_torch(case):
    raises_like(ERRORS[case], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_out_of_range_never_wraps():
    x = fastnn.arange(6.0).reshape(2, 3)
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with size 3"):
        x.take_along_dim(fastnn.tensor([[3]]), 1)
    with pytest.raises(IndexError, match="index -3 is out of bounds for dimension 0 with size 2"):
        x.index_fill(0, fastnn.tensor([-3]), 0.0)


def test_index_fill_value_gradient_counts_positions_once():
    # A repeated index fills its position once, so the value's gradient sums each filled position once.
    compare(lambda m, x, v: m.index_fill(x, -1, m.tensor([1, 1, 3]), v), r(2, 5), np.array(0.5))


def test_index_select_and_index_fill_negative_indices_as_torch():
    # index_select refuses negative indices (no wrap-around); index_fill counts them from the end.
    raises_like(lambda m, x: m.index_select(x, 0, m.tensor([-1])), r(2, 3))
    raises_like(lambda m, x: m.index_select(x, 1, m.tensor([0, 3])), r(2, 3))  # torch's inner-dim type and text
    raises_like(lambda m, x: m.index_fill(x, 1, m.tensor([-4]), 0.0), r(2, 3))
    compare(lambda m, x: m.index_fill(x, 1, m.tensor([-1, 0, -3]), 0.5), r(2, 3))


def test_index_select_of_0d():
    compare(lambda m, x: m.index_select(x, 0, m.tensor([0])), r())
    compare(lambda m, x: m.index_select(x, -1, m.tensor(0)), r())


# ---- index_reduce, put, select/slice/diagonal_scatter ----------------------------------------------------------
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self):
    def fn(m, x, s):
        return m.index_reduce(x, 1, m.tensor([0, 4, 0, 2]), s, reduce, include_self=include_self)

    compare(fn, r(3, 5), r(3, 4))
    compare(fn, r(3, 5), r(3, 4), noncontig=True)
    compare(fn, RNG.integers(-9, 9, (3, 5)), RNG.integers(-9, 9, (3, 4)), grad=False)
    if reduce in ("prod", "mean"):
        gradcheck_op(lambda x, s: fn(fastnn, x, s), (3, 5), (3, 4))


PUT_AND_SCATTER_VIEWS = {
    "put": (lambda m, x, s: x.put(m.tensor([0, -1, 7]), s), (r(3, 5), r(3))),
    "put_acc": (lambda m, x, s: m.put(x, m.tensor([[1, 1], [-15, 14]]), s, accumulate=True), (r(3, 5), r(2, 2))),
    "select_scatter": (lambda m, x, s: m.select_scatter(x, s, 1, -2), (r(3, 5), r(3))),
    "slice_scatter": (lambda m, x, s: x.slice_scatter(s, 1, 1, None, 2), (r(3, 5), r(3, 2))),
    "slice_scatter_default": (lambda m, x, s: m.slice_scatter(x, s), (r(3, 5), r(3, 5))),
    "diagonal_scatter": (lambda m, x, s: m.diagonal_scatter(x, s, 1), (r(3, 5), r(3))),
    "diagonal_scatter_dims": (lambda m, x, s: x.diagonal_scatter(s, -1, 2, 0), (r(3, 2, 4), r(2, 3))),
}


@pytest.mark.parametrize("name", list(PUT_AND_SCATTER_VIEWS))
def test_put_and_scatter_views(name):
    fn, arrays = PUT_AND_SCATTER_VIEWS[name]
    compare(fn, *arrays)
    compare(fn, *arrays, noncontig=True)
    gradcheck_op(lambda *ts: fn(fastnn, *ts), *arrays)


PUT_ERRORS = [
    lambda m, x: x.put(m.tensor([6]), m.ones(1)),
    lambda m, x: x.put(m.tensor([-7]), m.ones(1)),
    lambda m, x: x.put(m.tensor([1]), m.ones(2)),
    lambda m, x: x.put(m.tensor([1.0]), m.ones(1)),
    lambda m, x: x.put(m.tensor([1]), m.ones(1, dtype=m.float64)),
    lambda m, x: m.select_scatter(x, m.ones(4), 1, 0),
    lambda m, x: m.select_scatter(x, m.ones(2), 1, 5),
    lambda m, x: m.slice_scatter(x, m.ones(2, 3), 1, 0, 4, 2),
    lambda m, x: m.diagonal_scatter(x, m.ones(3), 1),
    lambda m, x: m.index_reduce(x, 0, m.tensor([0, 0]), m.ones(2, 3), "foo"),
    lambda m, x: m.index_reduce(x, 0, m.tensor([0, 3]), m.ones(2, 3), "amax"),
]


@pytest.mark.parametrize("case", range(len(PUT_ERRORS)))
def test_put_errors_match_torch(case):
    raises_like(PUT_ERRORS[case], np.arange(6, dtype=np.float32).reshape(2, 3))
