"""2-D max / average pooling kernels against a float64 NumPy reference at every ISA level and 1/2
threads; the ops against gradcheck and PyTorch (NaN windows, ceil_mode, padding, dilation)."""
import numpy as np
import pytest

import fastnn
import op_helpers
from fastnn import _C

ISAS = list(_C.isa_levels())
DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-6, 1e-5), np.float64: (1e-14, 1e-12)}


@pytest.fixture(params=ISAS)
def isa(request):
    return request.param


def assert_close(actual, expected, dtype):
    atol, rtol = TOL[dtype]
    op_helpers.assert_close(actual, expected, atol, rtol)


def out_size(n, k, s, p, d, ceil):
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    return o - 1 if ceil and (o - 1) * s >= n + p else o


def reference(x, g, kind, k, s, p, d=(1, 1), ceil=False, count_include_pad=True, divisor=None):
    """(y, dx) in float64 with PyTorch's rules, looping over output positions and window taps."""
    n, c, h, w = x.shape
    oh, ow = out_size(h, k[0], s[0], p[0], d[0], ceil), out_size(w, k[1], s[1], p[1], d[1], ceil)
    x64 = x.astype(np.float64).reshape(n * c, h, w)
    g64 = g.astype(np.float64).reshape(n * c, oh, ow)
    y = np.zeros((n * c, oh, ow))
    dx = np.zeros((n * c, h, w))
    planes = np.arange(n * c)
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            taps = [(h0 + a * d[0], w0 + b * d[1]) for a in range(k[0]) for b in range(k[1])]
            valid = [(r, q) for r, q in taps if 0 <= r < h and 0 <= q < w]
            if kind == "max":
                best = np.full(n * c, -np.inf)
                arg = np.zeros((n * c, 2), int)
                for r, q in valid:
                    v = x64[:, r, q]
                    take = (v > best) | np.isnan(v)
                    best = np.where(take, v, best)
                    arg[take] = (r, q)
                y[:, i, j] = best
                np.add.at(dx, (planes, arg[:, 0], arg[:, 1]), g64[:, i, j])
            else:
                he, we = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
                div = divisor or ((he - h0) * (we - w0) if count_include_pad else len(valid))
                y[:, i, j] = sum(x64[:, r, q] for r, q in valid) / div
                for r, q in valid:
                    dx[:, r, q] += g64[:, i, j] / div
    return y.reshape(n, c, oh, ow), dx.reshape(x.shape)


# (kernel, stride, padding, dilation, ceil_mode); the first is the networks' 2x2/2 fast path
CONFIGS = [((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (2, 2), (1, 1), (1, 1), False),
           ((3, 3), (1, 1), (1, 1), (1, 1), False), ((2, 3), (1, 2), (1, 0), (2, 1), True),
           ((2, 2), (2, 2), (1, 1), (1, 1), True)]
SIZES = [(1, 1, 2, 2), (2, 3, 7, 17), (2, 2, 32, 32), (1, 3, 16, 16), (1, 2, 6, 26), (1, 2, 4, 34), (2, 1, 8, 64)]


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("config", CONFIGS)
def test_kernels_match_reference(isa, threads, nthreads, dtype, size, config):
    threads(nthreads)
    k, s, p, d, ceil = config
    if out_size(size[2], k[0], s[0], p[0], d[0], ceil) < 1 or out_size(size[3], k[1], s[1], p[1], d[1], ceil) < 1:
        pytest.skip("output would be empty")
    rng = np.random.default_rng(sum(size))
    x = (np.round(rng.standard_normal(size) * 4) / 4).astype(dtype)  # many ties: the first maximum wins
    y = _C.max_pool2d_forward(x, k, s, p, d, ceil, isa=isa)
    g = rng.standard_normal(y.shape).astype(dtype)
    ry, rdx = reference(x, g, "max", k, s, p, d, ceil)
    assert_close(y, ry, dtype)
    assert_close(_C.max_pool2d_backward(x, g, k, s, p, d, ceil, isa=isa), rdx, dtype)
    if d == (1, 1):
        for cip, div in ((True, None), (False, None), (True, 3)):
            y = _C.avg_pool2d_forward(x, k, s, p, ceil, cip, div, isa=isa)
            ry, rdx = reference(x, g, "avg", k, s, p, d, ceil, cip, div)
            assert_close(y, ry, dtype)
            assert_close(_C.avg_pool2d_backward(g, x.shape, k, s, p, ceil, cip, div, isa=isa), rdx, dtype)


@pytest.mark.parametrize("config", CONFIGS[:2])
def test_max_nan_windows_match_reference(isa, config):
    k, s, p, d, ceil = config
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 8, 32)).astype(np.float32)
    x[0, 0, 0, 1] = np.nan
    x[0, 1, 2:4, 4:6] = np.nan  # a window of NaNs: the last one wins, as in PyTorch
    x[1, 1, 5, 7] = np.inf
    y = _C.max_pool2d_forward(x, k, s, p, d, ceil, isa=isa)
    g = rng.standard_normal(y.shape).astype(np.float32)
    ry, rdx = reference(x, g, "max", k, s, p, d, ceil)
    assert_close(y, ry, np.float32)
    assert_close(_C.max_pool2d_backward(x, g, k, s, p, d, ceil, isa=isa), rdx, np.float32)


def test_bitwise_deterministic_across_threads(threads):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)
    out = {}
    for n in (1, 2):
        threads(n)
        runs = []
        for k, s, p, d, ceil in CONFIGS[:2]:
            y = _C.max_pool2d_forward(x, k, s, p, d, ceil)
            runs += [y, _C.max_pool2d_backward(x, y, k, s, p, d, ceil)]
            a = _C.avg_pool2d_forward(x, k, s, p, ceil)
            runs += [a, _C.avg_pool2d_backward(a, x.shape, k, s, p, ceil)]
        out[n] = runs
    assert all(np.array_equal(a, b) for a, b in zip(out[1], out[2]))


def test_kernel_bad_input():
    x = np.zeros((1, 2, 4, 4), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.max_pool2d_forward(x.astype(np.int64), (2, 2), (2, 2), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="4-D"):
        _C.max_pool2d_forward(x[0], (2, 2), (2, 2), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.max_pool2d_forward(x.transpose(0, 1, 3, 2), (2, 2), (2, 2), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="at most half"):
        _C.max_pool2d_forward(x, (2, 2), (2, 2), (2, 0), (1, 1))
    with pytest.raises(ValueError, match="positive"):
        _C.avg_pool2d_forward(x, (0, 2), (2, 2), (0, 0))
    with pytest.raises(ValueError, match="too small"):
        _C.avg_pool2d_forward(x, (5, 5), (1, 1), (0, 0))
    with pytest.raises(ValueError, match="grad_output has shape"):
        _C.max_pool2d_backward(x, np.zeros((1, 2, 3, 2), np.float32), (2, 2), (2, 2), (0, 0), (1, 1))
    with pytest.raises(ValueError, match="divisor"):
        _C.avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0), False, True, 0)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_gradcheck(op):
    rng = np.random.default_rng(3)
    x = fastnn.tensor(rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0, requires_grad=True)  # no ties
    if op == "max":
        fns = [lambda a: fastnn.max_pool2d(a, 2), lambda a: fastnn.max_pool2d(a, 3, 2, 1, ceil_mode=True)]
    else:
        fns = [lambda a: fastnn.avg_pool2d(a, 2), lambda a: fastnn.avg_pool2d(a, 3, 2, 1, count_include_pad=False)]
    for fn in fns:
        assert fastnn.autograd.gradcheck(fn, (x,))


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(4, 32, 32, 32), (4, 64, 16, 16), (3, 9, 11)])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0), ceil_mode=True)])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_matches_torch(shape, kw, op):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[::97] = np.nan
    extra = dict(dilation=(1, 2)) if op == "max" and "stride" in kw else {}
    if op == "avg" and "stride" in kw:
        extra = dict(count_include_pad=False)
    fn, tfn = (fastnn.max_pool2d, torch.nn.functional.max_pool2d) if op == "max" else (
        fastnn.avg_pool2d, torch.nn.functional.avg_pool2d)
    a = fastnn.tensor(x, requires_grad=True)
    ta = torch.tensor(x, requires_grad=True)
    out, tout = fn(a, **kw, **extra), tfn(ta, **kw, **extra)
    assert out.shape == tuple(tout.shape)
    assert_close(out.detach().numpy(), tout.detach().numpy(), np.float32)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(fastnn.tensor(g))
    tout.backward(torch.tensor(g))
    assert_close(a.grad.numpy(), ta.grad.numpy(), np.float32)


def test_pooling_op_errors():
    x = fastnn.randn(1, 2, 4, 4)
    with pytest.raises(RuntimeError, match="3D or 4D"):
        fastnn.max_pool2d(fastnn.randn(4, 4), 2)
    with pytest.raises(NotImplementedError, match="\"avg_pool2d\" not implemented for 'Int'"):
        fastnn.avg_pool2d(fastnn.tensor(np.zeros((1, 1, 2, 2), np.int32)), 2)  # torch pools int64 only
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        fastnn.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="single int, or a tuple of two ints"):
        fastnn.avg_pool2d(x, (2, 2, 2))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        fastnn.max_pool2d(x, 5)
    with pytest.raises(RuntimeError, match="greater than zero"):
        fastnn.avg_pool2d(x, 2, stride=0)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        fastnn.avg_pool2d(x, 2, divisor_override=0)
    e = fastnn.zeros(0, 2, 4, 4, requires_grad=True)
    fastnn.max_pool2d(e, 2).sum().backward()
    assert e.grad.shape == (0, 2, 4, 4)
    xs = fastnn.randn(2, 3, 8, 8).transpose(2, 3)  # non-contiguous input
    ref = reference(xs.numpy(), np.zeros((2, 3, 4, 4)), "avg", (2, 2), (2, 2), (0, 0))[0]
    assert_close(fastnn.avg_pool2d(xs, 2).numpy(), ref, np.float32)
