"""The backend seam itself: backend_of / get_backend, the kernel table on every backend, the switch to
the composite backend, and the CPU-only memory trick the engine relies on."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.backend import Backend, active_cpu, backend_of, get_backend
from fastnn.backend.composite import CompositeBackend
from fastnn.backend.cpu import CpuBackend
from fastnn.backend.table import KERNELS, all_kernels

CPU = fastnn.device("cpu")


def test_backend_of_numpy_is_the_cpu_singleton():
    a, b = np.zeros(3), np.ones((2, 2), np.float32)
    assert backend_of(a) is backend_of(b) is active_cpu()
    assert backend_of(a).device == CPU and backend_of(a).xp is np


def test_backend_of_skips_none_and_scalars():
    assert backend_of(None, 1.5, np.float32(2), np.zeros(2)) is active_cpu()
    assert backend_of() is active_cpu()  # nothing to inspect: the default device
    assert backend_of(None, 3) is active_cpu()


def test_backend_of_numpy_subclass(tmp_path):
    mm = np.memmap(tmp_path / "x.bin", dtype=np.float32, mode="w+", shape=(4,))
    assert backend_of(mm) is active_cpu()


def test_backend_of_unknown_type_is_a_clear_type_error():
    with pytest.raises(TypeError, match="no backend holds arrays of type builtins.list"):
        backend_of([1, 2])


class _FakeDevice(CompositeBackend):
    """A second device for the mixed-device check: a backend registered for a marker array type."""
    name = "fake"


class _FakeArray(np.ndarray):
    pass


def test_mixed_devices_raise_pytorchs_error(monkeypatch):
    from fastnn.backend import registry

    fake = _FakeDevice(fastnn.device("cuda:1"))
    monkeypatch.setitem(registry._BY_TYPE, _FakeArray, fake)
    other = np.zeros(2).view(_FakeArray)
    assert backend_of(other) is fake
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but found at least two "
                                           "devices, cpu and cuda:1!"):
        backend_of(np.zeros(2), other)


def test_get_backend():
    assert get_backend() is get_backend("cpu") is get_backend(CPU) is active_cpu()
    with pytest.raises(ValueError, match="Expected one of cpu, cuda device type"):
        get_backend("tpu")


def test_get_backend_without_cuda_raises_pytorchs_error(no_cuda):
    with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
        get_backend("cuda:0")


@pytest.mark.parametrize("cls", [CompositeBackend, CpuBackend])
def test_every_backend_has_every_kernel(cls):
    be = cls(CPU)
    assert isinstance(be, Backend)
    missing = [name for name in all_kernels() if not callable(getattr(be, name, None))]
    assert not missing, f"{cls.__name__} lacks kernels {missing}"


def test_kernel_names_are_unique_and_the_composite_defines_each_one():
    names = all_kernels()
    assert len(names) == len(set(names))
    # The composite backend is the reference: each kernel is its own method, not inherited from Backend.
    for family, kernels in KERNELS.items():
        for name in kernels:
            owner = next(c for c in CompositeBackend.__mro__ if name in c.__dict__)
            assert owner.__module__ == f"fastnn.backend.composite.{family}", (name, owner)


def test_every_cpu_kernel_is_native():
    # A CPU kernel that silently fell back to its composite twin would pass every parity test and lose
    # the speed: each one must be defined by the CPU family module.
    for family, kernels in KERNELS.items():
        for name in kernels:
            owner = next(c for c in CpuBackend.__mro__ if name in c.__dict__)
            assert owner.__module__ == f"fastnn.backend.cpu.{family}", (name, owner)


def test_errstate_is_numpys_on_the_cpu():
    be = active_cpu()
    with be.errstate(divide="ignore"):
        assert np.geterr()["divide"] == "ignore"


def test_errstate_is_a_no_op_without_one():
    # The base class's errstate, for an array module that keeps no FP error state (CuPy).
    class _NoErrstate:
        pass

    class _Device(Backend):
        xp = _NoErrstate()

    before = np.geterr()
    with _Device(CPU).errstate(divide="ignore") as ctx:
        assert ctx is None and np.geterr() == before  # nothing was set anywhere


def test_host_transfer_on_the_cpu_is_identity():
    arr = np.arange(3.0)
    be = active_cpu()
    assert be.to_host(arr) is arr and be.from_host(arr) is arr


def test_generator_is_fastnns_cpu_generator():
    fastnn.manual_seed(3)
    a = active_cpu().generator().standard_normal(4)
    fastnn.manual_seed(3)
    assert np.array_equal(a, fastnn.random.generator().standard_normal(4))


def test_exclusive_ownership_is_a_cpu_trick():
    cpu, comp = CpuBackend(CPU), CompositeBackend(CPU)
    fresh = np.zeros(8)
    assert cpu.exclusively_owned(fresh)
    assert not comp.exclusively_owned(fresh)  # the composite backend always copies
    owners = [fresh, fresh, fresh]  # noqa: F841  (three more references: someone else can see it)
    assert not cpu.exclusively_owned(fresh)
    assert not cpu.exclusively_owned(np.zeros(4)[::2])  # a strided view: its base is bigger than it
    read_only = np.zeros(3)
    read_only.flags.writeable = False
    assert not cpu.exclusively_owned(read_only)


def test_engine_adopts_a_fresh_gradient_without_a_copy():
    from fastnn.autograd.graph import record

    made = []

    def backward(g):
        fresh = np.full(5, 2.0, np.float32)  # referenced by nothing but the engine once returned
        made.append(id(fresh))
        return (fresh,)

    x = fastnn.randn(5, requires_grad=True)
    record(fastnn.Tensor._wrap(x._data * 2), "TwiceBackward0", (x,), backward).backward(fastnn.ones(5))
    adopted = id(x.grad._data) == made[0]
    assert adopted == (active_cpu().name == "cpu")  # the composite backend always copies
    # add's backward hands one array to both inputs: neither may alias the other's .grad.
    a, b = fastnn.randn(3, requires_grad=True), fastnn.randn(3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad._data, b.grad._data)


def test_composite_switch_serves_numpy_arrays():
    code = ("import fastnn, numpy as np; from fastnn.backend import backend_of; "
            "be = backend_of(np.zeros(2)); print(be.name, type(be).__name__)")
    env = dict(os.environ, FASTNN_BACKEND="composite")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["composite", "CompositeBackend"]


def test_unknown_backend_switch_is_refused():
    env = dict(os.environ, FASTNN_BACKEND="tpu")
    out = subprocess.run([sys.executable, "-c", "import fastnn"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "FASTNN_BACKEND='tpu' is not one of cpu, composite" in out.stderr


def test_ops_results_stay_on_the_input_backend(device):
    x = fastnn.randn(3, 4, device=device) if device != "cpu" else fastnn.randn(3, 4)
    be = backend_of(x._data)
    for out in (x @ x.T, x.relu(), x.softmax(-1), x.sum(0), x[1:], fastnn.cat([x, x])):
        assert backend_of(out._data) is be
