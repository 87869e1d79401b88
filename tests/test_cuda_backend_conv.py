"""The CUDA backend's conv kernels (backend/cuda/conv.py on csrc/cuda/conv2d.cu) against the composite ones on the
same device arrays (CI: the emulated device), and through the public API against the CPU."""
import numpy as np
import pytest

import fastnn
from cuda_backend_helpers import cuda_backend_with, composite as _composite

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]


@pytest.fixture
def be():
    return cuda_backend_with("conv2d_forward")


def _close(be, got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(be.to_host(got), be.to_host(want), rtol=1e-4, atol=1e-4)


# (x shape, weight shape, stride, padding, dilation, groups)
CASES = [((2, 3, 7, 6), (5, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1),
         ((2, 4, 9, 8), (6, 2, 3, 2), (2, 3), (1, 0), (1, 1), 2),
         ((1, 3, 10, 9), (4, 3, 3, 3), (2, 2), (2, 1), (2, 3), 1),
         ((2, 6, 7, 7), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 6),
         ((3, 8, 5, 5), (40, 8, 1, 1), (1, 1), (0, 0), (1, 1), 1),
         ((8, 2, 16, 16), (4, 2, 3, 3), (1, 1), (1, 1), (1, 1), 1),  # a split-K weight gradient
         ((40, 1, 16, 16), (2, 1, 1, 1), (1, 1), (0, 0), (1, 1), 1),  # a split bias gradient
         ((0, 3, 5, 5), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1), 1)]


@pytest.mark.parametrize("xs, ws, s, p, d, groups", CASES)
def test_conv2d_kernels_match_the_composite(be, xs, ws, s, p, d, groups):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = be.asarray(rng.standard_normal(xs).astype(np.float32))
    w = be.asarray(rng.standard_normal(ws).astype(np.float32))
    b = be.asarray(rng.standard_normal(ws[0]).astype(np.float32))
    for bias in (b, None):
        y = be.conv2d_forward(x, w, bias, s, p, d, groups)
        _close(be, y, _composite(be, "conv2d_forward", x, w, bias, s, p, d, groups))
    g = be.asarray(rng.standard_normal(y.shape).astype(np.float32))
    _close(be, be.conv2d_backward_data(g, w, xs[2:], s, p, d, groups),
           _composite(be, "conv2d_backward_data", g, w, xs[2:], s, p, d, groups))
    _close(be, be.conv2d_backward_weight(g, x, ws[2:], s, p, d, groups),
           _composite(be, "conv2d_backward_weight", g, x, ws[2:], s, p, d, groups))
    _close(be, be.conv2d_backward_bias(g), _composite(be, "conv2d_backward_bias", g))


def test_conv2d_strided_inputs_and_float64(be):
    rng = np.random.default_rng(0)
    x = be.asarray(rng.standard_normal((2, 3, 6, 10)).astype(np.float32))[:, :, :, ::2]  # a strided view
    w = be.asarray(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    args = ((1, 1), (1, 1), (1, 1), 1)
    _close(be, be.conv2d_forward(x, w, None, *args), _composite(be, "conv2d_forward", x, w, None, *args))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)  # not float32: the composite (CuPy) path
    _close(be, be.conv2d_forward(x64, w64, None, *args), _composite(be, "conv2d_forward", x64, w64, None, *args))


@pytest.mark.parametrize("call, message", [
    (lambda be, x, w: be.conv2d_forward(x, w, None, (0, 1), (0, 0), (1, 1), 1), "conv2d: stride must be positive"),
    (lambda be, x, w: be.conv2d_forward(x, w, None, (1, 1), (0, 0), (1, 1), 2),
     r"conv2d: in_channels \(3\) and out_channels \(4\) must be divisible by groups \(2\)"),
    (lambda be, x, w: be.conv2d_forward(x, w, be.asarray(np.ones(3, np.float32)), (1, 1), (0, 0), (1, 1), 1),
     r"conv2d: bias must be 1-D of length out_channels \(4\)"),
    (lambda be, x, w: be.conv2d_backward_data(be.asarray(np.ones((1, 4, 2, 2), np.float32)), w, (5, 5), (1, 1),
                                              (0, 0), (1, 1), 1), "conv2d_backward_data: grad_output has shape"),
])
def test_conv2d_errors_read_as_the_composite(be, call, message):
    x = be.asarray(np.ones((1, 3, 5, 5), np.float32))
    w = be.asarray(np.ones((4, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match=message):
        call(be, x, w)


def test_conv2d_module_trains_on_cuda_like_on_the_cpu():
    import fastnn.nn as nn

    rng = np.random.default_rng(1)
    xh = rng.standard_normal((2, 3, 8, 7)).astype(np.float32)
    fastnn.manual_seed(0)
    cpu = nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1)
    dev = nn.Conv2d(3, 4, 3, stride=2, padding=1, groups=1)
    dev.load_state_dict(cpu.state_dict())
    dev = dev.to("cuda")
    outs = []
    for m, device in ((cpu, "cpu"), (dev, "cuda")):
        x = fastnn.tensor(xh, device=device, requires_grad=True)
        y = m(x)
        (y * y).sum().backward()
        outs.append([t.detach().cpu().numpy() for t in (y, x.grad, m.weight.grad, m.bias.grad)])
    for got, want in zip(outs[1], outs[0]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
