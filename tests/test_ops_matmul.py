"""matmul / @ / mm / bmm on the native GEMM: every rank combination, broadcast batches, non-contiguous
operands, sizes 0/1/odd, float32 and float64 against a float64 NumPy reference; gradients; errors."""
import numpy as np
import pytest
import torch

import fastnn
from op_helpers import assert_close, gradcheck_op, noncontiguous

RNG = np.random.default_rng(31)
FLOATS = [fastnn.float32, fastnn.float64]

SHAPES = [
    # 1-D . 1-D
    ((7,), (7,)), ((1,), (1,)), ((0,), (0,)), ((129,), (129,)),
    # 1-D . 2-D and 2-D . 1-D
    ((17,), (17, 5)), ((5,), (5, 1)), ((3, 17), (17,)), ((1, 7), (7,)), ((0, 4), (4,)),
    # 2-D . 2-D, odd and edge sizes
    ((1, 1), (1, 1)), ((7, 17), (17, 63)), ((63, 7), (7, 1)), ((129, 17), (17, 7)), ((17, 129), (129, 63)),
    ((5, 0), (0, 3)), ((0, 3), (3, 4)), ((3, 4), (4, 0)), ((2, 3), (3, 2)),
    # batched with broadcasting batch dims
    ((3, 4, 5), (3, 5, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (2, 4, 5)), ((2, 3, 4), (1, 4, 6)),
    ((4, 5), (3, 5, 2)), ((2, 7, 17), (17, 5)), ((3, 1, 7, 17), (17, 63)), ((0, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (0, 4, 5)), ((1, 0, 0), (0,)), ((2, 1, 3, 0), (5, 0, 2)), ((2, 3, 0), (0, 4)),
    ((2, 3, 4), (4, 0)),
    # vectors against batches
    ((5,), (3, 5, 2)), ((3, 4, 5), (5,)), ((2, 1, 3, 4), (4,)),
]


def _ids(case):
    return f"{case[0]}@{case[1]}"


def _tolerance(dtype, xa, xb):
    """atol scaled by the magnitude of the terms summed (|a| @ |b|), so cancellation cannot hide an error and
    a long inner dimension does not trip a correct kernel."""
    scale = float(np.max(np.abs(xa) @ np.abs(xb), initial=1.0)) if xa.size and xb.size else 1.0
    eps = np.finfo(dtype.np).eps
    return 8 * eps * scale * max(1, np.sqrt(xa.shape[-1])), 8 * eps


@pytest.mark.parametrize("case", SHAPES, ids=_ids)
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_matmul_matches_float64_numpy(case, dtype):
    sa, sb = case
    xa = RNG.standard_normal(sa).astype(dtype.np)
    xb = RNG.standard_normal(sb).astype(dtype.np)
    ref = np.matmul(xa.astype(np.float64), xb.astype(np.float64))
    atol, rtol = _tolerance(dtype, xa.astype(np.float64), xb.astype(np.float64))
    a, b = fastnn.tensor(xa), fastnn.tensor(xb)
    for out in (fastnn.matmul(a, b), a @ b, a.matmul(b)):
        assert out.dtype is dtype
        assert out.shape == ref.shape
        assert_close(out, ref, atol=atol, rtol=rtol)


@pytest.mark.parametrize("kind_a", ["contiguous", "transpose", "step", "negative step", "fastnn transpose"])
@pytest.mark.parametrize("kind_b", ["contiguous", "transpose", "step", "negative step", "fastnn slice"])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_matmul_non_contiguous_operands(kind_a, kind_b, dtype):
    m, k, n = 17, 7, 63
    xa = RNG.standard_normal((m, k)).astype(dtype.np)
    xb = RNG.standard_normal((k, n)).astype(dtype.np)

    def make(x, kind):
        if kind == "contiguous":
            return fastnn.tensor(x)
        if kind in ("transpose", "step"):
            return noncontiguous(x, kind)
        if kind == "negative step":
            return fastnn.from_numpy(np.ascontiguousarray(x[::-1, ::-1]))[::-1, ::-1]
        if kind == "fastnn transpose":
            return fastnn.tensor(np.ascontiguousarray(x.T)).transpose(0, 1)
        big = fastnn.tensor(np.zeros((x.shape[0] * 3, x.shape[1] + 4), x.dtype))
        big[::3, 2:-2] = fastnn.tensor(x)
        return big[::3, 2:-2]

    a, b = make(xa, kind_a), make(xb, kind_b)
    assert_close(a, xa)
    assert_close(b, xb)
    if kind_a != "contiguous":
        assert not a.is_contiguous()
    ref = xa.astype(np.float64) @ xb.astype(np.float64)
    atol, rtol = _tolerance(dtype, xa.astype(np.float64), xb.astype(np.float64))
    assert_close(a @ b, ref, atol=atol, rtol=rtol)


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_batched_non_contiguous_and_broadcast_views(dtype):
    xa = RNG.standard_normal((3, 5, 4)).astype(dtype.np)
    xb = RNG.standard_normal((4, 2)).astype(dtype.np)
    a = fastnn.from_numpy(np.ascontiguousarray(xa.transpose(1, 0, 2))).permute(1, 0, 2)  # batch dim not outer
    b = fastnn.tensor(xb).expand(3, 4, 2)  # zero batch stride
    ref = xa.astype(np.float64) @ xb.astype(np.float64)
    atol, rtol = _tolerance(dtype, xa.astype(np.float64), xb.astype(np.float64))
    assert_close(a @ b, ref, atol=atol, rtol=rtol)
    assert_close(a.transpose(-1, -2).mT @ b, ref, atol=atol, rtol=rtol)
    assert_close(fastnn.bmm(a, b), ref, atol=atol, rtol=rtol)


GRAD_SHAPES = [
    ((3,), (3,)), ((4,), (4, 2)), ((2, 4), (4,)), ((1, 1), (1, 1)), ((3, 5), (5, 2)), ((2, 3, 4), (2, 4, 1)),
    ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4, 5)), ((4, 5), (3, 5, 2)), ((3,), (2, 3, 2)), ((2, 3, 4), (4,)),
    ((1, 2, 3), (2, 3, 2)),
]


@pytest.mark.parametrize("case", GRAD_SHAPES, ids=_ids)
def test_matmul_gradcheck(case):
    gradcheck_op(fastnn.matmul, *case)


def _np_matmul_grads(xa, xb, g):
    """Reference gradients: promote vectors to matrices, take the batched products, sum broadcast dims back."""
    A = xa[None, :] if xa.ndim == 1 else xa
    B = xb[:, None] if xb.ndim == 1 else xb
    G = g.reshape(np.matmul(A, B).shape)

    def reduce(grad, shape):
        while grad.ndim > len(shape):
            grad = grad.sum(0)
        return grad.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)

    ga = reduce(G @ np.swapaxes(B, -1, -2), A.shape).reshape(xa.shape)
    gb = reduce(np.swapaxes(A, -1, -2) @ G, B.shape).reshape(xb.shape)
    return ga, gb


@pytest.mark.parametrize("case", GRAD_SHAPES, ids=_ids)
def test_matmul_gradients_vs_numpy(case):
    sa, sb = case
    xa, xb = RNG.standard_normal(sa), RNG.standard_normal(sb)
    a = fastnn.tensor(xa, requires_grad=True)
    b = fastnn.tensor(xb, requires_grad=True)
    out = a @ b
    g = RNG.standard_normal(out.shape)
    out.backward(fastnn.tensor(g))
    ga, gb = _np_matmul_grads(xa, xb, g)
    assert a.grad.shape == sa and b.grad.shape == sb
    assert_close(a.grad, ga)
    assert_close(b.grad, gb)


def test_matmul_gradient_through_non_contiguous_views():
    x = RNG.standard_normal((4, 3))
    y = RNG.standard_normal((5, 4))
    gradcheck_op(lambda p, q: p.t() @ q.t(), x, y)
    gradcheck_op(lambda p, q: p[::2] @ q[:, ::-1], RNG.standard_normal((6, 3)), RNG.standard_normal((3, 5)))


@pytest.mark.parametrize("case", [((3, 0), (0, 2)), ((1, 0, 0), (0,)), ((2, 1, 3, 0), (5, 0, 2)), ((2, 3, 0), (0, 4)),
                                  ((2, 3, 4), (4, 0)), ((0, 3, 4), (4, 2)), ((0,), (0, 3))], ids=_ids)
def test_zero_size_matmul_gradients(case):
    sa, sb = case
    xa, xb = RNG.standard_normal(sa), RNG.standard_normal(sb)
    a = fastnn.tensor(xa, requires_grad=True)
    b = fastnn.tensor(xb, requires_grad=True)
    out = a @ b
    ref = np.matmul(xa, xb)
    assert_close(out, ref)  # an empty inner dimension sums nothing: zeros
    out.backward(fastnn.ones(ref.shape, dtype=fastnn.float64))
    ga, gb = _np_matmul_grads(xa, xb, np.ones(ref.shape))
    assert_close(a.grad, ga)
    assert_close(b.grad, gb)


def test_integer_matmul_is_exact():
    xa = RNG.integers(-1000, 1000, size=(5, 7))
    xb = RNG.integers(-1000, 1000, size=(7, 3))
    out = fastnn.tensor(xa) @ fastnn.tensor(xb)
    assert out.dtype is fastnn.int64
    assert_close(out, xa @ xb)


def test_numpy_operand_on_the_left():
    xa, xb = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    out = xa @ fastnn.tensor(xb)
    assert isinstance(out, fastnn.Tensor)
    assert_close(out, xa @ xb)


# ---- mm / bmm -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_mm_and_bmm(dtype):
    xa, xb = RNG.standard_normal((7, 17)).astype(dtype.np), RNG.standard_normal((17, 5)).astype(dtype.np)
    atol, rtol = _tolerance(dtype, xa.astype(np.float64), xb.astype(np.float64))
    assert_close(fastnn.mm(fastnn.tensor(xa), fastnn.tensor(xb)), xa.astype(np.float64) @ xb, atol=atol, rtol=rtol)
    assert_close(fastnn.tensor(xa).mm(fastnn.tensor(xb)), xa.astype(np.float64) @ xb, atol=atol, rtol=rtol)
    ba, bb = RNG.standard_normal((3, 7, 17)).astype(dtype.np), RNG.standard_normal((3, 17, 5)).astype(dtype.np)
    atol, rtol = _tolerance(dtype, ba.astype(np.float64), bb.astype(np.float64))
    assert_close(fastnn.bmm(fastnn.tensor(ba), fastnn.tensor(bb)), ba.astype(np.float64) @ bb, atol=atol, rtol=rtol)
    assert_close(fastnn.tensor(ba).bmm(fastnn.tensor(bb)), ba.astype(np.float64) @ bb, atol=atol, rtol=rtol)
    gradcheck_op(fastnn.mm, (3, 4), (4, 2))
    gradcheck_op(fastnn.bmm, (2, 3, 4), (2, 4, 2))


def test_mm_bmm_reject_other_ranks():
    with pytest.raises(RuntimeError, match="2-D"):
        fastnn.mm(fastnn.ones(2, 3, 4), fastnn.ones(4, 5))
    with pytest.raises(RuntimeError, match="2-D"):
        fastnn.mm(fastnn.ones(3), fastnn.ones(3, 2))
    with pytest.raises(RuntimeError, match="3-D"):
        fastnn.bmm(fastnn.ones(3, 4), fastnn.ones(4, 5))
    with pytest.raises(RuntimeError, match="batch"):
        fastnn.bmm(fastnn.ones(2, 3, 4), fastnn.ones(3, 4, 5))


# ---- errors ---------------------------------------------------------------------------------------------
def _dims_str(shape):
    return "x".join(str(s) for s in shape)


@pytest.mark.parametrize("case", [((2, 3), (4, 2)), ((3,), (4,)), ((2, 3, 4), (2, 5, 6)), ((5,), (4, 2)),
                                  ((2, 3), (2,)), ((2, 3, 4), (3, 6))], ids=_ids)
def test_shape_mismatch_raises_with_both_shapes(case):
    sa, sb = case
    with pytest.raises(RuntimeError) as info:
        fastnn.ones(sa) @ fastnn.ones(sb)
    msg = str(info.value)
    with pytest.raises(RuntimeError) as theirs:  # torch's text for the op matmul lowers to (dot, mv, mm, bmm)
        torch.ones(sa) @ torch.ones(sb)
    assert msg.startswith(str(theirs.value)), (msg, str(theirs.value))
    assert _dims_str(sa) in msg and _dims_str(sb) in msg, msg


def test_batch_mismatch_raises_with_both_shapes():
    with pytest.raises(RuntimeError) as info:
        fastnn.ones(2, 3, 4) @ fastnn.ones(3, 4, 6)
    assert "must match the size of tensor b" in str(info.value)  # torch's broadcast text
    assert "2x3x4" in str(info.value) and "3x4x6" in str(info.value)


@pytest.mark.parametrize("da,db", [(fastnn.float32, fastnn.float64), (fastnn.float64, fastnn.float32),
                                   (fastnn.float32, fastnn.int64)], ids=str)
def test_dtype_mismatch_raises_with_dtypes_and_shapes(da, db):
    with pytest.raises(RuntimeError) as info:
        fastnn.ones(2, 3, dtype=da) @ fastnn.ones(3, 5, dtype=db)
    msg = str(info.value)
    assert "same dtype" in msg and str(da) in msg and str(db) in msg
    assert "2x3" in msg and "3x5" in msg, msg


def test_zero_dim_operands_raise():
    with pytest.raises(RuntimeError, match="at least 1D"):
        fastnn.tensor(2.0) @ fastnn.ones(2)
    with pytest.raises(RuntimeError, match="at least 1D"):
        fastnn.ones(2) @ fastnn.tensor(2.0)
