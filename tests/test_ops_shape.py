"""reshape view permute transpose .T squeeze unsqueeze flatten expand cat stack split chunk narrow unbind
contiguous clone: layouts vs NumPy, storage sharing where PyTorch shares it, gradients back into the input."""
import numpy as np
import pytest

import fastnn
from op_helpers import assert_close, gradcheck_op, noncontiguous

RNG = np.random.default_rng(77)


def _arr(shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


# ---- reshape / view ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,new", [((6,), (2, 3)), ((2, 3), (-1,)), ((2, 3, 4), (4, -1)), ((1,), ()),
                                       ((), (1, 1)), ((0, 3), (3, 0)), ((0, 3), (-1, 6)), ((7,), (7, 1)),
                                       ((3, 5), (5, 3))], ids=str)
def test_reshape_and_view_match_numpy(shape, new):
    x = _arr(shape)
    t = fastnn.tensor(x)
    ref = x.reshape(new)
    for out in (t.reshape(new), t.reshape(*new) if new else t.reshape(()), fastnn.reshape(t, new), t.view(new)):
        assert out.shape == ref.shape
        assert_close(out, ref)
    # view of a contiguous tensor shares storage (writes show through).
    v = t.view(new)
    if x.size:
        v.view(-1)[0] = 123.0
        assert t.reshape(-1)[0].item() == 123.0


@pytest.mark.parametrize("shape,new", [((6,), (2, 3)), ((2, 3, 4), (4, 6)), ((1,), ()), ((7,), (7, 1))], ids=str)
def test_reshape_gradcheck(shape, new):
    gradcheck_op(lambda t: t.reshape(new) * fastnn.arange(1.0, 1.0 + int(np.prod(new)), dtype=fastnn.float64)
                 .reshape(new), shape)
    gradcheck_op(lambda t: t.view(new), shape)


def test_reshape_errors():
    t = fastnn.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"shape '\[4, -1\]' is invalid for input of size 6"):
        t.reshape(4, -1)
    with pytest.raises(RuntimeError):
        t.view(5)


def test_view_of_non_contiguous_raises_and_reshape_copies():
    base = fastnn.tensor(_arr((2, 3)))
    t = base.t()
    assert not t.is_contiguous()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(6)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        fastnn.ones(3, 1).expand(3, 4).view(12)
    assert_close(t.reshape(6), np.asarray(base).T.reshape(6))
    # A view that keeps the non-contiguous dims intact is still allowed, and shares storage.
    v = t.view(3, 1, 2)
    assert v.shape == (3, 1, 2)
    assert np.shares_memory(np.asarray(v), np.asarray(base))
    assert t.view(3, 2).shape == (3, 2)


def test_view_as_and_reshape_from_tensor_sizes():
    t = fastnn.tensor(_arr((2, 6)))
    other = fastnn.zeros(3, 4)
    assert t.view_as(other).shape == (3, 4)
    assert t.reshape(other.shape).shape == (3, 4)
    assert t.reshape(fastnn.tensor(4), 3).shape == (4, 3)


# ---- permute / transpose / .T / mT ---------------------------------------------------------------------
@pytest.mark.parametrize("shape,dims", [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (-1, 0, -2)),
                                        ((1, 5, 1), (1, 2, 0)), ((3,), (0,)), ((), ()), ((0, 2, 3), (2, 1, 0))],
                         ids=str)
def test_permute(shape, dims):
    x = _arr(shape)
    t = fastnn.tensor(x)
    ref = np.transpose(x, dims) if shape else x
    assert_close(t.permute(dims), ref)
    assert_close(t.permute(*dims), ref)
    assert_close(fastnn.permute(t, dims), ref)
    if x.size:
        assert np.shares_memory(np.asarray(t.permute(dims)), np.asarray(t))  # a view, as in PyTorch


@pytest.mark.parametrize("shape,dims", [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((1, 5, 3), (1, 2, 0))], ids=str)
def test_permute_gradcheck(shape, dims):
    gradcheck_op(lambda t: t.permute(dims) * fastnn.arange(float(np.prod(shape)), dtype=fastnn.float64)
                 .reshape(tuple(shape[d] for d in dims)), shape)


def test_permute_errors():
    t = fastnn.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match="does not match"):
        t.permute(0, 1)
    with pytest.raises(RuntimeError, match="duplicate"):
        t.permute(0, 1, 1)
    with pytest.raises(IndexError):
        t.permute(0, 1, 3)


@pytest.mark.parametrize("shape,d0,d1", [((2, 3), 0, 1), ((2, 3, 4), 0, 2), ((2, 3, 4), -1, 1), ((2, 3, 4), 1, 1),
                                         ((5,), 0, -1), ((), 0, -1), ((0, 3), 0, 1)], ids=str)
def test_transpose(shape, d0, d1):
    x = _arr(shape)
    t = fastnn.tensor(x)
    ref = np.swapaxes(x, d0, d1) if x.ndim >= 1 else x
    assert_close(t.transpose(d0, d1), ref)
    assert_close(fastnn.transpose(t, d0, d1), ref)
    if x.ndim >= 2 and 0 not in shape:
        gradcheck_op(lambda a: a.transpose(d0, d1) * fastnn.tensor(np.arange(1.0, 1.0 + x.size).reshape(ref.shape)),
                     shape)


def test_T_t_and_mT():
    x = _arr((2, 3, 4))
    t = fastnn.tensor(x)
    assert_close(t.T, x.transpose(2, 1, 0))
    assert_close(t.mT, np.swapaxes(x, -1, -2))
    m = fastnn.tensor(x[0])
    assert_close(m.t(), x[0].T)
    assert_close(m.T, x[0].T)
    v = fastnn.tensor(x[0, 0])
    assert_close(v.t(), x[0, 0])
    assert_close(v.T, x[0, 0])
    with pytest.raises(RuntimeError, match="<= 2 dimensions"):
        t.t()
    gradcheck_op(lambda a: a.T * fastnn.tensor(np.arange(24.0).reshape(4, 3, 2)), (2, 3, 4))
    gradcheck_op(lambda a: a.t().sum(0) * fastnn.tensor([1.0, -2.0]), (2, 3))


# ---- squeeze / unsqueeze / flatten ---------------------------------------------------------------------
@pytest.mark.parametrize("shape,dim", [((1, 3, 1), None), ((1, 3, 1), 0), ((1, 3, 1), -1), ((1, 3, 1), 1),
                                       ((1, 3, 1), (0, 2)), ((1, 1), None), ((), None), ((), 0), ((3, 0, 1), 2),
                                       ((1,), 0), ((2, 1, 1, 4), (1, -2))], ids=str)
def test_squeeze(shape, dim):
    x = _arr(shape)
    t = fastnn.tensor(x)
    if dim is None:
        ref = np.squeeze(x)
    else:
        dims = dim if isinstance(dim, tuple) else (dim,)
        axes = tuple(d % max(x.ndim, 1) for d in dims if x.ndim and x.shape[d] == 1)
        ref = np.squeeze(x, axis=axes) if axes else x
    out = t.squeeze() if dim is None else t.squeeze(dim)
    assert_close(out, ref)
    assert_close(fastnn.squeeze(t, dim), ref)


@pytest.mark.parametrize("shape,dim", [((3,), 0), ((3,), 1), ((3,), -1), ((3,), -2), ((), 0), ((2, 3), 1),
                                       ((0, 3), 2)], ids=str)
def test_unsqueeze(shape, dim):
    x = _arr(shape)
    out = fastnn.tensor(x).unsqueeze(dim)
    assert_close(out, np.expand_dims(x, dim))
    assert_close(fastnn.unsqueeze(fastnn.tensor(x), dim), np.expand_dims(x, dim))


def test_squeeze_unsqueeze_errors_and_gradcheck():
    with pytest.raises(IndexError):
        fastnn.ones(2, 3).unsqueeze(3)
    with pytest.raises(IndexError):
        fastnn.ones(2, 3).squeeze(2)
    gradcheck_op(lambda a: a.squeeze() * fastnn.tensor([1.0, 2.0, 3.0]), (1, 3, 1))
    gradcheck_op(lambda a: a.squeeze(0).unsqueeze(-1) * fastnn.tensor([[1.0], [-1.0], [2.0]]), (1, 3))


@pytest.mark.parametrize("shape,start,end", [((2, 3, 4), 0, -1), ((2, 3, 4), 1, -1), ((2, 3, 4), 0, 1),
                                             ((2, 3, 4), -2, -1), ((2, 3, 4), 1, 1), ((), 0, -1), ((5,), 0, 0),
                                             ((2, 0, 3), 1, 2)], ids=str)
def test_flatten(shape, start, end):
    x = _arr(shape)
    if not shape:
        ref = x.reshape(1)
    else:
        s, e = start % len(shape), end % len(shape)
        ref = x.reshape(shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])
    assert_close(fastnn.tensor(x).flatten(start, end), ref)
    assert_close(fastnn.flatten(fastnn.tensor(x), start_dim=start, end_dim=end), ref)


def test_flatten_errors_and_gradcheck():
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        fastnn.ones(2, 3, 4).flatten(2, 1)
    gradcheck_op(lambda a: a.flatten(1) * fastnn.arange(1.0, 13.0, dtype=fastnn.float64), (2, 3, 4))


# ---- expand ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,sizes", [((3, 1), (3, 4)), ((3, 1), (2, 3, 4)), ((3, 1), (-1, 5)), ((1,), (7,)),
                                         ((), (2, 3)), ((1, 3), (0, 3)), ((2, 3), (2, 3))], ids=str)
def test_expand(shape, sizes):
    x = _arr(shape)
    t = fastnn.tensor(x)
    target = tuple(s if s != -1 else shape[i - (len(sizes) - len(shape))] for i, s in enumerate(sizes))
    ref = np.broadcast_to(x, target)
    assert_close(t.expand(*sizes), ref)
    assert_close(t.expand(sizes), ref)
    assert_close(t.expand_as(fastnn.zeros(target)), ref)
    if x.size and 0 not in target:
        assert np.shares_memory(np.asarray(t.expand(*sizes)), np.asarray(t))  # no copy


@pytest.mark.parametrize("shape,sizes", [((3, 1), (3, 4)), ((3, 1), (2, 3, 4)), ((1,), (7,)), ((), (2, 3))],
                         ids=str)
def test_expand_gradcheck(shape, sizes):
    weights = fastnn.tensor(RNG.standard_normal(sizes))
    gradcheck_op(lambda a: a.expand(*sizes) * weights, shape)


def test_expand_errors_and_readonly():
    with pytest.raises(RuntimeError, match="must match the existing size"):
        fastnn.ones(3, 2).expand(3, 4)
    with pytest.raises(RuntimeError, match="number of sizes"):
        fastnn.ones(3, 2).expand(2)
    with pytest.raises(RuntimeError, match="-1"):
        fastnn.ones(3).expand(-1, 3)
    e = fastnn.ones(3, 1).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e[0, 0] = 2.0


# ---- cat / stack ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes,dim", [([(2, 3), (1, 3), (4, 3)], 0), ([(2, 3), (2, 1)], 1), ([(2, 3), (2, 5)], -1),
                                        ([(7,)], 0), ([(2, 0), (2, 3)], 1), ([(0, 3), (0, 3)], 0),
                                        ([(1, 2, 3), (1, 2, 3)], 2)], ids=str)
@pytest.mark.parametrize("dtype", [fastnn.float32, fastnn.float64], ids=str)
def test_cat(shapes, dim, dtype):
    xs = [_arr(s, dtype.np) for s in shapes]
    out = fastnn.cat([fastnn.tensor(x) for x in xs], dim)
    assert out.dtype is dtype
    assert_close(out, np.concatenate(xs, axis=dim))
    assert_close(fastnn.cat(tuple(fastnn.tensor(x) for x in xs), dim=dim), np.concatenate(xs, axis=dim))


@pytest.mark.parametrize("shapes,dim", [([(2, 3), (1, 3), (4, 3)], 0), ([(2, 3), (2, 1)], 1), ([(7,)], 0),
                                        ([(1, 2, 3), (1, 2, 3)], -1)], ids=str)
def test_cat_gradcheck(shapes, dim):
    weights = fastnn.tensor(RNG.standard_normal(np.concatenate([np.zeros(s) for s in shapes], axis=dim).shape))
    gradcheck_op(lambda *ts: fastnn.cat(ts, dim) * weights, *shapes)


def test_cat_promotes_and_skips_legacy_empty_1d():
    a, b = fastnn.ones(2, 2), fastnn.zeros(1, 2, dtype=fastnn.float64)
    out = fastnn.cat([a, b])
    assert out.dtype is fastnn.float64
    assert fastnn.cat([fastnn.ones(2, dtype=fastnn.int64), fastnn.ones(1)]).dtype is fastnn.float32
    assert fastnn.cat([fastnn.ones(2, 3), fastnn.zeros(0)]).shape == (2, 3)
    # Gradients come back in each input's dtype.
    x = fastnn.ones(2, 2, requires_grad=True)
    y = fastnn.ones(1, 2, dtype=fastnn.float64, requires_grad=True)
    fastnn.cat([x, y]).sum().backward()
    assert x.grad.dtype is fastnn.float32 and y.grad.dtype is fastnn.float64


def test_cat_errors():
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        fastnn.cat([fastnn.ones(2, 3), fastnn.ones(2, 1)])
    with pytest.raises(ValueError, match="non-empty"):  # torch raises ValueError here
        fastnn.cat([])
    with pytest.raises(TypeError):
        fastnn.cat(fastnn.ones(2))
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        fastnn.cat([fastnn.tensor(1.0), fastnn.tensor(2.0)])
    with pytest.raises(IndexError):
        fastnn.cat([fastnn.ones(2), fastnn.ones(2)], 1)


@pytest.mark.parametrize("shape,n,dim", [((2, 3), 3, 0), ((2, 3), 2, 1), ((2, 3), 2, 2), ((2, 3), 4, -1),
                                         ((), 3, 0), ((0, 2), 2, 1), ((7,), 1, 0)], ids=str)
def test_stack(shape, n, dim):
    xs = [_arr(shape) for _ in range(n)]
    out = fastnn.stack([fastnn.tensor(x) for x in xs], dim)
    assert_close(out, np.stack(xs, axis=dim))


def test_stack_gradcheck_promotion_and_errors():
    weights = fastnn.tensor(RNG.standard_normal((2, 3, 3)))
    gradcheck_op(lambda a, b: fastnn.stack([a, b, a], 1) * weights, (2, 3), (2, 3))
    assert fastnn.stack([fastnn.tensor(1.0), fastnn.tensor(2.0, dtype=fastnn.float64)]).dtype is fastnn.float64
    with pytest.raises(RuntimeError, match="equal size"):
        fastnn.stack([fastnn.ones(2, 3), fastnn.ones(3, 2)])
    with pytest.raises(IndexError):
        fastnn.stack([fastnn.ones(2), fastnn.ones(2)], 2)


# ---- split / chunk / narrow / unbind -------------------------------------------------------------------
@pytest.mark.parametrize("size,split,expected", [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (5, 7, [5]), (1, 1, [1]),
                                                 (7, [2, 0, 5], [2, 0, 5]), (0, 2, [0]), (4, (1, 3), [1, 3])])
def test_split_sizes_and_values(size, split, expected):
    x = _arr((2, size))
    parts = fastnn.tensor(x).split(split, 1)
    assert isinstance(parts, tuple)
    assert [p.shape[1] for p in parts] == expected
    bounds = np.cumsum([0] + expected)
    for i, p in enumerate(parts):
        assert_close(p, x[:, bounds[i]:bounds[i + 1]])
    assert [p.shape for p in fastnn.split(fastnn.tensor(x), split, dim=-1)] == [p.shape for p in parts]


@pytest.mark.parametrize("size,chunks,expected", [(7, 3, [3, 3, 1]), (6, 4, [2, 2, 2]), (5, 4, [2, 2, 1]),
                                                  (2, 5, [1, 1]), (1, 3, [1]), (0, 3, [0, 0, 0]), (9, 1, [9])])
def test_chunk_matches_torch_sizes(size, chunks, expected):
    x = _arr((size, 2))
    parts = fastnn.tensor(x).chunk(chunks)
    assert isinstance(parts, tuple)
    assert [p.shape[0] for p in parts] == expected
    assert_close(fastnn.cat(parts) if size else parts[0], x)
    assert len(fastnn.chunk(fastnn.tensor(x), chunks, dim=0)) == len(expected)


def test_split_chunk_errors():
    with pytest.raises(RuntimeError, match="sum exactly to 7"):
        fastnn.ones(7).split([2, 4])
    with pytest.raises(RuntimeError, match="greater than 0"):
        fastnn.ones(7).chunk(0)
    with pytest.raises(RuntimeError, match="positive"):
        fastnn.ones(7).split(0)


def test_split_and_chunk_gradients():
    def f(t):
        a, b, c = t.split([1, 3, 2], 1)
        return (a * 2).sum(1) + (b ** 2).sum(1) - c.sum(1) * 3

    gradcheck_op(f, (3, 6))

    def g(t):
        parts = t.chunk(3, 0)
        return parts[0].sum() * parts[2].sum()

    gradcheck_op(g, (5, 2))
    # Only the pieces used receive gradient; the rest of the input gets zeros.
    t = fastnn.tensor(_arr((4, 3)), requires_grad=True)
    t.split(2)[1].sum().backward()
    assert_close(t.grad, np.array([[0.0] * 3] * 2 + [[1.0] * 3] * 2))


@pytest.mark.parametrize("dim,start,length", [(0, 0, 2), (0, 1, 3), (1, -3, 2), (1, 4, 0), (-1, 0, 5), (0, -1, 1)])
def test_narrow(dim, start, length):
    x = _arr((4, 5))
    t = fastnn.tensor(x)
    s = start % x.shape[dim] if start < 0 else start
    ref = np.take(x, np.arange(s, s + length), axis=dim)
    out = t.narrow(dim, start, length)
    assert_close(out, ref)
    assert_close(fastnn.narrow(t, dim, start, length), ref)
    if out.numel():
        assert np.shares_memory(np.asarray(out), np.asarray(t))


def test_narrow_errors_and_gradcheck():
    with pytest.raises(RuntimeError, match="exceeds dimension size"):
        fastnn.ones(3).narrow(0, 2, 2)
    with pytest.raises(IndexError, match="start out of range"):
        fastnn.ones(3).narrow(0, 4, 0)
    with pytest.raises(IndexError, match="start out of range"):
        fastnn.ones(3).narrow(0, -4, 1)
    with pytest.raises(RuntimeError):
        fastnn.ones(3).narrow(0, 0, -1)
    gradcheck_op(lambda a: a.narrow(1, 1, 2) * fastnn.tensor([[1.0, 2.0]]), (3, 4))


@pytest.mark.parametrize("shape,dim", [((2, 3), 0), ((2, 3), 1), ((2, 3, 4), -1), ((1,), 0), ((0, 3), 1)], ids=str)
def test_unbind(shape, dim):
    x = _arr(shape)
    parts = fastnn.tensor(x).unbind(dim)
    assert isinstance(parts, tuple) and len(parts) == shape[dim]
    for i, p in enumerate(parts):
        assert_close(p, np.take(x, i, axis=dim))
    assert len(fastnn.unbind(fastnn.tensor(x), dim)) == shape[dim]


def test_unbind_gradcheck():
    gradcheck_op(lambda a: sum((p * (i + 1)).sum() for i, p in enumerate(a.unbind(1))), (2, 3))


# ---- contiguous / clone --------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["transpose", "step"])
def test_contiguous(kind):
    x = _arr((3, 5))
    t = noncontiguous(x, kind)
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous()
    assert_close(c, x)
    assert c.stride() == (5, 1)
    d = fastnn.tensor(x)
    assert d.contiguous() is d  # already contiguous: the same tensor, as PyTorch


def test_contiguous_gradcheck():
    def f(a):
        return a.t().contiguous() * fastnn.tensor(np.arange(6.0).reshape(3, 2))

    gradcheck_op(f, (2, 3))


def test_clone_copies_and_is_differentiable():
    x = _arr((2, 3))
    t = fastnn.tensor(x)
    c = t.clone()
    assert_close(c, x)
    c[0, 0] = 99.0
    assert t[0, 0].item() == x[0, 0]
    nc = noncontiguous(x).clone()
    assert_close(nc, x)
    gradcheck_op(lambda a: a.clone() * 3.0, (2, 3))
    leaf = fastnn.ones(3, requires_grad=True)
    cl = leaf.clone()
    assert cl.requires_grad and cl.grad_fn is not None


def test_view_ops_chain_gradient():
    # A long chain of layout ops must route every element's gradient back to where it came from.
    x = _arr((2, 3, 4))
    w = RNG.standard_normal((4, 6))

    def f(a):
        y = a.permute(2, 0, 1).reshape(4, 6).t().unsqueeze(0).squeeze(0).transpose(0, 1)
        return (y * fastnn.tensor(w)).flatten()

    gradcheck_op(f, x)
    t = fastnn.tensor(x, requires_grad=True)
    f(t).sum().backward()
    assert_close(t.grad, w.reshape(4, 2, 3).transpose(1, 2, 0))
