"""Tensors on the CUDA device: transfers and dtypes, creation with device=, random numbers, mixed-device
errors, the IndexError CuPy would not raise, and the backend the registry hands out.

CI runs this file on the emulated device (conftest sets FASTNN_CUDA=emulate); a GPU machine runs it with
FASTNN_CUDA=auto (``pytest -m cuda``). Tests about the emulated array module itself are skipped there.
"""
import warnings

import numpy as np
import pytest

import fastnn
from fastnn.backend import backend_of, get_backend
from fastnn.backend.cuda import CudaBackend, runtime

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]
emulated_only = pytest.mark.skipif(not runtime.emulated(), reason="about the emulated device's array module")
CUDA0 = fastnn.device("cuda:0")
DTYPES = [fastnn.float32, fastnn.float64, fastnn.float16, fastnn.int64, fastnn.int32, fastnn.int16, fastnn.int8,
          fastnn.uint8, fastnn.bool]


# ---- transfers ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_keeps_values_and_dtype(dtype):
    host = np.arange(-3, 9).reshape(3, 4) % 5
    x = fastnn.tensor(host, dtype=dtype)
    y = x.cuda()
    assert y.is_cuda and y.device == CUDA0 and y.dtype is dtype and y.shape == x.shape
    assert not x.is_cuda and x.get_device() == -1 and y.get_device() == 0
    back = y.cpu()
    assert back.device == fastnn.device("cpu") and back.dtype is dtype
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    x[0, 0] = 1  # device memory is its own: writing the source changes nothing there
    assert y[0, 0].item() == fastnn.tensor(host, dtype=dtype)[0, 0].item()


def test_non_contiguous_and_zero_size_move():
    x = fastnn.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)
    y = x.cuda()
    np.testing.assert_array_equal(y.cpu().numpy(), x.numpy())
    z = fastnn.zeros(0, 3).cuda()
    assert z.shape == (0, 3) and z.is_cuda and z.cpu().shape == (0, 3)


def test_every_form_of_to():
    x = fastnn.arange(4.0)
    y = x.cuda()
    for moved in (x.to("cuda"), x.to("cuda:0"), x.to(CUDA0), x.to(0), x.to(device="cuda"), x.to(y),
                  x.cuda(0), x.cuda("cuda:0"), x.cuda(CUDA0), x.cuda(non_blocking=True),
                  x.to("cuda", non_blocking=True)):
        assert moved.device == CUDA0 and moved.dtype is fastnn.float32
        assert moved.tolist() == [0.0, 1.0, 2.0, 3.0]
    d = x.to("cuda", fastnn.float64)
    assert d.device == CUDA0 and d.dtype is fastnn.float64
    assert x.to(device="cuda", dtype=fastnn.int64).dtype is fastnn.int64
    assert y.to(fastnn.float16).device == CUDA0 and y.to(fastnn.float16).dtype is fastnn.float16
    assert x.to(fastnn.ones(1, dtype=fastnn.float64, device="cuda")).dtype is fastnn.float64
    # already there: the tensor itself, unless copy=True
    assert y.cuda() is y and y.to("cuda") is y and y.to(0) is y and y.to(y) is y and y.cpu() is not y
    c = y.to("cuda", copy=True)
    assert c is not y and c.tolist() == y.tolist()
    c[0] = 5.0
    assert y[0].item() == 0.0
    c2 = y.to("cuda", None, False, True)  # torch's positional (device, dtype, non_blocking, copy)
    assert c2 is not y


def test_moves_are_differentiable_both_ways():
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.cuda()
    assert y.grad_fn.name == "ToCopyBackward0"
    (y * y).sum().backward()
    assert not x.grad.is_cuda and x.grad.tolist() == [2.0, 4.0, 6.0]
    w = fastnn.tensor([1.0, -1.0], device="cuda", requires_grad=True)
    (w.cpu() * 3).sum().backward()
    assert w.grad.is_cuda and w.grad.tolist() == [3.0, 3.0]


def test_host_conversions():
    y = fastnn.tensor([[1.5, 2.0]], device="cuda")
    with pytest.raises(TypeError, match=r"^can't convert cuda:0 device type tensor to numpy\. Use Tensor\.cpu\(\) to "
                                        r"copy the tensor to host memory first\.$"):
        y.numpy()
    assert type(y.numpy(force=True)) is np.ndarray and y.numpy(force=True).tolist() == [[1.5, 2.0]]
    assert y.tolist() == [[1.5, 2.0]] and y[0, 1].item() == 2.0 and float(y[0, 0]) == 1.5
    assert type(y.sum().item()) is float and bool(y[0, 0] > 1) is True
    assert np.asarray(y).tolist() == [[1.5, 2.0]]  # __array__ copies to the host
    assert "device='cuda:0'" in repr(y) and "device='cuda:0'" in repr(y.sum())


# ---- creation on the device -------------------------------------------------------------------------------------
CREATORS = {
    "tensor": lambda device: fastnn.tensor([1.0, 2.0], device=device),
    "tensor_from_array": lambda device: fastnn.tensor(np.arange(3), device=device),
    "as_tensor": lambda device: fastnn.as_tensor([1, 2], device=device),
    "Tensor": lambda device: fastnn.Tensor([1.0, 2.0], device=device),
    "zeros": lambda device: fastnn.zeros(2, 3, device=device),
    "ones": lambda device: fastnn.ones(2, device=device, dtype=fastnn.int32),
    "empty": lambda device: fastnn.empty(4, device=device),
    "full": lambda device: fastnn.full((2,), 7, device=device),
    "eye": lambda device: fastnn.eye(3, 2, device=device),
    "arange": lambda device: fastnn.arange(0.0, 1.0, 0.25, device=device),
    "arange_int": lambda device: fastnn.arange(5, device=device),
    "linspace": lambda device: fastnn.linspace(0, 1, 5, device=device),
    "linspace_int": lambda device: fastnn.linspace(0, 10, 4, dtype=fastnn.int64, device=device),
    "rand": lambda device: fastnn.rand(3, device=device),
    "randn": lambda device: fastnn.randn(3, 2, device=device, dtype=fastnn.float64),
    "randint": lambda device: fastnn.randint(0, 9, (4,), device=device),
    "randperm": lambda device: fastnn.randperm(5, device=device),
    "zeros_like": lambda device: fastnn.zeros_like(fastnn.ones(2), device=device),
    "ones_like": lambda device: fastnn.ones_like(fastnn.ones(2), device=device),
    "empty_like": lambda device: fastnn.empty_like(fastnn.ones(2), device=device),
    "full_like": lambda device: fastnn.full_like(fastnn.ones(2), 3.0, device=device),
    "rand_like": lambda device: fastnn.rand_like(fastnn.ones(2), device=device),
    "randn_like": lambda device: fastnn.randn_like(fastnn.ones(2), device=device),
    "from_numpy": lambda device: fastnn.from_numpy(np.ones(2, np.float32), device=device),
    "new_zeros": lambda device: fastnn.ones(2).new_zeros(3, device=device),
    "new_tensor": lambda device: fastnn.ones(2).new_tensor([1, 2], device=device),
}
RANDOM = ("empty", "rand", "randn", "randint", "randperm", "empty_like", "rand_like", "randn_like")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", CUDA0, 0], ids=repr)
@pytest.mark.parametrize("name", list(CREATORS))
def test_creation_functions_create_on_the_device(name, device):
    t = CREATORS[name](device)
    assert t.device == CUDA0 and t.is_cuda
    assert backend_of(t._data) is get_backend("cuda:0")
    ref = CREATORS[name](None)
    assert t.dtype is ref.dtype and t.shape == ref.shape
    if name not in RANDOM:
        np.testing.assert_array_equal(t.cpu().numpy(), ref.numpy())
    if name == "randperm":
        assert sorted(t.tolist()) == [0, 1, 2, 3, 4]
    if name == "randint":
        assert all(0 <= v < 9 for v in t.tolist())


def test_like_functions_follow_the_tensors_device():
    y = fastnn.ones(2, 3, device="cuda", dtype=fastnn.float64)
    for like in (fastnn.zeros_like, fastnn.ones_like, fastnn.empty_like, fastnn.rand_like, fastnn.randn_like):
        out = like(y)
        assert out.device == CUDA0 and out.dtype is fastnn.float64 and out.shape == (2, 3)
    assert fastnn.full_like(y, 2).is_cuda and not fastnn.zeros_like(y, device="cpu").is_cuda
    assert fastnn.tensor(y).is_cuda and fastnn.tensor(y, device="cpu").device == fastnn.device("cpu")
    assert fastnn.as_tensor(y) is y and fastnn.as_tensor(y, device="cpu").device.type == "cpu"


def test_random_numbers_are_seeded_per_device():
    fastnn.manual_seed(7)  # seeds the CPU generator and every CUDA one, as torch.manual_seed
    a = fastnn.randn(5, device="cuda")
    fastnn.manual_seed(7)
    b = fastnn.randn(5, device="cuda")
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    fastnn.cuda.manual_seed(11)  # the CUDA generator alone
    c = fastnn.rand(4, device="cuda")
    fastnn.cuda.manual_seed(11)
    np.testing.assert_array_equal(c.cpu().numpy(), fastnn.rand(4, device="cuda").cpu().numpy())
    assert fastnn.cuda.initial_seed() == 11
    # the devices draw from their own generators: CUDA draws leave the CPU stream where it was
    fastnn.manual_seed(3)
    first = fastnn.rand(3)
    fastnn.manual_seed(3)
    fastnn.rand(100, device="cuda")
    np.testing.assert_array_equal(fastnn.rand(3).numpy(), first.numpy())
    x = fastnn.zeros(1000, device="cuda")
    x.uniform_(-1, 1)
    assert x.is_cuda and -1 <= x.min().item() < -0.9 and 0.9 < x.max().item() <= 1
    x.normal_(0, 1)
    assert x.is_cuda and abs(x.mean().item()) < 0.2


def test_a_cpu_generator_for_a_cuda_tensor_is_torchs_error():
    g = fastnn.Generator().manual_seed(0)
    for make in (lambda: fastnn.randn(2, device="cuda", generator=g),
                 lambda: fastnn.rand(2, device="cuda", generator=g),
                 lambda: fastnn.randint(0, 3, (2,), device="cuda", generator=g),
                 lambda: fastnn.randperm(3, device="cuda", generator=g)):
        with pytest.raises(RuntimeError, match="^Expected a 'cuda' device type for generator but found 'cpu'$"):
            make()


# ---- mixed devices ---------------------------------------------------------------------------------------------
SAME_DEVICE = r"^Expected all tensors to be on the same device, but found at least two devices, "


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b.double(), lambda a, b: fastnn.matmul(a, b),
    lambda a, b: fastnn.cat([a, b]), lambda a, b: fastnn.where(a > 0, a, b), lambda a, b: fastnn.maximum(a, b),
    lambda a, b: fastnn.nn.functional.linear(a, b), lambda a, b: fastnn.nn.functional.mse_loss(a, b),
], ids=["add", "mul", "sub_promoted", "matmul", "cat", "where", "maximum", "linear", "mse_loss"])
def test_cpu_and_cuda_operands_raise_pytorchs_error(op):
    a = fastnn.ones(2, 2)
    b = fastnn.ones(2, 2, device="cuda")
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"(cpu and cuda:0|cuda:0 and cpu)!$"):
        op(a, b)
    with pytest.raises(RuntimeError, match=SAME_DEVICE):
        op(b, a)


def test_cpu_scalar_tensors_meet_cuda_tensors_as_scalars():
    """PyTorch's rule: a 0-d CPU tensor (torch.tensor(2.0)) combines with a tensor on any device."""
    x = fastnn.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    for y, expected in ((x * fastnn.tensor(3.0), [3.0, 6.0]), (fastnn.tensor(1.0) - x, [0.0, -1.0]),
                        (x / fastnn.tensor(2, dtype=fastnn.int64), [0.5, 1.0]),
                        (fastnn.maximum(x, fastnn.tensor(1.5)), [1.5, 2.0]), (x.double() + fastnn.tensor(1.0),
                                                                                [2.0, 3.0])):
        assert y.device == CUDA0 and y.tolist() == expected
    assert (x * fastnn.tensor(2.0, dtype=fastnn.float64)).dtype is fastnn.float32  # a scalar does not promote
    (x * fastnn.tensor(3.0)).sum().backward()
    assert x.grad.device == CUDA0 and x.grad.tolist() == [3.0, 3.0]
    w = fastnn.tensor(3.0, requires_grad=True)  # as torch: it may require grad, its gradient goes to the CPU
    (x * w).sum().backward()
    assert w.grad.device == fastnn.device("cpu") and w.grad.item() == 3.0
    with pytest.raises(RuntimeError, match=SAME_DEVICE):
        x + fastnn.ones(1)  # one element, but not 0-d: not a scalar


def test_two_cuda_devices_raise_pytorchs_error(two_cuda):
    a = fastnn.ones(3, device="cuda:0")
    b = fastnn.ones(3, device="cuda:1")
    assert b.device == fastnn.device("cuda:1") and b.get_device() == 1
    assert backend_of(b._data) is get_backend("cuda:1") is not get_backend("cuda:0")
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:0 and cuda:1!$"):
        a + b
    with pytest.raises(RuntimeError, match=SAME_DEVICE + r"cuda:1 and cuda:0!$"):
        fastnn.matmul(b, a)
    moved = b.to("cuda:0")
    assert moved.device == CUDA0 and (a + moved).tolist() == [2.0, 2.0, 2.0]
    assert b.cuda(0).device == CUDA0 and a.cuda(1).device == fastnn.device("cuda:1")
    z = (b * 2).sum()
    assert z.device == fastnn.device("cuda:1") and z.item() == 6.0
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        fastnn.zeros(1, device="cuda:2")


def test_an_index_beyond_the_devices_is_torchs_error():
    n = fastnn.cuda.device_count()
    with pytest.raises(RuntimeError, match="^CUDA error: invalid device ordinal"):
        fastnn.zeros(2, device=f"cuda:{n}")
    with pytest.raises(RuntimeError, match="^CUDA error: invalid device ordinal"):
        fastnn.ones(2).to(f"cuda:{n + 3}")


# ---- out-of-range indices: CuPy wraps them, fastnn raises the CPU's IndexError ------------------------------
BAD_INDICES = [
    lambda t: t[5], lambda t: t[-3], lambda t: t[:, 3], lambda t: t[1, -4], lambda t: t[..., 3],
    lambda t: t[fastnn.tensor([0, 2], device=t.device)], lambda t: t[[0, 1], [1, 3]], lambda t: t[None, 0, 7],
    lambda t: t[:, fastnn.tensor([[0], [-4]], device=t.device)],
    lambda t: t.index_select(1, fastnn.tensor([0, 3], device=t.device)),
]


def _raised(fn):
    """(type, text) of the error fn raised: torch's IndexError, or its RuntimeError where torch's kernel
    checks (index_select along an inner dim)."""
    try:
        fn()
    except (IndexError, RuntimeError) as e:
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("index", BAD_INDICES, ids=range(len(BAD_INDICES)))
def test_out_of_range_indices_raise_the_cpus_index_error(index):
    cpu = fastnn.arange(6.0).reshape(2, 3)
    expected = _raised(lambda: index(cpu))
    assert expected is not None
    assert _raised(lambda: index(cpu.cuda())) == expected


def test_out_of_range_writes_raise_the_cpus_index_error():
    for write in (lambda t: t.__setitem__((0, 3), 1.0),
                  lambda t: t.__setitem__(fastnn.tensor([2], device=t.device), 0.0)):
        cpu = fastnn.zeros(2, 3)
        assert _raised(lambda: write(cpu.cuda())) == _raised(lambda: write(cpu)) is not None


CHECKED = [(5,), (-4,), (slice(None), 3), (Ellipsis, -4), (None, 2), (np.array([0, 2]),), (np.array([[1], [-3]]),),
           (np.array([True, False]), 4), (0, np.array([1, 3])), (Ellipsis, np.array([3]), slice(None))]


@pytest.mark.parametrize("index", CHECKED, ids=range(len(CHECKED)))
def test_check_index_says_what_numpy_says(index):
    """The backend's own check (which runs before CuPy could wrap an index) gives NumPy's message for the same
    index, so the ops turn it into the same PyTorch text as on the CPU."""
    shape = (2, 3, 1) if len(index) == 3 else (2, 3)
    host = np.zeros(shape)
    with pytest.raises(IndexError) as numpy_error:
        host[index]
    be = get_backend("cuda")
    dev_index = tuple(be.asarray(p) if isinstance(p, np.ndarray) else p for p in index)
    with pytest.raises(IndexError) as ours:
        be.check_index(shape, dev_index)
    assert str(ours.value) == str(numpy_error.value)
    be.check_index(shape, (1, -3))  # in range: no error
    be.check_index(shape, (be.asarray(np.array([-2, 1])), slice(None)))


# ---- the backend -------------------------------------------------------------------------------------------------
def test_get_backend_hands_out_one_backend_per_device():
    be = get_backend("cuda")
    assert isinstance(be, CudaBackend) and be.name == "cuda" and be.device == CUDA0 and be.device_id == 0
    assert be is get_backend("cuda:0") is get_backend(CUDA0) is get_backend(0)
    assert be is backend_of(fastnn.ones(1, device="cuda")._data)
    assert isinstance(be.stream(), int) and (be.stream() == 0 or not be.emulated)
    assert repr(be).startswith("<fastnn backend 'cuda' on cuda:0")


def test_errstate_is_a_no_op_and_nothing_warns():
    be = get_backend("cuda")
    with be.errstate(divide="raise", invalid="raise"):
        pass
    x = fastnn.tensor([0.0, 1.0, -1.0], device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fastnn.log(x) / x
    assert y[0].item() == float("-inf") and y[1].item() == 0.0 and np.isnan(y[2].item())


def test_the_native_kernels_are_those_of_the_mixins():
    """The kernels the backend serves with CUDA kernels: those its ``backend/cuda/<family>.py`` mixins define
    (when the device has a kernel module); everything else of the table is composite."""
    from fastnn.backend import table
    from fastnn.backend.cuda import kernel_mixins

    be = get_backend("cuda")
    native = be.native_kernels()
    print("native CUDA kernels:", native or "none (composite everywhere)")
    assert set(native) <= set(table.all_kernels())
    mixed_in = {n for cls in kernel_mixins() for n in vars(cls) if n in table.all_kernels()}
    expected = set() if be.native is None else mixed_in
    assert set(native) == expected
    for name in set(table.all_kernels()) - set(native):
        assert getattr(type(be), name) is getattr(fastnn.backend.composite.CompositeBackend, name), name


def test_scatter_at_accumulates_repeats():
    be = get_backend("cuda")
    for op, expected in (("add", [3.0, 2.0, 0.0]), ("maximum", [2.0, 2.0, 0.0]), ("minimum", [0.0, 0.0, 0.0])):
        out = be.zeros((3,), np.float32)
        idx = be.asarray(np.array([0, 1, 0]))
        be.scatter_at(out, idx, be.asarray(np.array([1.0, 2.0, 2.0], np.float32)), op)
        assert be.to_host(out).tolist() == expected, op


# ---- the emulated device's array module -----------------------------------------------------------------------
@emulated_only
def test_emulated_arrays_stay_on_their_device():
    be = get_backend("cuda")
    xp = be.xp
    a = xp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert type(a) is xp.ndarray and isinstance(a, np.ndarray)
    for result in (a + 1, a.sum(), a.sum(0), a.T, a[0], a[a > 2], xp.exp(a), np.exp(a), xp.concatenate([a, a]),
                   a.max(), a.argmax(), a.nonzero()[0], a.astype(np.float64), a.copy(), a @ a.T, xp.linalg.norm(a),
                   xp.where(a > 1, a, 0)):
        assert type(result) is xp.ndarray
    assert a.sum().shape == () and a.sum().item() == 15.0  # 0-d arrays, as CuPy, not NumPy scalars
    out = xp.zeros(3)
    assert xp.add(out, 1, out=out) is out and out.tolist() == [1.0, 1.0, 1.0]


@emulated_only
def test_emulated_device_refuses_silent_host_mixing():
    xp = get_backend("cuda").xp
    a = xp.ones(3, np.float32)
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        a + np.ones(3, np.float32)
    with pytest.raises(TypeError, match="Unsupported type"):
        xp.concatenate([a, np.ones(3, np.float32)])
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        a.__array__()  # (np.asarray of an ndarray subclass never asks it: the emulator's one hole)
    host = xp.asnumpy(a)
    assert type(host) is np.ndarray and type(a.get()) is np.ndarray
    host[0] = 5  # a copy
    assert a[0].item() == 1.0
    assert type(xp.asarray(host)) is xp.ndarray and xp.asarray(a) is not None


@emulated_only
def test_emulated_module_offers_cupys_names_only():
    xp = get_backend("cuda").xp
    for name in ("nanquantile", "errstate", "insert", "geomspace"):
        with pytest.raises(AttributeError, match=f"module 'cupy' has no attribute '{name}'"):
            getattr(xp, name)
    with pytest.raises(AttributeError, match="module 'cupy.linalg' has no attribute 'vector_norm'"):
        xp.linalg.vector_norm
    assert type(xp.quantile(xp.arange(5.0), 0.5)) is xp.ndarray and xp.linalg.norm is not None


@emulated_only
def test_emulated_devices_do_not_mix(two_cuda):
    a = get_backend("cuda:0").xp.ones(2)
    b = get_backend("cuda:1").xp.ones(2)
    assert type(a) is not type(b) and a.device.id == 0 and b.device.id == 1
    with pytest.raises(ValueError, match="Array device must be same as the current device"):
        a + b
    c = get_backend("cuda:0").xp.asarray(b)  # an explicit copy between devices, as CuPy's
    assert type(c) is type(a) and c.tolist() == [1.0, 1.0]


@emulated_only
def test_emulated_arrays_expose_the_cuda_array_interface():
    a = get_backend("cuda").xp.asarray(np.arange(12, dtype=np.float64).reshape(3, 4))
    cai = a.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (3, 4) and cai["typestr"] == "<f8"
    assert cai["strides"] is None and cai["stream"] is None and cai["data"] == (a.view(np.ndarray).ctypes.data, False)
    assert not hasattr(a, "__array_interface__") and not hasattr(a, "ctypes")  # as CuPy's arrays
    t = a.T.__cuda_array_interface__
    assert t["strides"] == (8, 32) and t["data"][0] == cai["data"][0]
    assert a.__dlpack_device__() == (2, 0)


def test_a_cuda_generator_draws_on_its_device():
    g = fastnn.Generator(device="cuda").manual_seed(5)
    assert g.device == CUDA0 and g.initial_seed() == 5
    a = fastnn.randn(4, device="cuda", generator=g)
    g.manual_seed(5)
    b = fastnn.randn(4, device="cuda", generator=g)
    assert a.is_cuda and np.array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert fastnn.randint(0, 5, (3,), device="cuda", generator=g).is_cuda
    assert sorted(fastnn.randperm(4, device="cuda", generator=g).tolist()) == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="^Expected a 'cpu' device type for generator but found 'cuda'$"):
        fastnn.randn(2, generator=g)
    with pytest.raises(NotImplementedError, match="get_state"):
        g.get_state()


# ---- in-place writes through views, with autograd ----------------------------------------------------------
INPLACE = {
    "setitem_row": lambda y, dev: y.__setitem__(0, fastnn.tensor([1.0, 2.0, 3.0], device=dev)),
    "mul_on_a_slice": lambda y, dev: y[1:3].mul_(3),
    "chained_add_relu": lambda y, dev: y.add_(1).relu_(),
    "through_a_transposed_view": lambda y, dev: y.t()[::2].mul_(0.5),
    "masked_fill_": lambda y, dev: y.masked_fill_(y > 10, 0.0),
    "index_add_": lambda y, dev: y.index_add_(0, fastnn.tensor([0, 0, 3], device=dev), fastnn.ones(3, 3, device=dev)),
    "scatter_": lambda y, dev: y.scatter_(1, fastnn.tensor([[0], [1], [2], [0]], device=dev), 9.0),
    "advanced_setitem": lambda y, dev: y.__setitem__((fastnn.tensor([0, 2], device=dev), slice(None)), 7.0),
    "copy_from_the_cpu": lambda y, dev: y[3].copy_(fastnn.tensor([4.0, 5.0, 6.0])),
}


@pytest.mark.parametrize("write", list(INPLACE))
def test_in_place_writes_through_views_match_the_cpu(write):
    def run(dev):
        w = fastnn.arange(12.0).reshape(4, 3).to(dev).requires_grad_()
        y = w * 2
        INPLACE[write](y, dev)
        (y * fastnn.arange(12.0).reshape(4, 3).to(dev)).sum().backward()
        return y.detach().cpu().numpy(), w.grad.cpu().numpy(), y._version

    (y0, g0, v0), (y1, g1, v1) = run("cpu"), run("cuda")
    np.testing.assert_array_equal(y1, y0)
    np.testing.assert_array_equal(g1, g0)
    assert v1 == v0


def test_a_saved_tensor_written_through_a_view_is_caught_on_cuda():
    x = fastnn.ones(3, device="cuda", requires_grad=True)
    y = x * 1
    z = y.exp()  # saves its output
    z[1:].mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


@emulated_only
def test_several_emulated_devices_keep_cupys_current_device_rule(two_cuda):
    one = get_backend("cuda:1")  # get_backend makes cuda:1 current (several devices)
    a = one.xp.ones(2)
    assert a.device.id == 1
    get_backend("cuda:0")
    with pytest.raises(ValueError, match="Array device must be same as the current device: array device = 1 "
                                         "while current = 0"):
        a + 1  # a bare array operation on a non-current device: CuPy's error
    with one.device_guard():
        assert (a + 1).device.id == 1 and one.xp.zeros(1).device.id == 1
    assert get_backend("cuda:0").xp.zeros(1).device.id == 0
    t = fastnn.Tensor._wrap(a)
    assert fastnn.matmul(t, t).device == fastnn.device("cuda:1")  # an op asking backend_of switches first
