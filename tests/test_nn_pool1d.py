"""1-D pooling (max_pool1d, avg_pool1d, adaptive_avg_pool1d, adaptive_max_pool1d), adaptive_max_pool2d, lp_pool1d/2d
and their modules against torch 2.13: values, indices, input gradients, repr, errors; float64 gradcheck; odd,
size-1, zero-batch and non-contiguous inputs."""
import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from nn_parity import assert_matches
from op_helpers import assert_close, distinct_values, gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional


def _check(fo, ft, x, seed=0):
    """Values (and indices when a pair comes back) and the input gradient of fo against ft on x."""
    xo, xt = fastnn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ro, rt = fo(xo), ft(xt)
    if isinstance(rt, tuple):
        assert_close(ro[1], rt[1].numpy(), msg="indices")
        assert ro[1].dtype == fastnn.int64
        ro, rt = ro[0], rt[0]
    assert ro.shape == tuple(rt.shape)
    assert_matches(ro, rt, "forward")
    g = np.random.default_rng(seed).standard_normal(tuple(rt.shape)).astype(x.dtype)
    ro.backward(fastnn.tensor(g))
    rt.backward(torch.tensor(g))
    assert_matches(xo.grad, xt.grad, "input grad")


POOL1D = [
    ("max_pool1d", dict(kernel_size=3)),
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True)),
    ("max_pool1d", dict(kernel_size=2, stride=1, return_indices=True)),
    ("avg_pool1d", dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool1d", dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    ("adaptive_avg_pool1d", dict(output_size=4)),
    ("adaptive_avg_pool1d", dict(output_size=3)),
    ("adaptive_max_pool1d", dict(output_size=4, return_indices=True)),
    ("adaptive_max_pool1d", dict(output_size=9)),
    ("lp_pool1d", dict(norm_type=2, kernel_size=3, stride=2)),
    ("lp_pool1d", dict(norm_type=3, kernel_size=2, ceil_mode=True)),
]


@pytest.mark.parametrize("name,kw", POOL1D, ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 7), (1, 1, 1 + 8), (0, 2, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pool1d_matches_torch(name, kw, shape, dtype):
    x = distinct_values(shape, np.random.default_rng(0), gap=0.1).astype(dtype)
    if name == "lp_pool1d":
        x = np.abs(x) + 0.5  # a fractional power of a negative window sum is NaN in both
    if shape[0] == 0 and name.startswith("adaptive_max"):
        pytest.skip("empty batch: covered below")
    _check(lambda t: getattr(F, name)(t, **kw), lambda t: getattr(TF, name)(t, **kw), x)


@pytest.mark.parametrize("out", [3, (2, 4), (5, None), (1, 1), (7, 6)])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 5, 5)])
def test_adaptive_max_pool2d_matches_torch(out, shape):
    x = distinct_values(shape, np.random.default_rng(1))
    _check(lambda t: F.adaptive_max_pool2d(t, out, return_indices=True),
           lambda t: TF.adaptive_max_pool2d(t, out, return_indices=True), x)
    _check(lambda t: F.adaptive_max_pool2d(t, out), lambda t: TF.adaptive_max_pool2d(t, out), x.astype(np.float32))


def test_lp_pool2d_and_ties_nan():
    x = np.abs(np.random.default_rng(2).standard_normal((2, 3, 7, 6))) + 0.1
    _check(lambda t: F.lp_pool2d(t, 2, (3, 2), stride=2), lambda t: TF.lp_pool2d(t, 2, (3, 2), stride=2), x)
    # ties keep the first maximum; NaN wins the window
    x = np.array([[[1.0, 3.0, 3.0, 2.0, np.nan, 0.0, 5.0]]])
    ours, theirs = F.adaptive_max_pool1d(fastnn.tensor(x), 3, True), TF.adaptive_max_pool1d(torch.tensor(x), 3, True)
    assert_close(ours[0], theirs[0].numpy())
    assert_close(ours[1], theirs[1].numpy())


def test_noncontiguous_and_empty():
    x = distinct_values((2, 9, 3), np.random.default_rng(3))
    xo, xt = fastnn.tensor(x).transpose(1, 2), torch.tensor(x).transpose(1, 2)
    assert not xo.is_contiguous()
    assert_matches(F.max_pool1d(xo, 2), TF.max_pool1d(xt, 2), "max")
    assert_matches(F.avg_pool1d(xo, 3, 1, 1), TF.avg_pool1d(xt, 3, 1, 1), "avg")
    assert_matches(F.adaptive_max_pool1d(xo, 4), TF.adaptive_max_pool1d(xt, 4), "adaptive max")
    z = fastnn.zeros(0, 3, 5, 4, requires_grad=True)
    y = F.adaptive_max_pool2d(z, 2)
    assert y.shape == (0, 3, 2, 2)
    y.sum().backward()
    assert z.grad.shape == (0, 3, 5, 4)
    assert F.adaptive_max_pool2d(fastnn.randn(2, 3, 4, 4), (0, 2)).shape == (2, 3, 0, 2)


def test_gradcheck_float64():
    rng = np.random.default_rng(4)
    gradcheck_op(lambda x: F.max_pool1d(x, 3, 2, 1), distinct_values((2, 2, 7), rng))
    gradcheck_op(lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False), (2, 2, 7))
    gradcheck_op(lambda x: F.adaptive_avg_pool1d(x, 3), (2, 7))
    gradcheck_op(lambda x: F.adaptive_max_pool1d(x, 3), distinct_values((2, 2, 7), rng))
    gradcheck_op(lambda x: F.adaptive_max_pool2d(x, (2, 3)), distinct_values((1, 2, 5, 7), rng))
    gradcheck_op(lambda x: F.lp_pool1d(x, 2, 2), (2, 6), low=0.5, high=2.0)


MODULES = [("MaxPool1d", (3,), {}), ("MaxPool1d", (2,), dict(stride=1, return_indices=True)),
           ("AvgPool1d", (3,), dict(stride=2, padding=1)), ("AdaptiveAvgPool1d", (4,), {}),
           ("AdaptiveMaxPool1d", (3,), dict(return_indices=True)), ("AdaptiveMaxPool2d", ((3, None),), {}),
           ("AdaptiveMaxPool2d", (2,), dict(return_indices=True)), ("LPPool1d", (2, 3), {}),
           ("LPPool2d", (2, (2, 3)), dict(stride=1))]


@pytest.mark.parametrize("name,args,kw", MODULES, ids=lambda v: v if isinstance(v, str) else None)
def test_modules_match_torch(name, args, kw):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 6, 7) if name.endswith("2d") else (2, 3, 8)
    x = np.abs(distinct_values(shape, np.random.default_rng(5))) + 0.1
    _check(ours, theirs, x)


def test_errors_match_torch():
    x = fastnn.randn(2, 3, 7)
    with pytest.raises(RuntimeError, match=r"max_pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim "
                                           r"batch size for input, but got:\[7\]"):
        F.max_pool1d(fastnn.randn(7), 3)
    with pytest.raises(RuntimeError, match=r"max_pool1d\(\) kernel_size must be greater than zero, but got 0"):
        F.max_pool1d(x, 0)
    with pytest.raises(RuntimeError, match=r"max_pool1d\(\) padding should be at most half of kernel size, but got "
                                           "padding=2 and kernel_size=3"):
        F.max_pool1d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"max_pool1d\(\) Invalid computed output size: 0"):
        F.max_pool1d(x, 9)
    with pytest.raises(RuntimeError, match=r"Output size is too small"):
        F.avg_pool1d(x, 9)
    with pytest.raises(RuntimeError, match=r"Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 "
                                           r"'self' \(while checking arguments for avg_pool1d\)"):
        F.avg_pool1d(fastnn.randn(7), 3)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.avg_pool1d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool1d\(\) argument 'output_size' should contain one int "
                                           r"\(got 2\)"):
        F.adaptive_avg_pool1d(x, (3, 2))
    with pytest.raises(RuntimeError, match=r"adaptive_max_pool1d\(\): Expected input to have non-zero size for "
                                           r"non-batch dimensions, but input has sizes \[2, 3, 0\] with dimension 2"):
        F.adaptive_max_pool1d(fastnn.randn(2, 3, 0), 3)
    with pytest.raises(RuntimeError, match=r"adaptive_max_pool2d\(\): Expected input to have non-zero size for "
                                           r"non-batch dimensions, but input has sizes \[3, 0, 2\] with dimension 1"):
        F.adaptive_max_pool2d(fastnn.randn(3, 0, 2), 3)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        F.adaptive_max_pool2d(fastnn.randn(2, 3, 4), -1)


@pytest.mark.parametrize("nd,shape,kw", [(2, (2, 3, 6, 8), dict(kernel_size=2)),
                                         (2, (3, 5, 5), dict(kernel_size=3, stride=2, padding=1)),
                                         (1, (2, 3, 9), dict(kernel_size=3, stride=2)),
                                         (1, (3, 8), dict(kernel_size=2))])
def test_max_unpool_matches_torch(nd, shape, kw):
    x = distinct_values(shape, np.random.default_rng(6))
    pool, unpool = (TF.max_pool2d, "max_unpool2d") if nd == 2 else (TF.max_pool1d, "max_unpool1d")
    y, idx = pool(torch.tensor(x), return_indices=True, **kw)
    big = [s + 1 for s in shape[-nd:]]
    for out in (None, big):
        _check(lambda t: getattr(F, unpool)(t, fastnn.tensor(idx.numpy()), output_size=out, **kw),
               lambda t: getattr(TF, unpool)(t, idx, output_size=out, **kw), y.numpy())
    cls = "MaxUnpool2d" if nd == 2 else "MaxUnpool1d"
    assert repr(getattr(nn, cls)(**kw)) == repr(getattr(torch.nn, cls)(**kw))
    if "stride" not in kw:  # overlapping windows may share an index: torch's (and our) gradient is then a gather
        gradcheck_op(lambda t: getattr(F, unpool)(t, fastnn.tensor(idx.numpy()), **kw), y.numpy())


def test_max_unpool_errors():
    y, idx = F.max_pool2d(fastnn.randn(1, 2, 4, 4), 2, return_indices=True)
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: \d+ \(output volumes are of size 4x4"):
        F.max_unpool2d(y, idx * 10, 2)
    with pytest.raises(ValueError, match=r'invalid output_size "\(9, 9\)" \(dim 0 must be between 2 and 6\)'):
        F.max_unpool2d(y, idx, 2, output_size=(9, 9))
    with pytest.raises(RuntimeError, match="Input to max_unpooling2d should be a 3d or 4d Tensor"):
        F.max_unpool2d(y[0, 0], idx[0, 0], 2)
    with pytest.raises(RuntimeError, match="Expected shape of indices to be same as that of the input tensor"):
        F.max_unpool2d(y, idx[:, :1], 2)
