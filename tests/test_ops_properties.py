"""Hypothesis properties: element-wise and binary ops, reductions and matmul agree with NumPy over shapes with
0, 1 and odd sizes, float32 and float64, and contiguous or strided (transposed, stepped, reversed) inputs."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
from op_helpers import assert_close

SETTINGS = settings(max_examples=50, deadline=None)
SIDES = st.sampled_from([0, 1, 2, 3, 5, 7])
SHAPES = st.lists(SIDES, min_size=0, max_size=3).map(tuple)
DTYPES = st.sampled_from([fastnn.float32, fastnn.float64])
LAYOUTS = st.sampled_from(["contiguous", "permuted", "stepped", "reversed", "numpy view"])


def _values(draw, shape, dtype, low=-5.0, high=5.0):
    width = 32 if dtype is fastnn.float32 else 64
    if width == 32:  # bounds must be float32-representable
        low, high = float(np.nextafter(np.float32(low), np.float32(np.inf))), float(np.float32(high))
    return draw(hnp.arrays(dtype.np, shape, elements=st.floats(low, high, width=width)))


def _layout(x: np.ndarray, layout: str):
    """A fastnn tensor equal to x, laid out as requested; the strided ones come from fastnn view ops over a
    bigger or permuted buffer, or from fastnn.from_numpy of a strided NumPy view."""
    if x.ndim == 0 or layout == "contiguous":
        return fastnn.tensor(x)
    if layout == "permuted":
        rev = tuple(reversed(range(x.ndim)))
        return fastnn.from_numpy(np.ascontiguousarray(x.transpose(rev))).permute(rev)
    if layout == "stepped":
        big = np.zeros(x.shape[:-1] + (2 * x.shape[-1] + 1,), x.dtype)
        big[..., 1::2] = x
        return fastnn.from_numpy(big)[..., 1::2]
    if layout == "reversed":
        return fastnn.from_numpy(np.ascontiguousarray(x[..., ::-1]))[..., ::-1]
    big = np.zeros(x.shape + (3,), x.dtype)
    big[..., 1] = x
    return fastnn.from_numpy(big[..., 1])  # every element 3 apart: a strided NumPy view


@st.composite
def tensor_inputs(draw, shape=None, low=-5.0, high=5.0):
    dtype = draw(DTYPES)
    shape = draw(SHAPES) if shape is None else shape
    x = _values(draw, shape, dtype, low, high)
    t = _layout(x, draw(LAYOUTS))
    return t, x


def test_layouts_are_what_they_claim():
    x = np.arange(24.0).reshape(2, 3, 4)
    for layout in ["permuted", "stepped", "reversed", "numpy view"]:
        t = _layout(x, layout)
        assert_close(t, x)
        assert not t.is_contiguous(), layout


UNARY = {
    "neg": (lambda t: -t, np.negative, (-5, 5)),
    "abs": (fastnn.abs, np.abs, (-5, 5)),
    "exp": (fastnn.exp, np.exp, (-5, 5)),
    "log": (fastnn.log, np.log, (0.01, 5)),
    "sqrt": (fastnn.sqrt, np.sqrt, (0, 5)),
    "relu": (fastnn.relu, lambda x: np.maximum(x, 0), (-5, 5)),
    "tanh": (fastnn.tanh, np.tanh, (-5, 5)),
    "sigmoid": (fastnn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-5, 5)),
    "square": (lambda t: t * t, np.square, (-5, 5)),
    "clamp": (lambda t: t.clamp(-1.0, 2.0), lambda x: np.clip(x, -1, 2), (-5, 5)),
}


@SETTINGS
@given(name=st.sampled_from(sorted(UNARY)), data=st.data())
def test_unary_ops_match_numpy(name, data):
    fn, ref, (lo, hi) = UNARY[name]
    t, x = data.draw(tensor_inputs(low=lo, high=hi))
    out = fn(t)
    assert out.dtype is t.dtype and out.shape == x.shape
    assert_close(out, ref(x.astype(np.float64)))


BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (fastnn.maximum, np.maximum),
    "minimum": (fastnn.minimum, np.minimum),
    "lt": (lambda a, b: a < b, np.less),
    "ge": (lambda a, b: a >= b, np.greater_equal),
}


@SETTINGS
@given(name=st.sampled_from(sorted(BINARY)),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0, max_side=7),
       data=st.data())
def test_binary_ops_broadcast_like_numpy(name, shapes, data):
    fn, ref = BINARY[name]
    sa, sb = shapes.input_shapes
    a, xa = data.draw(tensor_inputs(shape=sa))
    b, xb = data.draw(tensor_inputs(shape=sb, low=0.5, high=5.0))  # divisor away from 0
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    expected = ref(xa.astype(np.float64), xb.astype(np.float64))
    if out.dtype is fastnn.bool:
        # Compare exactly, in the dtype the comparison promotes to (a 0-d operand does not widen).
        dt = np.result_type(xa.dtype, xb.dtype) if (xa.ndim == 0) == (xb.ndim == 0) else \
            (xb if xa.ndim == 0 else xa).dtype
        assert_close(out, ref(xa.astype(dt), xb.astype(dt)))
    else:
        # PyTorch's rule: a 0-d operand beside one with dims does not widen float32 to float64.
        wide = np.result_type(xa.dtype, xb.dtype)
        assert out.dtype.np == (wide if (xa.ndim == 0) == (xb.ndim == 0) else (xb if xa.ndim == 0 else xa).dtype)
        assert_close(out, expected)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=1, max_side=5), data=st.data())
def test_broadcast_mul_gradients_reduce_to_operand_shapes(shapes, data):
    sa, sb = shapes.input_shapes
    xa = _values(data.draw, sa, fastnn.float64)
    xb = _values(data.draw, sb, fastnn.float64)
    g = _values(data.draw, shapes.result_shape, fastnn.float64)
    a = fastnn.tensor(xa, requires_grad=True)
    b = fastnn.tensor(xb, requires_grad=True)
    (a * b).backward(fastnn.tensor(g))

    def reduce(grad, shape):
        grad = grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad
        return grad.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True).reshape(shape)

    assert a.grad.shape == sa and b.grad.shape == sb
    assert_close(a.grad, reduce(g * xb, sa))
    assert_close(b.grad, reduce(g * xa, sb))


@st.composite
def reduction_dims(draw, ndim):
    if ndim == 0:
        return draw(st.sampled_from([None, 0, -1]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


def _axes(dim, ndim):
    if dim is None or ndim == 0:
        return None
    return tuple(d % ndim for d in (dim if isinstance(dim, tuple) else (dim,)))


@SETTINGS
@given(name=st.sampled_from(["sum", "mean", "amax", "amin", "var", "logsumexp", "prod"]), data=st.data())
def test_reductions_match_numpy(name, data):
    t, x = data.draw(tensor_inputs(low=-2.0, high=2.0))
    dim = data.draw(reduction_dims(x.ndim))
    keepdim = data.draw(st.booleans())
    axis = _axes(dim, x.ndim)
    x64 = x.astype(np.float64)
    n_reduced = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
    kw = {} if dim is None else {"dim": dim}
    if name in ("amax", "amin") and x.size == 0 and (axis is None or any(x.shape[a] == 0 for a in axis)):
        with pytest.raises((RuntimeError, IndexError)):
            getattr(t, name)(**kw, keepdim=keepdim)
        return
    if name == "logsumexp":
        if dim is None:
            dim = tuple(range(x.ndim))
        out = fastnn.logsumexp(t, dim, keepdim)
        with np.errstate(divide="ignore"):
            ref = np.log(np.sum(np.exp(x64), axis=_axes(dim, x.ndim) if x.ndim else None, keepdims=keepdim))
    elif name == "var":
        out = t.var(**kw, keepdim=keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = np.sum((x64 - x64.mean(axis=axis, keepdims=True)) ** 2 if x.size else x64, axis=axis,
                         keepdims=keepdim) / max(n_reduced - 1, 0)
    else:
        npfn = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min, "prod": np.prod}[name]
        out = getattr(t, name)(**kw, keepdim=keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = npfn(x64, axis=axis, keepdims=keepdim) if name != "mean" or n_reduced else \
                np.full(np.sum(x64, axis=axis, keepdims=keepdim).shape, np.nan)
    ref = np.asarray(ref)
    assert out.shape == ref.shape and out.dtype is t.dtype
    eps = np.finfo(x.dtype).eps
    if name == "prod":  # each multiplication adds one rounding of relative size eps
        assert_close(out, ref, atol=1e-30, rtol=2 * eps * max(n_reduced, 1))
        return
    # Sums round per addition: scale the tolerance by the magnitude summed, not by the (maybe cancelled) result.
    scale = float(np.sum(np.abs(x64) ** (2 if name == "var" else 1))) if x.size else 0.0
    assert_close(out, ref, atol=16 * eps * max(scale, 1.0), rtol=16 * eps)


@SETTINGS
@given(shape=st.lists(SIDES, min_size=1, max_size=3).map(tuple), data=st.data())
def test_max_min_with_dim_match_numpy(shape, data):
    t, x = data.draw(tensor_inputs(shape=shape))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    keepdim = data.draw(st.booleans())
    if x.shape[dim] == 0:
        with pytest.raises(IndexError):
            t.max(dim)
        return
    for name, npv, npi in (("max", np.max, np.argmax), ("min", np.min, np.argmin)):
        values, indices = getattr(t, name)(dim, keepdim=keepdim)
        assert_close(values, npv(x, axis=dim, keepdims=keepdim))
        # Ties (hypothesis loves them) must resolve to the first index, as NumPy and PyTorch's CPU kernels do.
        assert_close(indices, npi(x, axis=dim, keepdims=keepdim))


MM_SIDES = st.sampled_from([0, 1, 2, 3, 5, 7, 17])


@SETTINGS
@given(m=MM_SIDES, k=MM_SIDES, n=MM_SIDES, batch=st.sampled_from([(), (1,), (3,), (2, 1), (1, 3)]),
       batch_b=st.sampled_from(["same", "none", "ones", "prepend"]), swap=st.booleans(),
       vec=st.sampled_from(["", "a", "b"]), dtype=DTYPES, la=LAYOUTS, lb=LAYOUTS, data=st.data())
def test_matmul_matches_numpy(m, k, n, batch, batch_b, swap, vec, dtype, la, lb, data):
    other = {"same": batch, "none": (), "ones": tuple(1 for _ in batch), "prepend": (2,) + batch}[batch_b]
    ba, bb = (other, batch) if swap else (batch, other)
    sa = (k,) if vec == "a" else ba + (m, k)
    sb = (k,) if vec == "b" else bb + (k, n)
    xa = _values(data.draw, sa, dtype, -2, 2)
    xb = _values(data.draw, sb, dtype, -2, 2)
    a, b = _layout(xa, la), _layout(xb, lb)
    out = a @ b
    ref = np.matmul(xa.astype(np.float64), xb.astype(np.float64))
    assert out.shape == ref.shape and out.dtype is dtype
    eps = np.finfo(dtype.np).eps
    # Each of the k products is at most 4 in size; the rounding error of a k-term dot product is below k eps max|term|.
    assert_close(out, ref, atol=4 * eps * 4 * max(k, 1), rtol=8 * eps)
