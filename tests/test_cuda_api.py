"""``fastnn.cuda`` (torch.cuda's API), the FASTNN_CUDA modes, DLPack and ``__cuda_array_interface__`` both ways,
and save/load of CUDA tensors with torch's ``map_location`` rules.

Runs on the emulated device in CI (conftest: FASTNN_CUDA=emulate) and on a GPU with FASTNN_CUDA=auto.
"""
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.backend.cuda import runtime
from fastnn.utils import dlpack

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]
CUDA0 = fastnn.device("cuda:0")
CPU = fastnn.device("cpu")


# ---- fastnn.cuda -------------------------------------------------------------------------------------------
def test_availability_and_devices():
    assert fastnn.cuda.is_available() and fastnn.cuda.device_count() >= 1
    assert fastnn.cuda.current_device() == 0
    fastnn.zeros(1, device="cuda")
    assert fastnn.cuda.is_initialized()
    fastnn.cuda.synchronize()
    fastnn.cuda.synchronize(0)
    fastnn.cuda.synchronize("cuda:0")
    assert isinstance(fastnn.cuda.status(), str)


def test_set_device_and_the_device_context(two_cuda):
    assert fastnn.cuda.device_count() == 2 or not runtime.emulated()
    try:
        fastnn.cuda.set_device(1)
        assert fastnn.cuda.current_device() == 1
        assert fastnn.zeros(2, device="cuda").device == fastnn.device("cuda:1")  # 'cuda' is the current device
        assert fastnn.ones(2).cuda().device == fastnn.device("cuda:1")
        with fastnn.cuda.device(0):
            assert fastnn.cuda.current_device() == 0 and fastnn.zeros(1, device="cuda").get_device() == 0
        assert fastnn.cuda.current_device() == 1
        with fastnn.cuda.device("cuda:0"):
            assert fastnn.cuda.current_device() == 0
        with fastnn.cuda.device(None):
            assert fastnn.cuda.current_device() == 1
        fastnn.cuda.set_device(-1)  # torch: a no-op
        assert fastnn.cuda.current_device() == 1
        with fastnn.cuda.device_of(fastnn.ones(1, device="cuda:0")):
            assert fastnn.cuda.current_device() == 0
        fastnn.cuda.set_device(fastnn.device("cuda:0"))
        assert fastnn.cuda.current_device() == 0
    finally:
        fastnn.cuda.set_device(0)
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        fastnn.cuda.set_device(2)


def test_seeding_functions():
    fastnn.cuda.manual_seed(5)
    assert fastnn.cuda.initial_seed() == 5
    a = fastnn.randn(3, device="cuda")
    fastnn.cuda.manual_seed_all(5)
    assert np.array_equal(a.cpu().numpy(), fastnn.randn(3, device="cuda").cpu().numpy())
    fastnn.cuda.seed()
    s = fastnn.cuda.initial_seed()
    b = fastnn.randn(3, device="cuda")
    fastnn.cuda.manual_seed(s)
    assert np.array_equal(b.cpu().numpy(), fastnn.randn(3, device="cuda").cpu().numpy())
    fastnn.cuda.seed_all()
    with pytest.raises(TypeError):
        fastnn.cuda.manual_seed(1.5)


def test_memory_queries_follow_allocations():
    fastnn.cuda.empty_cache()
    before = fastnn.cuda.memory_allocated()
    x = fastnn.zeros(1 << 20, device="cuda")  # 4 MiB
    assert fastnn.cuda.memory_allocated() - before >= 4 << 20
    assert fastnn.cuda.max_memory_allocated() >= fastnn.cuda.memory_allocated()
    assert fastnn.cuda.memory_reserved() >= fastnn.cuda.memory_allocated() or not runtime.emulated()
    y = x * 2  # results of ops count too
    assert fastnn.cuda.memory_allocated() - before >= 8 << 20
    del x, y
    assert fastnn.cuda.memory_allocated() - before < 1 << 20
    assert fastnn.cuda.max_memory_allocated() - before >= 8 << 20
    fastnn.cuda.reset_peak_memory_stats()
    assert fastnn.cuda.max_memory_allocated() - before < 1 << 20
    fastnn.cuda.empty_cache()


def test_device_properties():
    name = fastnn.cuda.get_device_name()
    assert isinstance(name, str) and name and name == fastnn.cuda.get_device_name(0)
    major, minor = fastnn.cuda.get_device_capability()
    assert isinstance(major, int) and isinstance(minor, int)
    props = fastnn.cuda.get_device_properties(0)
    assert props.name == name and props.major == major and props.warp_size == 32
    assert "_CudaDeviceProperties(name=" in repr(props)
    if not runtime.emulated():
        assert major >= 7 and props.total_memory > 0 and props.multi_processor_count > 0


def test_without_cuda_the_api_answers_as_torch(no_cuda):
    assert not fastnn.cuda.is_available() and fastnn.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
        fastnn.cuda.current_device()
    with pytest.raises(RuntimeError, match="No CUDA GPUs are available"):
        fastnn.cuda.memory_allocated()
    fastnn.cuda.manual_seed(3)  # kept for later, as torch's lazy seeding: no error
    fastnn.cuda.empty_cache()
    assert "off" in fastnn.cuda.status()


# ---- the FASTNN_CUDA modes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, mode", [(None, ("auto", None)), ("", ("auto", None)), ("auto", ("auto", None)),
                                        ("AUTO", ("auto", None)), ("ON", ("auto", None)), ("OFF", ("off", 0)),
                                        ("off", ("off", 0)), ("emulate", ("emulate", 1)),
                                        ("emulate:3", ("emulate", 3)), (" Emulate:2 ", ("emulate", 2))])
def test_mode_values(spec, mode):
    assert runtime.parse(spec) == mode


@pytest.mark.parametrize("spec", ["gpu", "emulate:x", "emulate:-1", "emulate:"])
def test_bad_mode_values(spec):
    if spec == "emulate:":
        assert runtime.parse(spec) == ("emulate", 1)
        return
    with pytest.raises(ValueError, match="FASTNN_CUDA="):
        runtime.parse(spec)


def _python(code, **env):
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_the_mode_is_read_at_the_first_query_not_at_import():
    code = ("import os, sys, fastnn; os.environ['FASTNN_CUDA'] = 'emulate:3'; "
            "print(fastnn.cuda.device_count(), fastnn.zeros(1, device='cuda:2').device, 'cupy' in sys.modules)")
    r = _python(code, FASTNN_CUDA="off")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["3", "cuda:2", "False"]


# ---- DLPack and the CUDA Array Interface ------------------------------------------------------------------------
def _ptr(t) -> int:
    return t.__cuda_array_interface__["data"][0]


def test_dlpack_round_trips_without_a_copy():
    g = fastnn.arange(6.0, device="cuda").reshape(2, 3)
    assert g.__dlpack_device__() == (2, 0)
    h = fastnn.from_dlpack(g)  # the producer's device, not the CPU
    assert h.device == CUDA0 and _ptr(h) == _ptr(g)
    h[0, 0] = 7.0
    assert g[0, 0].item() == 7.0
    k = dlpack.from_dlpack(dlpack.to_dlpack(g))  # through a bare capsule
    assert k.device == CUDA0 and _ptr(k) == _ptr(g)
    cap = dlpack.to_dlpack(g)
    dlpack.from_dlpack(cap)
    with pytest.raises(BufferError):
        dlpack.from_dlpack(cap)  # a capsule is consumed once
    c = fastnn.arange(3.0)
    d = dlpack.from_dlpack(dlpack.to_dlpack(c))
    assert d.device == CPU and d._data.ctypes.data == c._data.ctypes.data
    with pytest.raises(RuntimeError, match="requires grad"):
        fastnn.ones(2, device="cuda", requires_grad=True).__dlpack__()


@pytest.mark.skipif(not runtime.emulated(), reason="the emulated device's memory is host memory")
def test_emulated_capsules_claim_cuda_memory():
    g = fastnn.ones(3, device="cuda")
    with pytest.raises(RuntimeError):  # NumPy refuses a CUDA capsule, as it refuses CuPy's
        np.from_dlpack(g)
    with pytest.raises(BufferError, match="DLPack device"):
        fastnn.from_dlpack(np.ones(3), device="cuda")  # a host producer for a CUDA consumer: refused, not copied


def test_cuda_array_interface_both_ways():
    g = fastnn.arange(12.0, device="cuda").reshape(3, 4)
    cai = g.__cuda_array_interface__
    assert cai["version"] == 3 and cai["shape"] == (3, 4) and cai["typestr"] == "<f4" and cai["strides"] is None
    assert g.t().__cuda_array_interface__["strides"] == (4, 16)

    class Foreign:  # what a torch CUDA tensor or a Numba array shows
        def __init__(self, owner):
            self.owner = owner
            self.__cuda_array_interface__ = owner.__cuda_array_interface__

    f = fastnn.as_tensor(Foreign(g))
    assert f.device == CUDA0 and _ptr(f) == _ptr(g) and f.shape == (3, 4) and f.dtype is fastnn.float32
    f[1, 1] = -1.0
    assert g[1, 1].item() == -1.0
    assert fastnn.as_tensor(g._data)._data is g._data  # the backend's own array: wrapped as is
    with pytest.raises(AttributeError, match=r"^Can't get __cuda_array_interface__ on non-CUDA tensor type: "
                                             r"torch\.FloatTensor If CUDA data is required use tensor\.cuda\(\) "
                                             r"to copy tensor to device memory\.$"):
        fastnn.ones(2).__cuda_array_interface__
    assert not hasattr(fastnn.ones(2), "__cuda_array_interface__")
    with pytest.raises(RuntimeError, match="requires grad"):
        fastnn.ones(2, device="cuda", requires_grad=True).__cuda_array_interface__


def test_cupy_arrays_are_wrapped_without_a_copy():
    if runtime.emulated():
        pytest.skip("needs a real GPU (CuPy arrays)")
    cupy = pytest.importorskip("cupy")
    a = cupy.arange(4, dtype=cupy.float32)
    t = fastnn.as_tensor(a)
    assert t.device == CUDA0 and t._data is a
    b = cupy.from_dlpack(t)
    assert b.data.ptr == a.data.ptr


# ---- save / load --------------------------------------------------------------------------------------------
def _saved(obj):
    buf = io.BytesIO()
    fastnn.save(obj, buf)
    buf.seek(0)
    return buf


def _state():
    return {"w": fastnn.arange(6.0, device="cuda").reshape(2, 3), "n": fastnn.tensor([1, 2], device="cuda"),
            "c": fastnn.ones(2), "p": fastnn.ones(2, device="cuda", requires_grad=True)}


@pytest.mark.parametrize("where, expected", [
    (None, {"w": "cuda:0", "n": "cuda:0", "c": "cpu", "p": "cuda:0"}),
    ("cpu", {"w": "cpu", "n": "cpu", "c": "cpu", "p": "cpu"}),
    (CPU, {"w": "cpu", "n": "cpu", "c": "cpu", "p": "cpu"}),
    ("cuda", {"w": "cuda:0", "n": "cuda:0", "c": "cuda:0", "p": "cuda:0"}),
    ({"cuda:0": "cpu"}, {"w": "cpu", "n": "cpu", "c": "cpu", "p": "cpu"}),
    ({"cpu": "cuda:0"}, {"w": "cuda:0", "n": "cuda:0", "c": "cuda:0", "p": "cuda:0"}),
    (lambda storage, loc: storage, {"w": "cpu", "n": "cpu", "c": "cpu", "p": "cpu"}),
    (lambda storage, loc: storage.cuda(), {"w": "cuda:0", "n": "cuda:0", "c": "cuda:0", "p": "cuda:0"}),
    (lambda storage, loc: None, {"w": "cuda:0", "n": "cuda:0", "c": "cpu", "p": "cuda:0"}),
], ids=["none", "cpu", "cpu_device", "cuda", "dict_to_cpu", "dict_to_cuda", "fn_cpu", "fn_cuda", "fn_none"])
@pytest.mark.parametrize("container", ["safetensors", "pickle"])
def test_load_restores_the_saved_device_unless_mapped(where, expected, container):
    state = _state()
    if container == "pickle":  # an object safetensors cannot hold: the whole dict goes to the pickle container
        state["extra"] = {1 + 2j}
    back = fastnn.load(_saved(state), map_location=where, weights_only=container != "pickle")
    for key, dev in expected.items():
        assert str(back[key].device) == dev, key
        assert back[key].tolist() == state[key].tolist() and back[key].dtype is state[key].dtype
    assert back["p"].requires_grad and not back["w"].requires_grad


def test_a_file_saved_on_cuda_without_cuda_is_torchs_error(cuda_mode):
    buf = _saved({"w": fastnn.ones(2, device="cuda")})
    cuda_mode("off")
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device but "
                                           r"fastnn\.cuda\.is_available\(\) is False"):
        fastnn.load(buf)
    buf.seek(0)
    assert fastnn.load(buf, map_location="cpu")["w"].device == CPU


def test_save_writes_host_bytes_a_plain_reader_can_read(tmp_path):
    safetensors = pytest.importorskip("safetensors.numpy")
    fastnn.save({"w": fastnn.arange(3.0, device="cuda")}, tmp_path / "m.st")
    assert safetensors.load_file(str(tmp_path / "m.st"))["w"].tolist() == [0.0, 1.0, 2.0]


def test_devices_beyond_the_count_and_remapping_between_devices(two_cuda):
    buf = _saved({"w": fastnn.ones(2, device="cuda:1")})
    assert fastnn.load(buf)["w"].device == fastnn.device("cuda:1")
    buf.seek(0)
    assert fastnn.load(buf, map_location={"cuda:1": "cuda:0"})["w"].device == CUDA0


def test_pickled_cuda_tensors_and_parameters_come_back_on_their_device():
    t = fastnn.arange(3.0, device="cuda")
    back = pickle.loads(pickle.dumps(t))
    assert back.device == CUDA0 and back.tolist() == [0.0, 1.0, 2.0]
    m = fastnn.nn.Linear(2, 2).cuda()
    m.register_buffer("b", fastnn.ones(1, device="cuda"))
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.weight.device == CUDA0 and m2.b.device == CUDA0 and type(m2.weight) is fastnn.nn.Parameter
    old = pickle.loads(pickle.dumps(fastnn.ones(2)))  # a CPU tensor: its pickle records no device
    assert old.device == CPU


CUDA_API = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed",
            "manual_seed_all", "seed", "seed_all", "initial_seed", "empty_cache", "get_device_name",
            "get_device_capability", "get_device_properties", "memory_allocated", "max_memory_allocated",
            "memory_reserved", "reset_peak_memory_stats", "is_initialized"]


@pytest.mark.torch
@pytest.mark.parametrize("name", CUDA_API)
def test_signatures_are_torch_cudas(name):
    import inspect

    torch = pytest.importorskip("torch")

    def params(f):
        sig = inspect.signature(f)
        return [(p.name, p.kind, p.default is inspect.Parameter.empty) for p in sig.parameters.values()]

    assert params(getattr(fastnn.cuda, name)) == params(getattr(torch.cuda, name))
    assert params(fastnn.cuda.device.__init__) == params(torch.cuda.device.__init__)
    assert params(fastnn.cuda.device_of.__init__) == params(torch.cuda.device_of.__init__)
