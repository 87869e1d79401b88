"""The CUDA backend's batch-norm kernels (backend/cuda/batchnorm.py on csrc/cuda/batchnorm.cu) against the
composite ones on the same device arrays (CI: the emulated device), and through the public API against the CPU."""
import numpy as np
import pytest

import fastnn
from cuda_backend_helpers import cuda_backend_with, composite as _composite, spy_on

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture
def be():
    return cuda_backend_with("batch_norm_forward")


@pytest.fixture
def spy(be, monkeypatch):
    return spy_on(be, monkeypatch)


def _close(be, got, want, rtol, atol):
    assert (got is None) == (want is None)
    if got is not None:
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(be.to_host(got), be.to_host(want), rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape, training, affine", [((4, 3, 5), True, True), ((2, 3, 8), True, False),
                                                     ((6, 4, 1), True, True), ((1, 2, 1), True, True),
                                                     ((3, 2, 6), False, True), ((2, 3, 4), False, False)])
def test_batch_norm_matches_the_composite(be, spy, shape, training, affine):
    rng = np.random.default_rng(sum(shape) + training)
    n, c, l = shape
    x = be.asarray((rng.standard_normal(shape) * 2 + 20).astype(np.float32))
    w = be.asarray(rng.standard_normal(c).astype(np.float32)) if affine else None
    b = be.asarray(rng.standard_normal(c).astype(np.float32)) if affine else None
    rm = be.asarray(rng.standard_normal(c).astype(np.float32) + 20)
    rv = be.asarray((rng.random(c) + 1).astype(np.float32))
    args = (x, w, b, rm, rv, training, 1e-5)
    got, want = be.batch_norm_forward(*args), _composite(be, "batch_norm_forward", *args)
    _close(be, got[0], want[0], 1e-5, 2e-5)
    for g_, w_ in zip(got[1:], want[1:]):
        _close(be, g_, w_, 1e-6, 1e-9)
    assert "batch_norm_forward_f32" in spy.calls
    g = be.asarray(rng.standard_normal(shape).astype(np.float32))
    for need in ((True, True, True), (False, True, False), (True, False, False)):
        bargs = (g, x, got[1], got[2], w, training) + need
        for g_, w_ in zip(be.batch_norm_backward(*bargs), _composite(be, "batch_norm_backward", *bargs)):
            _close(be, g_, w_, 1e-4, 1e-4)
    assert spy.calls.count("batch_norm_backward_f32") == 3


def test_float64_goes_to_the_composite_and_errors_are_the_composites(be, spy):
    x = be.asarray(np.random.default_rng(0).standard_normal((2, 3, 4)))
    got = be.batch_norm_forward(x, None, None, None, None, True, 1e-5)
    want = _composite(be, "batch_norm_forward", x, None, None, None, None, True, 1e-5)
    assert got[0].dtype == np.float64 and spy.calls == []
    np.testing.assert_array_equal(be.to_host(got[0]), be.to_host(want[0]))
    x32 = be.asarray(np.ones((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="batch_norm_forward: eps must be non-negative"):
        be.batch_norm_forward(x32, None, None, None, None, True, -1.0)
    with pytest.raises(ValueError, match="batch_norm_forward: eval mode needs running_mean and running_var"):
        be.batch_norm_forward(x32, None, None, None, None, False, 1e-5)
    with pytest.raises(ValueError, match="batch_norm_forward: training needs at least one value per channel"):
        be.batch_norm_forward(be.asarray(np.ones((0, 3, 4), np.float32)), None, None, None, None, True, 1e-5)
    assert be.batch_norm_backward(x32, x32, be.asarray(np.zeros(3)), be.asarray(np.ones(3)), None, True,
                                  False, False, False) == (None, None, None)


def test_batch_norm_through_the_api_matches_the_cpu():
    rng = np.random.default_rng(5)
    host = (rng.standard_normal((4, 3, 5, 6)) * 3 + 10).astype(np.float32)
    outs = []
    for device in ("cpu", "cuda"):
        bn = fastnn.nn.BatchNorm2d(3).to(device)
        t = fastnn.tensor(host, device=device, requires_grad=True)
        y = bn(t)
        (y * y.detach().cos()).sum().backward()
        bn.eval()
        y_eval = bn(t)
        outs.append([v.detach().cpu().numpy() for v in (y, t.grad, bn.weight.grad, bn.bias.grad, bn.running_mean,
                                                         bn.running_var, y_eval)])
    for got, want in zip(outs[1], outs[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
