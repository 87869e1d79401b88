"""device= on every creation function: 'cpu', a fastnn.device and None create on the CPU backend; a CUDA
device without a CUDA device raises PyTorch's RuntimeError; *_like follow their tensor's backend (the CUDA
side: tests/test_cuda_device.py)."""
import numpy as np
import pytest

import fastnn
from fastnn.backend import active_cpu, backend_of

# (name, call taking device=) for every creation function that allocates
CREATORS = [
    ("tensor", lambda device: fastnn.tensor([1.0, 2.0], device=device)),
    ("tensor_from_array", lambda device: fastnn.tensor(np.arange(3), device=device)),
    ("as_tensor", lambda device: fastnn.as_tensor([1, 2], device=device)),
    ("zeros", lambda device: fastnn.zeros(2, 3, device=device)),
    ("ones", lambda device: fastnn.ones(2, device=device)),
    ("empty", lambda device: fastnn.empty(4, device=device)),
    ("full", lambda device: fastnn.full((2,), 7, device=device)),
    ("eye", lambda device: fastnn.eye(3, device=device)),
    ("arange", lambda device: fastnn.arange(0.0, 1.0, 0.25, device=device)),
    ("arange_int", lambda device: fastnn.arange(5, device=device)),
    ("linspace", lambda device: fastnn.linspace(0, 1, 5, device=device)),
    ("rand", lambda device: fastnn.rand(3, device=device)),
    ("randn", lambda device: fastnn.randn(3, device=device)),
    ("randint", lambda device: fastnn.randint(0, 9, (4,), device=device)),
    ("randperm", lambda device: fastnn.randperm(5, device=device)),
    ("zeros_like", lambda device: fastnn.zeros_like(fastnn.ones(2), device=device)),
    ("ones_like", lambda device: fastnn.ones_like(fastnn.ones(2), device=device)),
    ("empty_like", lambda device: fastnn.empty_like(fastnn.ones(2), device=device)),
    ("full_like", lambda device: fastnn.full_like(fastnn.ones(2), 3.0, device=device)),
    ("rand_like", lambda device: fastnn.rand_like(fastnn.ones(2), device=device)),
    ("randn_like", lambda device: fastnn.randn_like(fastnn.ones(2), device=device)),
    ("from_numpy", lambda device: fastnn.from_numpy(np.ones(2, np.float32), device=device)),
    ("from_dlpack", lambda device: fastnn.from_dlpack(np.ones(2, np.float32), device=device)),
]
IDS = [name for name, _ in CREATORS]
CALLS = [call for _, call in CREATORS]


@pytest.mark.parametrize("device", [None, "cpu", "cpu:0", fastnn.device("cpu")], ids=repr)
@pytest.mark.parametrize("make", CALLS, ids=IDS)
def test_cpu_devices_create_on_the_cpu_backend(make, device):
    t = make(device)
    assert t.device == fastnn.device("cpu")
    assert backend_of(t._data) is active_cpu()


@pytest.mark.parametrize("device", ["cuda", "cuda:1", fastnn.device("cuda", 0)], ids=repr)
@pytest.mark.parametrize("make", CALLS, ids=IDS)
def test_cuda_without_a_device_raises_the_clear_error(make, device, no_cuda):
    with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
        make(device)


@pytest.mark.parametrize("make", CALLS, ids=IDS)
def test_unknown_device_type_is_a_value_error(make):
    with pytest.raises(ValueError, match="device type"):
        make("tpu")


def test_results_match_the_defaults():
    """device='cpu' changes where, not what: same values, dtypes and shapes as with no device."""
    for name, make in CREATORS:
        if name.startswith(("rand", "empty")):
            continue
        a, b = make(None), make("cpu")
        assert a.dtype is b.dtype and a.shape == b.shape, name
        assert np.array_equal(a.numpy(), b.numpy()), name
    fastnn.manual_seed(5)
    a = fastnn.randn(4, device="cpu")
    fastnn.manual_seed(5)
    assert np.array_equal(a.numpy(), fastnn.randn(4).numpy())


def test_copies_and_sharing_keep_their_rules():
    arr = np.ones(3, np.float32)
    t = fastnn.tensor(arr, device="cpu")
    arr[0] = 5
    assert t[0].item() == 1.0  # tensor() never aliases
    shared = fastnn.from_numpy(arr, device="cpu")
    arr[1] = 7
    assert shared[1].item() == 7.0  # from_numpy on the CPU shares memory
    src = fastnn.ones(2)
    assert fastnn.as_tensor(src, device="cpu") is src
    assert fastnn.as_tensor(src, device=fastnn.device("cpu")) is src
    copy = fastnn.tensor(src)
    assert copy is not src and copy._data is not src._data


def test_like_defaults_to_the_dtype_and_backend_of_its_tensor():
    t = fastnn.ones(2, 3, dtype=fastnn.float64)
    for fn in (fastnn.zeros_like, fastnn.ones_like, fastnn.empty_like, fastnn.rand_like, fastnn.randn_like):
        out = fn(t)
        assert out.shape == t.shape and out.dtype is fastnn.float64
        assert backend_of(out._data) is backend_of(t._data)
    assert fastnn.full_like(t, 2).tolist() == [[2.0] * 3] * 2


def test_from_numpy_still_refuses_other_types():
    with pytest.raises(TypeError, match="expected np.ndarray"):
        fastnn.from_numpy([1.0, 2.0], device="cpu")
