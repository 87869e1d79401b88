"""The CUDA backend's pool kernels (backend/cuda/pool.py on csrc/cuda/pool.cu) against the composite ones on
the same device arrays (CI: the emulated device), and through the public API against the CPU."""
import numpy as np
import pytest

import fastnn
from cuda_backend_helpers import cuda_backend_with, composite as _composite, spy_on

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture
def be():
    return cuda_backend_with("max_pool2d")


@pytest.fixture
def spy(be, monkeypatch):
    return spy_on(be, monkeypatch)


MAX = [((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), False), ((1, 2, 9, 7), (3, 2), (2, 1), (1, 1), (2, 1), True),
       ((2, 1, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), False), ((1, 1, 5, 6), (2, 3), (3, 2), (1, 0), (1, 1), True)]


@pytest.mark.parametrize("shape, k, s, p, d, ceil", MAX)
def test_max_pool2d_matches_the_composite(be, spy, shape, k, s, p, d, ceil):
    rng = np.random.default_rng(sum(shape))
    host = np.round(rng.standard_normal(shape) * 2).astype(np.float32)  # many ties
    host.reshape(-1)[::17] = np.nan
    x = be.asarray(host)
    args = (k, s, p, d, ceil)
    y = be.max_pool2d(x, *args)
    np.testing.assert_array_equal(be.to_host(y), be.to_host(_composite(be, "max_pool2d", x, *args)))
    g = be.asarray(rng.standard_normal(y.shape).astype(np.float32))
    gx = be.max_pool2d_backward(x, g, *args)
    assert gx.dtype == np.float32 and gx.shape == x.shape
    np.testing.assert_allclose(be.to_host(gx), be.to_host(_composite(be, "max_pool2d_backward", x, g, *args)),
                               rtol=1e-6, atol=1e-6)
    assert spy.calls == ["max_pool2d_f32", "max_pool2d_f32", "max_pool2d_backward_f32"]


AVG = [((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), False, True, None),
       ((1, 2, 5, 6), (2, 3), (3, 2), (1, 1), True, False, None),
       ((1, 1, 6, 5), (3, 2), (1, 1), (1, 1), False, True, 5),
       ((2, 2, 4, 4), (2, 2), (2, 2), (0, 0), True, True, None)]


@pytest.mark.parametrize("shape, k, s, p, ceil, cip, dov", AVG)
def test_avg_pool2d_matches_the_composite(be, spy, shape, k, s, p, ceil, cip, dov):
    rng = np.random.default_rng(sum(shape) + 1)
    x = be.asarray(rng.standard_normal(shape).astype(np.float32))
    args = (k, s, p, ceil, cip, dov)
    y = be.avg_pool2d(x, *args)
    np.testing.assert_allclose(be.to_host(y), be.to_host(_composite(be, "avg_pool2d", x, *args)), rtol=1e-6,
                               atol=1e-6)
    g = be.asarray(rng.standard_normal(y.shape).astype(np.float32))
    gx = be.avg_pool2d_backward(g, shape, *args)
    np.testing.assert_allclose(be.to_host(gx), be.to_host(_composite(be, "avg_pool2d_backward", g, shape, *args)),
                               rtol=1e-6, atol=1e-6)
    assert spy.calls == ["avg_pool2d_f32", "avg_pool2d_backward_f32"]


def test_non_contiguous_float64_and_errors(be, spy):
    rng = np.random.default_rng(2)
    host = rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    x = be.asarray(host).transpose(0, 1, 3, 2)  # a strided view: the mixin makes it contiguous
    args = ((2, 2), (2, 2), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(be.to_host(be.max_pool2d(x, *args)),
                                  be.to_host(_composite(be, "max_pool2d", x, *args)))
    assert spy.calls == ["max_pool2d_f32"]
    x64 = be.asarray(host.astype(np.float64))  # float64: the composite's
    y64 = be.max_pool2d(x64, *args)
    assert y64.dtype == np.float64 and spy.calls == ["max_pool2d_f32"]
    np.testing.assert_array_equal(be.to_host(y64), be.to_host(_composite(be, "max_pool2d", x64, *args)))
    for call in (lambda: be.max_pool2d(be.asarray(host), (2, 2), (2, 2), (2, 0), (1, 1), False),
                 lambda: be.avg_pool2d(be.asarray(host), (2, 2), (2, 2), (0, 0), False, True, 0)):
        with pytest.raises(ValueError) as native_error:
            call()
        assert native_error.value.args[0].startswith(("max_pool2d:", "avg_pool2d:"))
    with pytest.raises(ValueError, match=r"max_pool2d_backward: grad_output has shape \(2, 3, 2, 2\), expected"):
        be.max_pool2d_backward(be.asarray(host), be.asarray(np.ones((2, 3, 2, 2), np.float32)), *args)


def test_pooling_through_the_api_matches_the_cpu():
    rng = np.random.default_rng(4)
    host = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    for fn in (lambda t: fastnn.nn.functional.max_pool2d(t, 3, 2, 1, ceil_mode=True),
               lambda t: fastnn.nn.functional.avg_pool2d(t, (3, 2), (2, 1), (1, 1), count_include_pad=False)):
        outs = []
        for device in ("cpu", "cuda"):
            t = fastnn.tensor(host, device=device, requires_grad=True)
            y = fn(t)
            (y * y).sum().backward()
            outs.append((y.detach().cpu().numpy(), t.grad.cpu().numpy()))
        np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-5, atol=1e-5)
