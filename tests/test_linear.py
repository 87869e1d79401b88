"""linear: the GEMM with a fused bias + activation epilogue, as a kernel and as an autograd op."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import _C
from fastnn.autograd import gradcheck

ISAS = list(_C.isa_levels())
_erf = np.vectorize(math.erf, otypes=[np.float64])
EPILOGUES = {"none": lambda r: r, "relu": lambda r: np.maximum(r, 0),
             "gelu": lambda r: 0.5 * r * (1 + _erf(r / math.sqrt(2)))}


def check(actual, expected, atol, rtol):
    err = np.abs(actual.astype(np.float64) - expected)
    bad = err > atol + rtol * np.abs(expected)
    assert not bad.any(), f"{int(bad.sum())} of {bad.size} mismatched, max abs err {err.max():.3g}"


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("epilogue", list(EPILOGUES))
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 17, 63), (64, 784, 256), (129, 1, 33), (3, 0, 5), (0, 4, 6),
                                   (37, 401, 70)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_matches_reference(isa, epilogue, with_bias, m, k, n, dtype):
    rng = np.random.default_rng(m + 3 * k + 7 * n)
    x = rng.standard_normal((m, k)).astype(dtype)
    w = rng.standard_normal((n, k)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype) if with_bias else None
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + (b if with_bias else 0)
    out = _C.linear(x, w, b, epilogue, isa=isa)
    assert out.shape == (m, n) and out.dtype == dtype
    tol = (1e-4 * max(1, math.sqrt(k)), 1e-4) if dtype == np.float32 else (1e-10, 1e-10)
    check(out, EPILOGUES[epilogue](ref), *tol)


@pytest.mark.parametrize("isa", ISAS)
def test_kernel_strided_operands(isa):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 60)).astype(np.float32)[::2, ::3]  # (20, 20)
    w = np.ascontiguousarray(rng.standard_normal((20, 30)).astype(np.float32).T)[::-1]  # (30, 20), reversed rows
    b = rng.standard_normal(60).astype(np.float32)[::2]
    ref = x.astype(np.float64) @ w.T.astype(np.float64) + b
    check(_C.linear(x, w, b, "relu", isa=isa), np.maximum(ref, 0), 1e-4, 1e-4)


def test_kernel_bitwise_across_threads(threads):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 500)).astype(np.float32)
    w = rng.standard_normal((700, 500)).astype(np.float32)
    b = rng.standard_normal(700).astype(np.float32)
    threads(1)
    one = _C.linear(x, w, b, "gelu")
    threads(2)
    assert np.array_equal(one, _C.linear(x, w, b, "gelu"))


class TestKernelErrors:
    def test_shape(self):
        with pytest.raises(ValueError, match=r"\(3, 4\) and \(5, 6\)"):
            _C.linear(np.ones((3, 4), np.float32), np.ones((5, 6), np.float32))

    def test_bias_length(self):
        with pytest.raises(ValueError, match="length 5"):
            _C.linear(np.ones((3, 4), np.float32), np.ones((5, 4), np.float32), np.ones(4, np.float32))

    def test_dtypes(self):
        with pytest.raises(TypeError, match="share a dtype"):
            _C.linear(np.ones((3, 4), np.float32), np.ones((5, 4), np.float64))
        with pytest.raises(TypeError, match="bias"):
            _C.linear(np.ones((3, 4), np.float32), np.ones((5, 4), np.float32), np.ones(5, np.float64))

    def test_epilogue_name(self):
        with pytest.raises(ValueError, match="unknown epilogue 'tanh'"):
            _C.linear(np.ones((3, 4), np.float32), np.ones((5, 4), np.float32), None, "tanh")


@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_op_gradcheck(activation, x_shape, with_bias):
    fastnn.manual_seed(3)
    x = fastnn.randn(*x_shape, dtype=fastnn.float64, requires_grad=True)
    w = fastnn.randn(6, 5, dtype=fastnn.float64, requires_grad=True)
    b = fastnn.randn(6, dtype=fastnn.float64, requires_grad=True) if with_bias else None
    inputs = (x, w, b) if with_bias else (x, w)
    assert gradcheck(lambda *t: fastnn.linear(*t, activation=activation) if len(t) == 3
                     else fastnn.linear(t[0], t[1], None, activation=activation), inputs)


def test_op_fused_relu_matches_unfused():
    fastnn.manual_seed(4)
    x = fastnn.randn(8, 16, requires_grad=True)
    w = fastnn.randn(12, 16, requires_grad=True)
    b = fastnn.randn(12, requires_grad=True)
    fused = fastnn.linear(x, w, b, activation="relu")
    unfused = (x @ w.T + b).relu()
    assert np.allclose(fused.detach().numpy(), unfused.detach().numpy(), atol=1e-5)
    fused.sum().backward()
    grads = [t.grad.numpy().copy() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    unfused.sum().backward()
    for g, t in zip(grads, (x, w, b)):
        assert np.allclose(g, t.grad.numpy(), atol=1e-5)


def test_op_errors():
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        fastnn.linear(fastnn.ones(2, 3), fastnn.ones(4, 5))
    with pytest.raises(RuntimeError, match="bias must have shape"):
        fastnn.linear(fastnn.ones(2, 3), fastnn.ones(4, 3), fastnn.ones(3))
    with pytest.raises(RuntimeError, match="floating dtype"):
        fastnn.linear(fastnn.ones(2, 3), fastnn.ones(4, 3, dtype=fastnn.float64))
    with pytest.raises(ValueError, match="activation"):
        fastnn.linear(fastnn.ones(2, 3), fastnn.ones(4, 3), activation="tanh")


@pytest.mark.torch
def test_op_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    xn, wn, bn = (rng.standard_normal(s).astype(np.float32) for s in ((3, 7, 32), (24, 32), (24,)))
    x, w, b = (fastnn.tensor(a, requires_grad=True) for a in (xn, wn, bn))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xn, wn, bn))
    y = fastnn.linear(x, w, b, activation="relu")
    ty = torch.nn.functional.linear(tx, tw, tb).relu()
    assert np.allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    for a, t in ((x, tx), (w, tw), (b, tb)):
        assert np.allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x_shape,w_shape", [((4, 0), (3, 0)), ((2, 3, 5), (0, 5)), ((0, 5), (3, 5))])
def test_op_empty_features_and_rows(x_shape, w_shape):
    x = fastnn.ones(*x_shape, requires_grad=True)
    w = fastnn.ones(*w_shape, requires_grad=True)
    b = fastnn.ones(w_shape[0], requires_grad=True)
    y = fastnn.linear(x, w, b)
    assert y.shape == x_shape[:-1] + (w_shape[0],)
    assert np.array_equal(y.detach().numpy(), np.ones(y.shape, np.float32) * (1 + x_shape[-1]))
    y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape and b.grad.shape == b.shape
