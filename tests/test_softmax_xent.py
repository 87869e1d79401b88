"""The vector exp, softmax / log_softmax and the fused softmax + cross-entropy kernels against float64
NumPy references, at every ISA level and 1/2 threads; the autograd ops against gradcheck and PyTorch."""
import numpy as np
import pytest

import fastnn
import op_helpers
from fastnn import _C

ISAS = list(_C.isa_levels())
DTYPES = [np.float32, np.float64]
TOL = {np.float32: (2e-6, 2e-5), np.float64: (1e-13, 1e-11)}
SHAPES = [(1, 1), (7, 17), (17, 63), (5, 129), (33, 1000), (3, 7), (0, 5), (4, 0)]


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def assert_close(actual, expected, dtype, scale=1.0):
    atol, rtol = TOL[dtype]
    op_helpers.assert_close(actual, expected, atol * scale, rtol)


def ref_log_softmax(x):
    x = x.astype(np.float64)
    m = np.max(x, axis=-1, keepdims=True) if x.shape[-1] else np.zeros(x.shape[:-1] + (1,))
    with np.errstate(invalid="ignore", divide="ignore"):
        return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def ref_cross_entropy(x, t, ignore_index=-100, ls=0.0):
    """Per-row losses, logsumexps and d(sum loss)/dx in float64."""
    logp = ref_log_softmax(x)
    n, c = x.shape
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    nll = -logp[np.arange(n), tt]
    loss = np.where(keep, (1 - ls) * nll - ls / c * logp.sum(axis=1), 0.0)
    lse = np.where(keep, (x.astype(np.float64) - logp)[:, 0] if c else 0.0, 0.0)
    onehot = np.zeros((n, c))
    onehot[np.arange(n)[keep], tt[keep]] = 1.0
    grad = np.where(keep[:, None], np.exp(logp) - (1 - ls) * onehot - ls / c, 0.0)
    return loss, lse, grad


# ---- the vector exp ---------------------------------------------------------------------------------

def ulps(actual, exact, dtype):
    """|actual - exact| in units of the last place of exact rounded to dtype (subnormal spacing included)."""
    spacing = np.spacing(np.abs(exact.astype(dtype))).astype(np.float64)
    return np.abs(actual.astype(np.float64) - exact) / spacing


def test_exp_float32_within_2_ulp(isa):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-104, 88.72, 400_000), rng.uniform(-1, 1, 50_000),
                        np.linspace(-103.9, -87.0, 20_000),  # subnormal results
                        np.linspace(88.0, 88.72, 1000)]).astype(np.float32)
    exact = np.exp(x.astype(np.float64))
    err = ulps(_C.vector_exp(x, isa=isa), exact, np.float32)
    assert err.max() <= 2.0, f"max {err.max():.3f} ulp at x={x[np.argmax(err)]!r}"


def test_exp_float64_within_2_ulp(isa):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-745, 709.7, 200_000), rng.uniform(-1, 1, 20_000), np.linspace(-745, -708, 5000)])
    err = ulps(_C.vector_exp(x, isa=isa), np.exp(x), np.float64)  # NumPy's float64 exp is within 1 ulp
    assert err.max() <= 2.0, f"max {err.max():.3f} ulp at x={x[np.argmax(err)]!r}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_special_values(isa, dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 88.73, 89.0, 709.8, -104.0, -746.0, 1.0], dtype)
    with np.errstate(over="ignore"):
        expected = np.exp(x)
    got = _C.vector_exp(x, isa=isa)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    special = ~np.isfinite(expected) | (expected == 0) | (x == 0)
    assert np.array_equal(got[special & ~np.isnan(got)], expected[special & ~np.isnan(expected)])
    # odd lengths exercise the vector tail (masked loads and stores)
    y = np.arange(19, dtype=dtype) - 9
    assert np.array_equal(_C.vector_exp(y, isa=isa)[:-1], _C.vector_exp(y[:-1], isa=isa))


# ---- softmax / log_softmax kernels --------------------------------------------------------------------

@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,cols", SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_kernels(isa, threads, nthreads, dtype, rows, cols, log):
    threads(nthreads)
    rng = np.random.default_rng(rows * 1000 + cols)
    x = (3 * rng.standard_normal((rows, cols))).astype(dtype)
    ref = ref_log_softmax(x)
    ref = ref if log else np.exp(ref)
    y = _C.softmax_forward(x, log, isa=isa)
    assert y.dtype == dtype
    assert_close(y, ref, dtype, scale=10 if log else 1)
    g = rng.standard_normal((rows, cols)).astype(dtype)
    p = np.exp(ref_log_softmax(x))
    gref = g - p * g.sum(-1, keepdims=True) if log else p * (g - (g * p).sum(-1, keepdims=True))
    assert_close(_C.softmax_backward(y, g, log, isa=isa), gref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_strided_rows_and_extremes(isa, dtype):
    rng = np.random.default_rng(7)
    big = rng.standard_normal((40, 150)).astype(dtype) * 5
    x = big[::2, 3:132]  # row stride 300 elements, rows of 129
    assert_close(_C.softmax_forward(x, True, isa=isa), ref_log_softmax(x), dtype, scale=10)
    x = np.ascontiguousarray(x)
    x[0, :50] = -np.inf  # masked logits: exp must give exact zeros, fast (no subnormal stalls)
    x[1] *= 1e4  # spread beyond exp's normal range
    x[2, 5] = np.nan
    x[3, :] = -np.inf  # a fully masked row is NaN, as in PyTorch
    y = _C.softmax_forward(x, False, isa=isa)
    with np.errstate(invalid="ignore"):
        ref = np.exp(ref_log_softmax(x))
    assert (y[0, :50] == 0).all()
    assert np.isnan(y[2]).all() and np.isnan(y[3]).all()
    assert_close(y[[0, 1, 4]], ref[[0, 1, 4]], dtype)


def test_softmax_bitwise_deterministic_across_threads(threads):
    x = np.random.default_rng(3).standard_normal((700, 1000)).astype(np.float32)
    out = {}
    for n in (1, 2):
        threads(n)
        out[n] = (_C.softmax_forward(x, False), _C.softmax_forward(x, True))
    assert all(np.array_equal(a, b) for a, b in zip(out[1], out[2]))


# ---- fused cross-entropy kernels ---------------------------------------------------------------------

@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,cols", [(1, 1), (7, 17), (17, 63), (5, 129), (64, 1000), (0, 5)])
@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_cross_entropy_kernels(isa, threads, nthreads, dtype, rows, cols, ls):
    threads(nthreads)
    rng = np.random.default_rng(rows + cols)
    x = (2 * rng.standard_normal((rows, cols))).astype(dtype)
    t = rng.integers(0, cols, rows)
    t[::3] = -100
    loss, lse = _C.cross_entropy_forward(x, t, -100, ls, isa=isa)
    rloss, rlse, rgrad = ref_cross_entropy(x, t, -100, ls)
    assert_close(loss, rloss, dtype, scale=10)
    assert_close(lse, rlse, dtype, scale=10)
    scale = rng.standard_normal(rows).astype(dtype)
    g = _C.cross_entropy_backward(x, t, lse, scale, 0.5, -100, ls, isa=isa)
    assert_close(g, 0.5 * scale[:, None] * rgrad, dtype)
    g = _C.cross_entropy_backward(x, t, lse, None, 0.25, -100, ls, isa=isa)
    assert_close(g, 0.25 * rgrad, dtype)
    assert (g[t == -100] == 0).all()


def test_cross_entropy_bitwise_deterministic_across_threads(threads):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((600, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 600)
    out = {}
    for n in (1, 2):
        threads(n)
        loss, lse = _C.cross_entropy_forward(x, t, -100, 0.1)
        out[n] = (loss, lse, _C.cross_entropy_backward(x, t, lse, None, 1 / 600, -100, 0.1))
    assert all(np.array_equal(a, b) for a, b in zip(out[1], out[2]))


def test_kernel_bad_input():
    x = np.zeros((4, 5), np.float32)
    t = np.array([0, 1, 2, 3])
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        _C.cross_entropy_forward(x, np.array([0, 5, 1, 1]))
    with pytest.raises(IndexError, match="Target -1"):
        _C.cross_entropy_forward(x, np.array([0, -1, 1, 1]))
    with pytest.raises(TypeError, match="int64"):
        _C.cross_entropy_forward(x, t.astype(np.int32))
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.cross_entropy_forward(x.astype(np.int64), t)
    with pytest.raises(ValueError, match=r"target of shape \(4,\)"):
        _C.cross_entropy_forward(x, t[:3])
    with pytest.raises(ValueError, match="2-D"):
        _C.cross_entropy_forward(x[None], t)
    with pytest.raises(ValueError, match="contiguous rows"):
        _C.softmax_forward(np.zeros((5, 4), np.float32).T)
    with pytest.raises(ValueError, match="lse"):
        _C.cross_entropy_backward(x, t, np.zeros(3, np.float32), None, 1.0)
    with pytest.raises(TypeError, match="grad_output"):
        _C.softmax_backward(x, x.astype(np.float64))
    with pytest.raises(ValueError, match="label_smoothing"):
        _C.cross_entropy_forward(x, t, -100, 1.5)


# ---- autograd ops --------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_gradcheck(reduction, ls):
    rng = np.random.default_rng(5)
    x = fastnn.tensor(rng.standard_normal((5, 7)), requires_grad=True)
    t = fastnn.tensor(np.array([0, 6, -100, 3, 3]))
    assert fastnn.autograd.gradcheck(
        lambda a: fastnn.cross_entropy(a, t, reduction=reduction, label_smoothing=ls), (x,))
    x4 = fastnn.tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)  # (N, C, d1, d2)
    t4 = fastnn.tensor(rng.integers(0, 3, (2, 2, 2)))
    assert fastnn.autograd.gradcheck(lambda a: fastnn.cross_entropy(a, t4, reduction=reduction), (x4,))


@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_ops_gradcheck(dim):
    x = fastnn.tensor(np.random.default_rng(6).standard_normal((4, 6)), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a: fastnn.softmax(a, dim), (x,))
    assert fastnn.autograd.gradcheck(lambda a: fastnn.log_softmax(a, dim), (x,))


def test_probability_targets_gradcheck():
    rng = np.random.default_rng(8)
    x = fastnn.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    p = fastnn.tensor(rng.dirichlet(np.ones(4), 3), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a, b: fastnn.cross_entropy(a, b, label_smoothing=0.1), (x, p))


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 5), (5,), (3, 4, 2, 3)])
@pytest.mark.parametrize("ls", [0.0, 0.3])
def test_cross_entropy_matches_torch(reduction, shape, ls):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    x = rng.standard_normal(shape).astype(np.float32)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, shape[1 if len(shape) > 1 else 0], tshape)
    if t.ndim:
        t.reshape(-1)[::4] = 7  # a custom ignore_index
    a = fastnn.tensor(x, requires_grad=True)
    out = fastnn.cross_entropy(a, fastnn.tensor(t), reduction=reduction, ignore_index=7, label_smoothing=ls)
    ta = torch.tensor(x, requires_grad=True)
    tout = F.cross_entropy(ta, torch.tensor(t), reduction=reduction, ignore_index=7, label_smoothing=ls)
    assert out.shape == tuple(tout.shape)
    assert_close(out.detach().numpy(), tout.detach().numpy(), np.float32, scale=10)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(fastnn.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(a.grad.numpy(), ta.grad.numpy(), np.float32)


@pytest.mark.torch
def test_cross_entropy_all_ignored_and_prob_targets_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(10).standard_normal((3, 4)).astype(np.float32)
    t = np.full(3, -100)
    out = fastnn.cross_entropy(fastnn.tensor(x), fastnn.tensor(t))
    assert np.isnan(out.item()) and np.isnan(F.cross_entropy(torch.tensor(x), torch.tensor(t)).item())
    p = np.random.default_rng(11).dirichlet(np.ones(4), 3).astype(np.float32)
    for red in ("mean", "sum", "none"):
        ours = fastnn.cross_entropy(fastnn.tensor(x), fastnn.tensor(p), reduction=red, label_smoothing=0.1)
        theirs = F.cross_entropy(torch.tensor(x), torch.tensor(p), reduction=red, label_smoothing=0.1)
        assert_close(ours.numpy(), theirs.numpy(), np.float32)


@pytest.mark.torch
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_ops_match_torch(fn):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(12).standard_normal((3, 5, 37)).astype(np.float32)[:, ::2]  # strided rows
    a = fastnn.tensor(x, requires_grad=True)
    out = getattr(fastnn, fn)(a, -1)
    ta = torch.tensor(x, requires_grad=True)
    tout = getattr(torch, fn)(ta, -1)
    assert_close(out.detach().numpy(), tout.detach().numpy(), np.float32, scale=10)
    g = np.random.default_rng(13).standard_normal(out.shape).astype(np.float32)
    out.backward(fastnn.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(a.grad.numpy(), ta.grad.numpy(), np.float32)


def test_cross_entropy_op_errors():
    x = fastnn.randn(4, 5)
    with pytest.raises(IndexError, match="out of bounds"):
        fastnn.cross_entropy(x, fastnn.tensor([0, 1, 5, 2]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(3\)"):
        fastnn.cross_entropy(x, fastnn.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="int64"):
        fastnn.cross_entropy(x, fastnn.tensor([True, False, True, True]))
    with pytest.raises(TypeError, match="float32 or float64"):
        fastnn.cross_entropy(fastnn.tensor([[1, 2]]), fastnn.tensor([0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        fastnn.cross_entropy(x, fastnn.tensor([0, 1, 2, 3]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        fastnn.cross_entropy(x, fastnn.tensor([0, 1, 2, 3]), label_smoothing=-0.1)
    with pytest.raises(RuntimeError, match="multi-target not supported"):  # torch's text: float, not x's shape
        fastnn.cross_entropy(x, fastnn.randn(4, 4))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float"):
        fastnn.cross_entropy(x, fastnn.randn(4))
    with pytest.raises(ValueError, match="does not match input"):
        fastnn.cross_entropy(fastnn.randn(4, 5, 3), fastnn.tensor(np.zeros((4, 2), np.int64)))
