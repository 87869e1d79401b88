"""Results stay on the CUDA device: regressions the OpInfo oracle's cuda mode (tests/test_opinfo_cuda.py) found,
pinned where they are cheap to run. Each ran correctly on the CPU and gave a CPU result (or a mixed-device
error) on cuda."""
import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn.backend import get_backend

pytestmark = pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")


def _host(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("path", ["lib.stride_tricks.as_strided", "linalg.norm", "fft.rfft"])
def test_array_module_submodules_keep_device_arrays(path):
    # The emulated array module served NumPy's submodules unwrapped (a module is not callable, so it was
    # taken for a constant): as_strided views came back as host arrays. CuPy's submodules return device arrays.
    be = get_backend("cuda")
    a = be.xp.arange(12, dtype=np.float32)
    fn = be.xp
    for part in path.split("."):
        fn = getattr(fn, part)
    out = fn(a, (3, 2), (16, 4)) if path.endswith("as_strided") else fn(a)
    assert isinstance(out, be.xp.ndarray), type(out)
    with pytest.raises(TypeError):
        fn(np.arange(12, dtype=np.float32), (3, 2), (16, 4)) if path.endswith("as_strided") else fn(
            np.arange(12, dtype=np.float32))  # host data is refused, as CuPy refuses it


@pytest.mark.parametrize("make", [
    lambda x: x.to(memory_format=fastnn.channels_last),
    lambda x: x.to("cuda", fastnn.float64, memory_format=fastnn.channels_last),
    lambda x: x.float(memory_format=fastnn.channels_last),
    lambda x: x.clone(memory_format=fastnn.channels_last),
    lambda x: x.permute(0, 2, 3, 1).contiguous(),
    lambda x: fastnn.empty_like(x, memory_format=fastnn.channels_last).copy_(x),
])
def test_strided_copies_stay_on_the_device(make):
    x = fastnn.randn(2, 3, 4, 5, device="cuda")
    y = make(x)
    assert y.device == x.device
    ref = make(x.cpu())
    assert y.stride() == ref.stride()
    np.testing.assert_array_equal(_host(y), _host(ref))


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm_on_cuda(size):
    # its zero padding of the channel window was made on the CPU: a mixed-device error on cuda
    x = fastnn.randn(2, 5, 3, 4, requires_grad=True)
    xc = x.detach().cuda().requires_grad_(True)
    y, yc = F.local_response_norm(x, size), F.local_response_norm(xc, size)
    assert yc.device == xc.device
    np.testing.assert_allclose(_host(yc), _host(y), rtol=1e-6, atol=1e-6)
    g = fastnn.randn(*y.shape)
    (y * g).sum().backward()
    (yc * g.cuda()).sum().backward()
    assert xc.grad.device == xc.device
    np.testing.assert_allclose(_host(xc.grad), _host(x.grad), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_with_indices_on_cuda(ceil_mode):
    # the windows of max_pool2d(return_indices=True) are an as_strided view: it came back on the host, and its
    # isnan met device arrays
    x = fastnn.randn(1, 2, 3, 6, device="cuda")
    y, i = F.max_pool2d(x, 3, stride=2, ceil_mode=ceil_mode, return_indices=True)
    ry, ri = F.max_pool2d(x.cpu(), 3, stride=2, ceil_mode=ceil_mode, return_indices=True)
    assert y.device == x.device and i.device == x.device
    np.testing.assert_array_equal(_host(y), _host(ry))
    np.testing.assert_array_equal(_host(i), _host(ri))
