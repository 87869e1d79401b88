"""CPU 0-d tensors beside CUDA tensors count as scalars, as in PyTorch (TensorIterator's "CPU scalar" exemption,
``check_same_device(..., allow_cpu_scalar_tensors=True)`` in torch/_prims_common): ``x_cuda * torch.tensor(2.0)``
runs on the device and gives a CUDA result; a CPU tensor with dims (even of one element), an output on the CPU,
or a 0-d tensor of another CUDA device still raise PyTorch's "Expected all tensors to be on the same device".
A CPU 0-d tensor that requires grad gets its gradient on the CPU (PyTorch's engine moves 0-d gradients onto
their input's device). Each result is checked against the same computation done all on the CPU."""
import numpy as np
import pytest

import fastnn
from fastnn.backend import backend_of, backend_with_cpu_scalars, get_backend

pytestmark = pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")

CUDA0 = fastnn.device("cuda:0")
SAME_DEVICE = r"^Expected all tensors to be on the same device, but found at least two devices, "


def _host(t):
    return t.detach().cpu().numpy()


def _check(fn, *args):
    """fn on the CUDA operands (0-d CPU tensors kept on the CPU) against fn on all-CPU copies: the result is
    on the device, of the CPU result's dtype and shape, with its values."""
    got = fn(*args)
    want = fn(*[a.cpu() if isinstance(a, fastnn.Tensor) else a for a in args])
    assert got.device == CUDA0, got.device
    assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(_host(got), _host(want), rtol=1e-6, atol=1e-6)
    return got


def _x():
    return fastnn.tensor([[-1.5, 0.25, 2.0], [3.0, -0.5, 1.0]], device="cuda")


S = fastnn.tensor(2.0)  # a CPU scalar tensor


# ---- the registry's rule -------------------------------------------------------------------------------------
def test_backend_with_cpu_scalars_takes_a_cpu_0d_array_as_a_scalar():
    cuda = get_backend("cuda")
    d = cuda.xp.ones(3, dtype=np.float32)
    assert backend_with_cpu_scalars(d, np.float32(1.0).reshape(())) is cuda
    assert backend_with_cpu_scalars(np.zeros((), np.float32), d) is cuda  # the first device not the CPU
    assert backend_with_cpu_scalars(np.zeros(()), np.zeros(())) is get_backend("cpu")
    assert backend_with_cpu_scalars(np.zeros(()), d, np.zeros(()), None, 2.0) is cuda
    assert backend_with_cpu_scalars(d, d, 1.0) is cuda
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        backend_with_cpu_scalars(d, np.zeros(1))  # one element, but dims: a device
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        backend_with_cpu_scalars(np.zeros(1), d)  # TensorIterator names the op's (non-CPU) device first
    # backend_of stays strict: the ops outside PyTorch's exemption raise for a CPU scalar too
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        backend_of(d, np.zeros(()))


def test_ops_outside_the_exemption_still_raise():
    x = _x()
    for call in (lambda: fastnn.stack([x[0, 0], S]), lambda: fastnn.gather(x[0], 0, fastnn.tensor(0)),
                 lambda: fastnn.cat([x.reshape(-1), S.reshape(1)])):
        with pytest.raises(RuntimeError, match=SAME_DEVICE):
            call()


def test_bring_scalars_gives_the_device_a_value_it_takes():
    cuda = get_backend("cuda")
    d = cuda.xp.ones(3, dtype=np.float32)
    host0 = np.array(2.0, np.float32)
    with pytest.raises(TypeError):
        cuda.xp.add(d, host0)  # the emulated device refuses host arrays as CuPy does: bringing is needed
    b, h, n, none = cuda.bring_scalars(d, host0, np.float32(3), None)
    assert b is d and none is None and n == 3
    assert isinstance(h, cuda.xp.ndarray) and h.ndim == 0 and h.dtype == np.float32 and float(h) == 2.0
    np.testing.assert_array_equal(cuda.xp.asnumpy(cuda.xp.add(d, h)), [3, 3, 3])
    host1 = np.zeros(1)
    assert cuda.bring_scalars(host1)[0] is host1  # only 0-d arrays are scalars
    cpu = get_backend("cpu")
    assert cpu.bring_scalars(host0, host1) == (host0, host1)


# ---- ops --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b, lambda a, b: a ** b,
    lambda a, b: a // b, lambda a, b: a % b, lambda a, b: fastnn.sub(a, b, alpha=2), lambda a, b: fastnn.add(a, b),
    lambda a, b: fastnn.maximum(a, b), lambda a, b: fastnn.minimum(a, b), lambda a, b: fastnn.atan2(a, b),
    lambda a, b: fastnn.fmod(a, b), lambda a, b: fastnn.remainder(a, b), lambda a, b: fastnn.hypot(a, b),
    lambda a, b: fastnn.copysign(a, b),
], ids=["add", "sub", "mul", "div", "pow", "floordiv", "mod", "sub_alpha", "torch.add", "maximum", "minimum",
        "atan2", "fmod", "remainder", "hypot", "copysign"])
def test_arithmetic_with_a_cpu_scalar_in_either_order(op):
    x = _x().abs() + 0.5  # positive: pow and floordiv stay tame
    _check(op, x, S)
    _check(op, S, x)


@pytest.mark.parametrize("op", [
    lambda a, b: a > b, lambda a, b: a < b, lambda a, b: a >= b, lambda a, b: a <= b, lambda a, b: a == b,
    lambda a, b: a != b, lambda a, b: fastnn.eq(a, b), lambda a, b: fastnn.isclose(a, b),
], ids=["gt", "lt", "ge", "le", "eq", "ne", "torch.eq", "isclose"])
def test_comparisons_with_a_cpu_scalar(op):
    x = _x()
    _check(op, x, S)
    _check(op, S, x)


def test_promotion_follows_the_cpu_rule():
    x = _x()
    _check(lambda a, b: a * b, x, fastnn.tensor(2.0, dtype=fastnn.float64))  # a 0-d float64 keeps float32
    xi = fastnn.tensor([1, 2, 3], device="cuda")
    _check(lambda a, b: a * b, xi, fastnn.tensor(0.5))  # int64[3] * float32[] is float32
    _check(lambda a, b: a + b, xi, fastnn.tensor(4))
    _check(lambda a, b: a & b, xi, fastnn.tensor(1))
    _check(lambda a, b: a * b, x, fastnn.tensor(True))


def test_where_with_cpu_scalars():
    x = _x()
    mask = x > 0
    _check(lambda m, a, b: fastnn.where(m, a, b), mask, x, fastnn.tensor(0.0))
    _check(lambda m, a, b: fastnn.where(m, a, b), mask, fastnn.tensor(-1.0), x)
    _check(lambda m, a, b: fastnn.where(m, a, b), mask, fastnn.tensor(1.0), fastnn.tensor(0.0))
    _check(lambda m, a, b: fastnn.where(m, a, b), fastnn.tensor(True), x, x * 2)  # a 0-d CPU condition
    _check(lambda a, m, v: a.masked_fill(m, v), x, mask, fastnn.tensor(-9.0))


def test_clamp_min_max_and_lerp_take_cpu_scalars():
    x = _x()
    lo, hi = fastnn.tensor(-0.5), fastnn.tensor(1.5)
    _check(lambda a, b: fastnn.clamp_min(a, b), x, lo)  # binary TensorIterator ops: exempt
    _check(lambda a, b: fastnn.clamp_max(a, b), x, hi)
    _check(lambda a, b, c: fastnn.lerp(a, b, c), x, x * 3, fastnn.tensor(0.25))
    _check(lambda a, b: fastnn.addcmul(a, a, a, value=b), x, S)  # value is a number (a 0-d tensor's)


def test_clamp_with_cpu_tensor_bounds_raises_as_in_pytorch():
    # clamp.Tensor has PyTorch's generated device check and a TensorIterator without the CPU-scalar
    # exemption: x_cuda.clamp(min=torch.tensor(0.)) raises on a GPU ("... cuda:0 and cpu! (when checking
    # argument for argument min in method wrapper_CUDA_clamp_Tensor)", pytorch/pytorch#94174)
    x = _x()
    for call in (lambda: x.clamp(min=fastnn.tensor(0.0)), lambda: x.clamp(max=fastnn.tensor(1.0)),
                 lambda: fastnn.clamp(x, fastnn.tensor(-1.0), fastnn.tensor(1.0)),
                 lambda: x.clone().clamp_(min=fastnn.tensor(0.0))):
        with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
            call()
    _check(lambda a: a.clamp(-0.5, 1.5), x)  # numbers and bounds on the device are fine
    _check(lambda a, b, c: a.clamp(b, c), x, fastnn.tensor(-0.5, device="cuda"), fastnn.tensor(1.5, device="cuda"))


def test_addcmul_and_addcdiv_tensors_must_share_the_device():
    x = _x()
    for op in (fastnn.addcmul, fastnn.addcdiv):  # one TensorIterator kernel without the exemption in PyTorch
        with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
            op(x, x, S)
        _check(lambda a, b, c: op(a, b, c), x, x, x + 5)


@pytest.mark.parametrize("method", ["add_", "sub_", "mul_", "div_"])
def test_in_place_with_a_cpu_scalar(method):
    _check(lambda a, b: getattr(a.clone(), method)(b), _x(), S)
    # through the graph (a non-leaf that requires grad: the op runs out of place and is written back)
    w = _x().requires_grad_(True)
    y = w * 1.0
    getattr(y, method)(S)
    y.sum().backward()
    assert y.device == CUDA0 and w.grad.device == CUDA0
    x = _x()
    x += S
    x *= fastnn.tensor(3.0)
    np.testing.assert_allclose(_host(x), (_host(_x()) + 2) * 3)


def test_indexing_with_0d_cpu_indices():
    x = _x()
    row = x[fastnn.tensor(1)]
    assert row.device == CUDA0 and tuple(row.shape) == (3,)
    np.testing.assert_array_equal(_host(row), _host(x)[1])
    row += 10  # a 0-d integer index selects a view, as an int does in PyTorch
    assert float(x[1, 0]) == 13.0
    el = x[fastnn.tensor(0), fastnn.tensor(-1)]
    assert el.device == CUDA0 and el.ndim == 0 and float(el) == 2.0
    x[fastnn.tensor(0)] = fastnn.tensor(7.0)
    assert _host(x)[0].tolist() == [7.0, 7.0, 7.0]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x[fastnn.tensor(5)]
    g = _x().requires_grad_(True)
    (g[fastnn.tensor(1)] * 3).sum().backward()
    assert g.grad.device == CUDA0 and _host(g.grad).tolist() == [[0, 0, 0], [3, 3, 3]]


def test_reductions_with_0d_arguments():
    x = _x()
    _check(lambda a: a.sum(dim=fastnn.tensor(1)), x)
    _check(lambda a: a.mean(fastnn.tensor(0)), x)
    _check(lambda a: a.amax(dim=fastnn.tensor(-1)), x)
    _check(lambda a, s: a.sum() * s, x, fastnn.tensor(0.5))
    _check(lambda a, s: a.mean() - s, x, S)
    _check(lambda a, s: a.abs().sum() > s, x, S)


def test_the_cpu_scalars_gradient_lands_on_the_cpu():
    cases = [lambda x, w: x * w, lambda x, w: w - x, lambda x, w: x / w, lambda x, w: x ** w,
             lambda x, w: fastnn.where(x > 0, w, x), lambda x, w: fastnn.clamp_min(x, w),
             lambda x, w: fastnn.maximum(x, w),
             lambda x, w: fastnn.lerp(x, x * 2, w), lambda x, w: (x.sum() * w)]
    for fn in cases:
        grads = []
        for dev in ("cuda", "cpu"):
            x = (_x().abs() + 0.5).to(dev).requires_grad_(True)
            w = fastnn.tensor(1.25, requires_grad=True)  # always on the CPU
            out = fn(x, w)
            assert out.device == x.device
            (out * out).sum().backward()
            assert w.grad.device == fastnn.device("cpu") and w.grad.dtype == w.dtype and w.grad.ndim == 0
            assert x.grad.device == x.device
            grads.append((_host(x.grad), float(w.grad)))
        np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-6)
        assert grads[0][1] == pytest.approx(grads[1][1], rel=1e-5)


def test_a_loss_scaled_by_a_cpu_scalar_trains():
    lin = fastnn.nn.Linear(3, 1).cuda()
    x = fastnn.randn(4, 3, device="cuda")
    loss = lin(x).pow(2).mean() * fastnn.tensor(0.5)
    assert loss.device == CUDA0
    loss.backward()
    assert lin.weight.grad.device == CUDA0


# ---- what still raises ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: b * a, lambda a, b: fastnn.where(a > 0, a, b), lambda a, b: a.clamp(min=b),
    lambda a, b: fastnn.maximum(a, b), lambda a, b: a.clone().add_(b), lambda a, b: fastnn.lerp(a, a, b),
], ids=["add", "rmul", "where", "clamp", "maximum", "add_", "lerp"])
def test_a_one_element_cpu_tensor_with_dims_raises(op):
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        op(_x(), fastnn.tensor([2.0]))


def test_a_cuda_0d_tensor_does_not_excuse_a_cpu_tensor_with_dims():
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        fastnn.ones(3) + fastnn.tensor(1.0, device="cuda")


def test_writing_a_device_result_into_a_cpu_scalar_raises():
    s = fastnn.tensor(1.0)
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        s.add_(fastnn.tensor(1.0, device="cuda"))
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cpu!$"):
        s.mul_(fastnn.tensor(3.0, device="cuda").requires_grad_(True))
    assert float(s) == 1.0


def test_only_cpu_scalars_are_exempt(two_cuda):
    a = fastnn.ones(3, device="cuda:0")
    b0 = fastnn.tensor(2.0, device="cuda:1")
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cuda:1!$"):
        a + b0
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:1 and cuda:0!$"):
        b0 * a
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cuda:1!$"):
        fastnn.maximum(a, b0)
    out = fastnn.ones(3, device="cuda:1") * S  # a CPU scalar goes to whichever device is there
    assert out.device == fastnn.device("cuda:1") and _host(out).tolist() == [2.0, 2.0, 2.0]


def test_fill_with_a_cpu_scalar_tensor_through_the_graph():
    x = _x().requires_grad_(True)
    v = fastnn.tensor(2.0, requires_grad=True)
    y = x * 1.0
    y.fill_(v)  # the CPU value's gradient is the sum of the device's gradient, landing on the CPU
    assert y.device == CUDA0 and _host(y).tolist() == [[2.0] * 3] * 2
    (y * fastnn.arange(6.0, device="cuda").reshape(2, 3)).sum().backward()
    assert v.grad.device == fastnn.device("cpu") and float(v.grad) == 15.0
    assert _host(x.grad).tolist() == [[0.0] * 3] * 2
