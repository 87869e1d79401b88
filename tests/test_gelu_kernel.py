"""The exact-GELU kernels (csrc/cpu/gelu.cpp: ``_C.gelu_forward`` / ``_C.gelu_backward``) against a float64
reference at every ISA level, bitwise equal at 1, 2 and 3 threads, refusing bad input with errors naming the
kernel; the CPU backend against the composite one; the op against torch."""
import math

import numpy as np
import pytest

import fastnn
import op_helpers
from fastnn import _C
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend

ISAS = list(_C.isa_levels())
TOL = {np.float32: (2e-7, 2e-6), np.float64: (1e-15, 1e-13)}


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def reference(x, g):
    x, g = x.astype(np.float64), g.astype(np.float64)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2))) if x.size else x
    return x * cdf, cdf, g * (cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 17), (5, 4099), (0, 3), ()])
def test_kernels_match_reference(isa, dtype, shape):
    rng = np.random.default_rng(len(shape) * 10 + sum(shape))
    x = np.asarray((rng.standard_normal(shape) * 4).astype(dtype))
    if x.size > 4:
        x.flat[:4] = [0.0, -40.0, 40.0, -9.0]  # cdf 1/2, an underflowing exp, saturation, the far tail
    g = np.asarray(rng.standard_normal(shape).astype(dtype))
    y, cdf = _C.gelu_forward(x, isa=isa)
    dx = _C.gelu_backward(g, x, cdf, isa=isa)
    ry, rc, rdx = reference(x, g)
    atol, rtol = TOL[dtype]
    for got, want in ((y, ry), (cdf, rc), (dx, rdx)):
        assert got.dtype == dtype and got.shape == shape and np.isfinite(got).all()
        op_helpers.assert_close(got, want, atol, rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_equal_across_thread_counts(threads, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(1_000_003) * 3).astype(dtype)
    g = rng.standard_normal(x.size).astype(dtype)
    outs = []
    for nt in (1, 2, 3):
        threads(nt)
        y, cdf = _C.gelu_forward(x)
        outs.append((y, cdf, _C.gelu_backward(g, x, cdf)))
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)


def test_bad_input_raises_naming_the_kernel():
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match="gelu_forward: expected x to be float32 or float64, got int64"):
        _C.gelu_forward(np.ones(4, np.int64))
    with pytest.raises(ValueError, match="gelu_forward: expected x .* to be C-contiguous"):
        _C.gelu_forward(np.ones((4, 4), np.float32).T)
    with pytest.raises(TypeError, match="gelu_backward: expected grad_output to have dtype float32"):
        _C.gelu_backward(x.astype(np.float64), x, x)
    with pytest.raises(ValueError, match=r"gelu_backward: cdf has shape \(3,\) but x has shape \(4,\)"):
        _C.gelu_backward(x, x, x[:3])


def test_cpu_backend_matches_composite():
    cpu, comp = CpuBackend(fastnn.device("cpu")), CompositeBackend(fastnn.device("cpu"))
    rng = np.random.default_rng(2)
    for dtype, tol in ((np.float32, 1e-6), (np.float64, 1e-14)):
        x = (rng.standard_normal((6, 33)) * 3).astype(dtype)[:, ::2]  # non-contiguous: the twin copies
        g = rng.standard_normal(x.shape).astype(dtype)
        (y1, c1), (y2, c2) = cpu.gelu_forward(x), comp.gelu_forward(x)
        np.testing.assert_allclose(y1, y2, rtol=tol, atol=tol)
        np.testing.assert_allclose(cpu.gelu_backward(g, x, c1), comp.gelu_backward(g, x, c2), rtol=tol, atol=tol)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_op_matches_torch(dtype):
    t = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 37)) * 3).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    res = []
    for lib in (fastnn, t):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.gelu(xt)
        y.backward(lib.tensor(g))
        res.append((y.detach().numpy(), xt.grad.numpy()))
    tol = 1e-6 if dtype == "float32" else 1e-12
    for ours, theirs in zip(*res):
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)
