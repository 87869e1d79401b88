"""flip, roll, rot90, repeat, repeat_interleave, tile, broadcast_*, movedim, swapaxes, the stacks, atleast_nd,
ravel, unfold, select, narrow_copy, take, meshgrid, tril/triu and the diagonal family against torch: values,
dtypes and gradients over odd, size-1, zero-size and non-contiguous inputs; float64 gradchecks; torch's errors."""
import warnings

import numpy as np
import pytest
import torch

import fastnn
from op_helpers import gradcheck_op
from torch_compare import compare, raises_like

RNG = np.random.default_rng(11)


def r(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


SHAPES_2D = [(3, 5), (1, 4), (0, 3), (4, 1)]

# name -> (fn(module, x), shapes the op accepts)
UNARY = {
    "flip0": (lambda m, x: m.flip(x, (0,)), SHAPES_2D + [(2, 3, 4)]),
    "flip_neg_both": (lambda m, x: m.flip(x, [-1, 0]), SHAPES_2D),
    "flip_method": (lambda m, x: x.flip(1), SHAPES_2D),
    "flip_empty_dims": (lambda m, x: m.flip(x, ()), SHAPES_2D),
    "fliplr": (lambda m, x: m.fliplr(x), SHAPES_2D),
    "flipud": (lambda m, x: x.flipud(), SHAPES_2D + [(5,)]),
    "roll_flat": (lambda m, x: m.roll(x, 2), SHAPES_2D + [(7,)]),
    "roll_dims": (lambda m, x: m.roll(x, (1, -2), (0, 1)), SHAPES_2D),
    "roll_neg_dim": (lambda m, x: x.roll(7, -1), SHAPES_2D),
    "rot90": (lambda m, x: m.rot90(x), SHAPES_2D),
    "rot90_k2": (lambda m, x: m.rot90(x, 2, [1, 0]), SHAPES_2D),
    "rot90_k3": (lambda m, x: x.rot90(-1, (0, 1)), SHAPES_2D + [(2, 3, 4)]),
    "rot90_k4": (lambda m, x: m.rot90(x, 4), SHAPES_2D),
    "repeat": (lambda m, x: x.repeat(2, 3), SHAPES_2D),
    "repeat_lead": (lambda m, x: x.repeat((2, 1, 3)), SHAPES_2D),
    "repeat_zero": (lambda m, x: x.repeat(0, 2), SHAPES_2D),
    "tile": (lambda m, x: m.tile(x, (2,)), SHAPES_2D),
    "tile_method": (lambda m, x: x.tile(2, 1, 2), SHAPES_2D),
    "repeat_interleave_flat": (lambda m, x: m.repeat_interleave(x, 2), SHAPES_2D),
    "repeat_interleave_dim": (lambda m, x: x.repeat_interleave(3, dim=-1), SHAPES_2D),
    "broadcast_to": (lambda m, x: m.broadcast_to(x[:1], (2,) + tuple(x[:1].shape)), SHAPES_2D),
    "movedim": (lambda m, x: m.movedim(x, 0, -1), SHAPES_2D + [(2, 3, 4)]),
    "movedim_tuple": (lambda m, x: m.movedim(x, (0, 2), (2, 0)), [(2, 3, 4), (1, 0, 5)]),
    "moveaxis": (lambda m, x: x.moveaxis((0, 1), (1, 2)), [(2, 3, 4)]),
    "swapaxes": (lambda m, x: m.swapaxes(x, 0, -1), SHAPES_2D),
    "swapdims": (lambda m, x: x.swapdims(1, 0), SHAPES_2D),
    "ravel": (lambda m, x: m.ravel(x), SHAPES_2D),
    "atleast_3d": (lambda m, x: m.atleast_3d(x), SHAPES_2D + [(5,), ()]),
    "atleast_2d": (lambda m, x: m.atleast_2d(x), [(5,), (), (2, 3)]),
    "atleast_1d": (lambda m, x: m.atleast_1d(x), [(), (3,)]),
    "unfold": (lambda m, x: x.unfold(1, 2, 1), [(3, 5), (1, 4), (0, 3), (2, 3, 4)]),
    "unfold_step": (lambda m, x: x.unfold(-1, 2, 2), [(3, 5), (0, 3)]),
    "unfold_overlap": (lambda m, x: x.unfold(0, 3, 1), [(5,), (4, 2)]),
    "unfold_0d": (lambda m, x: x.unfold(0, 1, 1), [()]),
    "select": (lambda m, x: m.select(x, 1, -1), [(3, 5), (1, 4), (0, 3)]),
    "select_method": (lambda m, x: x.select(0, 0), [(1, 4), (5,)]),
    "narrow_copy": (lambda m, x: x.narrow_copy(1, 1, 2), [(3, 5), (0, 3)]),
    "tril": (lambda m, x: m.tril(x), SHAPES_2D + [(2, 3, 4)]),
    "tril_k": (lambda m, x: x.tril(-1), SHAPES_2D),
    "triu": (lambda m, x: m.triu(x, 1), SHAPES_2D + [(2, 3, 4)]),
    "triu_neg": (lambda m, x: x.triu(diagonal=-2), SHAPES_2D),
    "diag_2d": (lambda m, x: m.diag(x), SHAPES_2D),
    "diag_2d_k": (lambda m, x: x.diag(1), SHAPES_2D),
    "diag_2d_negk": (lambda m, x: m.diag(x, -2), SHAPES_2D),
    "diag_1d": (lambda m, x: m.diag(x), [(4,), (1,), (0,)]),
    "diag_1d_k": (lambda m, x: m.diag(x, -1), [(4,), (0,)]),
    "diagonal": (lambda m, x: m.diagonal(x), SHAPES_2D),
    "diagonal_dims": (lambda m, x: x.diagonal(1, -1, 0), [(2, 3, 4), (3, 1, 2)]),
    "diagonal_neg": (lambda m, x: x.diagonal(-1, 2, 1), [(2, 3, 4)]),
    "diagonal_far": (lambda m, x: m.diagonal(x, 9), SHAPES_2D),
    "diag_embed": (lambda m, x: m.diag_embed(x), [(3,), (2, 3), (0, 2)]),
    "diag_embed_dims": (lambda m, x: x.diag_embed(1, 0, 2), [(2, 3)]),
    "diag_embed_negoff": (lambda m, x: m.diag_embed(x, -2, -1, 0), [(2, 3)]),
    "diagflat": (lambda m, x: m.diagflat(x), SHAPES_2D + [(3,)]),
    "diagflat_k": (lambda m, x: x.diagflat(-1), [(2, 2)]),
    "trace": (lambda m, x: m.trace(x), SHAPES_2D),
    "take": (lambda m, x: m.take(x, m.tensor([0, -1, 2, 0, -x.numel()]) if x.numel() else
                                 m.tensor([], dtype=m.int64)), [(3, 5), (1, 4), (0, 3)]),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_matches_torch(name):
    fn, shapes = UNARY[name]
    for shape in shapes:
        compare(fn, r(*shape))
        if len(shape) >= 2:
            compare(fn, r(*shape), noncontig=True)
        compare(fn, r(*shape, dtype=np.float32), grad=False)


@pytest.mark.parametrize("name", ["flip0", "roll_dims", "repeat", "tril", "diag_1d", "diagonal", "trace", "take",
                                  "rot90", "unfold", "select"])
def test_int_and_bool_inputs(name):
    fn, shapes = UNARY[name]
    shape = shapes[0]
    compare(fn, RNG.integers(-5, 5, shape), grad=False)
    if name != "trace":
        compare(fn, RNG.random(shape) > 0.5, grad=False)


GRADCHECK = ["flip_neg_both", "roll_dims", "roll_flat", "rot90", "repeat_lead", "repeat_interleave_dim", "unfold",
             "unfold_overlap", "select", "tril_k", "triu", "diag_2d_k", "diag_1d_k", "diagonal_dims", "diag_embed_dims",
             "trace", "take", "diagflat", "narrow_copy"]


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradcheck(name):
    fn, shapes = UNARY[name]
    gradcheck_op(lambda x: fn(fastnn, x), [s for s in shapes if 0 not in s][0])


def test_repeat_interleave_tensor_repeats_and_output_size():
    x = r(3, 2)
    compare(lambda m, t: m.repeat_interleave(t, m.tensor([1, 0, 2]), dim=0), x)
    compare(lambda m, t: m.repeat_interleave(t, m.tensor([2, 1]), dim=1, output_size=3), x)
    compare(lambda m, t: t.repeat_interleave(m.tensor(2), dim=0), x)
    out = fastnn.repeat_interleave(fastnn.tensor([2, 0, 3]))
    assert out.tolist() == torch.repeat_interleave(torch.tensor([2, 0, 3])).tolist() and out.dtype is fastnn.int64
    gradcheck_op(lambda t: fastnn.repeat_interleave(t, fastnn.tensor([3, 0, 1]), dim=0), (3, 2))


def test_take_wraps_negative_and_accumulates():
    compare(lambda m, t: m.take(t, m.tensor([[0, -1], [0, 0]])), r(2, 3))
    gradcheck_op(lambda t: fastnn.take(t, fastnn.tensor([1, 1, -1])), (2, 3))


def test_broadcast_family():
    a, b, c = r(3, 1), r(4), r(1, 1, 4)
    compare(lambda m, x, y, z: m.broadcast_tensors(x, y, z), a, b, c)
    assert fastnn.broadcast_shapes((2, 1), (3,), 1) == torch.broadcast_shapes((2, 1), (3,), 1)
    assert fastnn.broadcast_shapes() == torch.broadcast_shapes()
    assert isinstance(fastnn.broadcast_shapes((2, 1)), fastnn.Size)
    gradcheck_op(lambda x, y: fastnn.broadcast_tensors(x, y)[0] * fastnn.broadcast_tensors(x, y)[1], (3, 1), (4,))


STACKS = ["hstack", "vstack", "dstack", "column_stack", "row_stack"]


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (2, 3)], [(), ()], [(2, 3, 1), (2, 3, 1)],
                                    [(0, 3), (0, 3)], [(1, 4), (1, 4), (1, 4)]])
def test_stacks(name, shapes):
    arrays = [r(*s) for s in shapes]
    if name == "column_stack" and len(shapes[0]) > 2:
        arrays = [a[..., 0] for a in arrays]
    compare(lambda m, *ts: getattr(m, name)(list(ts)), *arrays)


def test_stacks_mixed_and_concat_aliases():
    compare(lambda m, a, b: m.hstack((a, b)), r(2, 1), r(2, 3))
    compare(lambda m, a, b: m.column_stack([a, b]), r(3), r(3, 2))
    compare(lambda m, a, b: m.concatenate([a, b], axis=1), r(2, 1), r(2, 3))
    compare(lambda m, a, b: m.concat((a, b), dim=-1), r(2, 1), r(2, 3))
    compare(lambda m, a, b: m.concatenate([a, b]), r(1, 3), r(2, 3))
    gradcheck_op(lambda a, b: fastnn.dstack([a, b]), (2, 3), (2, 3))


def test_atleast_multiple_args_give_tuples():
    compare(lambda m, a, b: m.atleast_2d(a, b), r(), r(3))
    compare(lambda m, a, b: m.atleast_3d([a, b]), r(2), r(2, 3))
    assert isinstance(fastnn.atleast_1d([fastnn.tensor(1.0)]), tuple)


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    compare(lambda m, a, b, c: m.meshgrid(a, b, c, indexing=indexing), r(2), r(3), r(4))
    compare(lambda m, a, b: m.meshgrid([a, b], indexing=indexing), r(), r(3))
    compare(lambda m, a: m.meshgrid(a, indexing=indexing), r(3))
    compare(lambda m, a, b: m.meshgrid(a, b, indexing=indexing), r(0), r(3))
    gradcheck_op(lambda a, b: fastnn.meshgrid(a, b, indexing=indexing)[0] * fastnn.meshgrid(a, b, indexing=indexing)[1],
                 (2,), (3,))


def test_meshgrid_default_warns_like_torch():
    a, b = fastnn.arange(2), fastnn.arange(3)
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        out = fastnn.meshgrid(a, b)
    assert out[0].shape == (2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastnn.meshgrid(a, b, indexing="ij")


def test_tril_triu_indices():
    for args in [(3, 3), (4, 2, 1), (2, 5, -1), (0, 3), (3, 0), (3, 4, 10), (3, 4, -10)]:
        for name in ["tril_indices", "triu_indices"]:
            f, t = getattr(fastnn, name)(*args), getattr(torch, name)(*args)
            assert f.shape == tuple(t.shape) and f.dtype is fastnn.int64
            assert f.tolist() == t.tolist(), (name, args)
    assert fastnn.tril_indices(3, 3, dtype=fastnn.float64).dtype is fastnn.float64


def test_inplace_tril_triu_outside_autograd():
    x = r(3, 4)
    t = fastnn.tensor(x)
    v = t._version
    assert t.tril_(1) is t and t._version > v
    np.testing.assert_array_equal(np.asarray(t), np.tril(x, 1))
    t.triu_()
    np.testing.assert_array_equal(np.asarray(t), np.triu(np.tril(x, 1)))
    with pytest.raises(RuntimeError, match="in-place"):
        fastnn.tensor(x, requires_grad=True).tril_()


def test_squeeze_tuple_dims():
    compare(lambda m, x: x.squeeze((0, -1)), r(1, 3, 1))
    compare(lambda m, x: m.squeeze(x, (1,)), r(1, 3, 1))


def test_flip_copies_and_select_views():
    t = fastnn.tensor(r(3, 4))
    f = fastnn.flip(t, (0,))
    assert not np.shares_memory(np.asarray(f), np.asarray(t))
    assert np.shares_memory(np.asarray(t.select(0, 1)), np.asarray(t))


def test_node_names():
    x = fastnn.tensor(r(3, 4), requires_grad=True)
    for out, name in [(x.flip(0), "FlipBackward0"), (x.roll(1, 0), "RollBackward0"),
                      (x.repeat(2, 1), "RepeatBackward0"),
                      (x.tril(), "TrilBackward0"), (x.triu(), "TriuBackward0"), (x.diagonal(), "DiagonalBackward0"),
                      (x.trace(), "TraceBackward0"), (x.unfold(0, 2, 1), "UnfoldBackward0"),
                      (x.select(0, 1), "SelectBackward0"), (x.take(fastnn.tensor([0])), "TakeBackward0"),
                      (x.narrow_copy(0, 0, 1), "NarrowCopyBackward0"), (x[0].diag_embed(), "DiagEmbedBackward0")]:
        assert out.grad_fn.name == name


ERRORS = [
    (lambda m, x: m.flip(x, 0), (2, 3)),
    (lambda m, x: m.flip(x, (0, 0)), (2, 3)),
    (lambda m, x: m.flip(x, (2,)), (2, 3)),
    (lambda m, x: m.roll(x, (1, 2), (0,)), (2, 3)),
    (lambda m, x: m.roll(x, 1, 2), (2, 3)),
    (lambda m, x: m.rot90(x, 1, (0, 0)), (2, 3)),
    (lambda m, x: m.rot90(x, 1, (0, 1, 2)), (2, 3)),
    (lambda m, x: m.rot90(x), (3,)),
    (lambda m, x: x.repeat(2), (2, 3)),
    (lambda m, x: x.repeat(-1, 2), (2, 3)),
    (lambda m, x: m.repeat_interleave(x, m.tensor([1, 2]), 0, output_size=5), (2, 3)),
    (lambda m, x: m.repeat_interleave(x, m.tensor([1, 2]), 1), (2, 3)),
    (lambda m, x: m.repeat_interleave(x, -1), (2, 3)),
    (lambda m, x: m.repeat_interleave(x, m.tensor([1, -2]), 0), (2, 3)),
    (lambda m, x: m.repeat_interleave(x, m.tensor([[1, 2]]), 0), (2, 3)),
    (lambda m, x: m.broadcast_shapes((2, 3), (4, 3)), (1,)),
    (lambda m, x: m.broadcast_tensors(x, m.ones(4, 3)), (2, 3)),
    (lambda m, x: m.broadcast_to(x, (4, 3)), (2, 3)),
    (lambda m, x: m.movedim(x, (0, 0), (1, 0)), (2, 3)),
    (lambda m, x: m.movedim(x, (0,), (1, 0)), (2, 3)),
    (lambda m, x: m.movedim(x, 0, 2), (2, 3)),
    (lambda m, x: m.tril(x), (3,)),
    (lambda m, x: m.triu(x), ()),
    (lambda m, x: m.tril_indices(-1, 2), (1,)),
    (lambda m, x: m.triu_indices(3, -2, 1), (1,)),
    (lambda m, x: m.diag(x), (2, 2, 2)),
    (lambda m, x: m.diagonal(x, 0, 0, 0), (2, 3)),
    (lambda m, x: m.diagonal(x, 0, 0, 2), (2, 3)),
    (lambda m, x: m.diag_embed(x, 0, 0, 0), (2, 3)),
    (lambda m, x: m.trace(x), (3,)),
    (lambda m, x: m.trace(x > 0), (2, 3)),
    (lambda m, x: m.meshgrid(x, indexing="ij"), (2, 2)),
    (lambda m, x: m.meshgrid(x, x.double(), indexing="ij"), (2,)),
    (lambda m, x: m.meshgrid(x, indexing="foo"), (2,)),
    (lambda m, x: m.meshgrid(indexing="ij"), (2,)),
    (lambda m, x: m.hstack([]), (2,)),
    (lambda m, x: m.vstack([]), (2,)),
    (lambda m, x: x.unfold(1, 4, 1), (2, 3)),
    (lambda m, x: x.unfold(1, 2, 0), (2, 3)),
    (lambda m, x: x.unfold(2, 2, 1), (2, 3)),
    (lambda m, x: x.select(0, 5), (3,)),
    (lambda m, x: x.select(0, -4), (3,)),
    (lambda m, x: x.select(1, 0), (3,)),
    (lambda m, x: m.take(x, m.tensor([5])), (3,)),
    (lambda m, x: m.take(x, m.tensor([-4])), (3,)),
    (lambda m, x: x.narrow_copy(0, 2, 2), (3,)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_torch(case):
    fn, shape = ERRORS[case]
    raises_like(fn, r(*shape, dtype=np.float32), message=case not in TYPE_ONLY)


TYPE_ONLY = {31}  # meshgrid's message prints the offending tensor's values


# ---- splits, the *_copy functions, block_diag / cartesian_prod / combinations, sum_to_size, H / mH ----------
SPLITS = {
    "tensor_split_n": (lambda m, x: m.tensor_split(x, 3, 1), [(3, 5), (2, 0), (1, 7)]),
    "tensor_split_idx": (lambda m, x: x.tensor_split([1, -1, 9], dim=-1), [(3, 5), (2, 0)]),
    "tensor_split_unordered": (lambda m, x: m.tensor_split(x, (3, 1)), [(4, 2)]),
    "tensor_split_tensor": (lambda m, x: m.tensor_split(x, m.tensor([1, 2])), [(4, 2)]),
    "tensor_split_tensor_0d": (lambda m, x: m.tensor_split(x, m.tensor(2)), [(5, 2)]),
    "hsplit": (lambda m, x: m.hsplit(x, 2), [(3, 4), (4,)]),
    "hsplit_idx": (lambda m, x: x.hsplit([1, 3]), [(3, 5)]),
    "vsplit": (lambda m, x: m.vsplit(x, [1]), [(3, 5)]),
    "dsplit": (lambda m, x: x.dsplit(2), [(2, 3, 4)]),
    "split_with_sizes": (lambda m, x: m.split_with_sizes(x, [1, 2], 1), [(2, 3)]),
    "unsafe_split": (lambda m, x: x.unsafe_split(2), [(5, 3)]),
    "unsafe_chunk": (lambda m, x: m.unsafe_chunk(x, 2, -1), [(5, 3)]),
    "diagonal_copy": (lambda m, x: m.diagonal_copy(x, 1), [(3, 4)]),
    "expand_copy": (lambda m, x: m.expand_copy(x[:1], (3, x.shape[1])), [(3, 4)]),
    "permute_copy": (lambda m, x: m.permute_copy(x, (1, 0)), [(3, 4)]),
    "squeeze_copy": (lambda m, x: m.squeeze_copy(x, 0), [(1, 4)]),
    "unsqueeze_copy": (lambda m, x: m.unsqueeze_copy(x, -1), [(3, 4)]),
    "t_copy": (lambda m, x: m.t_copy(x), [(3, 4)]),
    "transpose_copy": (lambda m, x: m.transpose_copy(x, 0, 1), [(3, 4)]),
    "unbind_copy": (lambda m, x: m.unbind_copy(x, 1), [(3, 4)]),
    "unfold_copy": (lambda m, x: m.unfold_copy(x, 1, 2, 1), [(3, 4)]),
    "view_copy": (lambda m, x: m.view_copy(x, (2, -1)), [(3, 4)]),
    "alias_copy": (lambda m, x: m.alias_copy(x), [(3, 4)]),
    "sum_to_size": (lambda m, x: x.sum_to_size(1, x.shape[1]), [(3, 4), (0, 2)]),
    "sum_to_size_lead": (lambda m, x: x.sum_to_size((x.shape[1],)), [(3, 4)]),
    "reshape_as": (lambda m, x: x.reshape_as(m.ones(x.shape[1], x.shape[0])), [(3, 4)]),
    "mH": (lambda m, x: x.mH, [(3, 4), (2, 3, 4)]),
    "H": (lambda m, x: x.H, [(3, 4)]),
    "adjoint": (lambda m, x: m.adjoint(x), [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_splits_and_copies_match_torch(name):
    fn, shapes = SPLITS[name]
    for shape in shapes:
        compare(fn, r(*shape))
        if len(shape) >= 2:
            compare(fn, r(*shape), noncontig=True)


def test_sum_to_size_dtypes():
    for x in [np.ones((2, 2), bool), np.array(True), np.ones(2, bool), RNG.integers(0, 3, (2, 3))]:
        for size in [x.shape, (1,) * x.ndim]:
            compare(lambda m, t, size=size: t.sum_to_size(size), x, grad=False)


def test_copies_do_not_alias():
    t = fastnn.tensor(r(3, 4))
    for out in (fastnn.permute_copy(t, (1, 0)), fastnn.view_copy(t, (12,)), fastnn.alias_copy(t),
                fastnn.diagonal_copy(t), *fastnn.unbind_copy(t)):
        assert not np.shares_memory(np.asarray(out), np.asarray(t))


def test_block_diag_cartesian_prod_combinations():
    compare(lambda m, a, b, c: m.block_diag(a, b, c), r(), r(2), r(2, 3))
    compare(lambda m, a, b: m.block_diag(a, b), r(0, 2), r(2, 0))
    compare(lambda m, a, b: m.block_diag(a, b), r(2, 2), RNG.integers(0, 5, (1, 3)))
    compare(lambda m: m.block_diag())
    compare(lambda m, a, b, c: m.cartesian_prod(a, b, c), r(2), r(3), r(1))
    compare(lambda m, a: m.cartesian_prod(a), r(3))
    for n, k, rep in [(4, 2, False), (4, 3, True), (2, 3, False), (3, 1, False), (0, 2, True), (4, 0, False)]:
        compare(lambda m, a, k=k, rep=rep: m.combinations(a, k, rep), r(n))
    gradcheck_op(lambda a: fastnn.combinations(a, 2, True), (3,))
    gradcheck_op(lambda a, b: fastnn.block_diag(a, b), (2,), (2, 3))
    gradcheck_op(lambda a, b: fastnn.cartesian_prod(a, b), (2,), (3,))


SPLIT_ERRORS = [
    lambda m, x: m.tensor_split(x, 0),
    lambda m, x: m.tensor_split(x[0, 0], 2),
    lambda m, x: m.tensor_split(x, m.tensor([[1]])),
    lambda m, x: m.tensor_split(x, m.tensor([1.0])),
    lambda m, x: m.hsplit(x, 3),
    lambda m, x: m.vsplit(x[0], 3),
    lambda m, x: m.dsplit(x, 2),
    lambda m, x: m.block_diag(m.ones(2, 2, 2)),
    lambda m, x: m.cartesian_prod(m.ones(2, 2)),
    lambda m, x: m.combinations(x),
    lambda m, x: x.sum_to_size(2, 4),
    lambda m, x: x[0].mH,
    lambda m, x: m.ones(2, 2, 2).H,
    lambda m, x: x[0].adjoint(),
]


@pytest.mark.parametrize("case", range(len(SPLIT_ERRORS)))
def test_split_errors_match_torch(case):
    raises_like(SPLIT_ERRORS[case], r(3, 4, dtype=np.float32))
