"""torch.cuda's streams and events, pinned memory with non_blocking copies, and the generators' states.

CI runs this on the emulated device (kernels synchronous, streams no-op objects with handles of their own,
events timed by the host clock at record time); a GPU machine runs it with FASTNN_CUDA=auto.
"""
import time
import warnings

import numpy as np
import pytest

import fastnn
from fastnn.backend import get_backend
from fastnn.data import DataLoader, Dataset, TensorDataset

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not fastnn.cuda.is_available(), reason="no CUDA device")]


class _StreamSpy:
    """The kernel module with every call's ``stream=`` argument recorded."""

    def __init__(self, native) -> None:
        self._native = native
        self.streams = []

    def __getattr__(self, name):
        fn = getattr(self._native, name)

        def call(*args, **kwargs):
            if "stream" in kwargs:
                self.streams.append(kwargs["stream"])
            return fn(*args, **kwargs)

        return call


# ---- streams ------------------------------------------------------------------------------------------------
def test_default_and_current_stream():
    cur, dflt = fastnn.cuda.current_stream(), fastnn.cuda.default_stream()
    assert cur == dflt and cur.cuda_stream == 0 and dflt.ptr == 0
    assert cur.device == fastnn.device("cuda:0") and fastnn.cuda.current_stream("cuda:0") == cur
    assert get_backend("cuda").stream() == 0


def test_stream_context_makes_kernels_use_the_stream(monkeypatch):
    be = get_backend("cuda")
    if "matmul" not in be.native_kernels():
        pytest.skip("no native matmul kernel in this build")
    spy = _StreamSpy(be.native)
    monkeypatch.setattr(be, "native", spy)
    a = fastnn.randn(16, 8, device="cuda")
    b = fastnn.randn(8, 4, device="cuda")
    s = fastnn.cuda.Stream()
    assert s != fastnn.cuda.default_stream() and s.cuda_stream != 0 and hash(s) != hash(fastnn.cuda.default_stream())
    with fastnn.cuda.stream(s) as entered:
        assert entered is s
        assert fastnn.cuda.current_stream() == s and be.stream() == s.cuda_stream
        y = a @ b
    assert spy.streams and spy.streams[-1] == s.cuda_stream
    assert fastnn.cuda.current_stream() == fastnn.cuda.default_stream()
    z = a @ b
    assert spy.streams[-1] == 0
    s.synchronize()
    np.testing.assert_allclose(y.cpu().numpy(), z.cpu().numpy(), rtol=1e-5)


def test_nested_streams_none_and_set_stream():
    s1, s2 = fastnn.cuda.Stream(), fastnn.cuda.Stream(priority=-1)
    with fastnn.cuda.stream(s1):
        with fastnn.cuda.stream(s2):
            assert fastnn.cuda.current_stream() == s2
        assert fastnn.cuda.current_stream() == s1
        with fastnn.cuda.stream(None):
            assert fastnn.cuda.current_stream() == s1
    assert fastnn.cuda.current_stream().cuda_stream == 0
    with s1:
        with s1:
            assert fastnn.cuda.current_stream() == s1
        assert fastnn.cuda.current_stream() == s1
        fastnn.cuda.set_stream(s2)  # inside a block: the block's end restores the stream before it
        assert fastnn.cuda.current_stream() == s2
    assert fastnn.cuda.current_stream().cuda_stream == 0
    fastnn.cuda.set_stream(s1)
    try:
        assert fastnn.cuda.current_stream() == s1
    finally:
        fastnn.cuda.set_stream(fastnn.cuda.default_stream())
    assert fastnn.cuda.current_stream().cuda_stream == 0


def test_priority_is_clamped_to_the_range():
    least, greatest = fastnn.cuda.Stream.priority_range()
    assert greatest <= least
    assert fastnn.cuda.Stream(priority=-100).priority == greatest
    assert fastnn.cuda.Stream(priority=100).priority == least
    assert fastnn.cuda.Stream().priority == 0


def test_stream_waits_events_and_queries():
    s1, s2 = fastnn.cuda.Stream(), fastnn.cuda.Stream()
    with fastnn.cuda.stream(s1):
        x = fastnn.ones(32, device="cuda") * 3
    ev = s1.record_event()
    assert isinstance(ev, fastnn.cuda.Event) and ev.device == fastnn.device("cuda:0")
    s2.wait_event(ev)
    s2.wait_stream(s1)
    ev.wait(s2)
    ev.wait()
    ev.synchronize()
    assert ev.query() and s1.query() and s2.query()
    mine = fastnn.cuda.Event()
    assert mine.query()  # never recorded
    assert s1.record_event(mine) is mine
    s2.synchronize()
    assert float(x.sum()) == 96.0


# ---- events and timing ------------------------------------------------------------------------------------
def test_torch_style_timing_snippet():
    start = fastnn.cuda.Event(enable_timing=True)
    end = fastnn.cuda.Event(enable_timing=True)
    a = fastnn.randn(32, 32, device="cuda")
    start.record()
    time.sleep(0.03)
    for _ in range(3):
        a = a @ a.t() / 32
    end.record()
    fastnn.cuda.synchronize()
    ms = start.elapsed_time(end)
    assert isinstance(ms, float) and 30.0 <= ms < 5000.0
    assert end.elapsed_time(start) < 0 or not fastnn.backend.cuda.runtime.emulated()


def test_elapsed_time_errors():
    plain, timed = fastnn.cuda.Event(), fastnn.cuda.Event(enable_timing=True)
    plain.record()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        plain.elapsed_time(timed)
    other = fastnn.cuda.Event(enable_timing=True)
    timed.record()
    with pytest.raises(RuntimeError, match="recorded"):
        timed.elapsed_time(other)


def test_streams_and_events_on_a_second_device(two_cuda):
    s1 = fastnn.cuda.Stream(device=1)
    assert s1.device == fastnn.device("cuda:1") and fastnn.cuda.current_device() == 0
    with fastnn.cuda.stream(s1):
        assert fastnn.cuda.current_device() == 1
        assert fastnn.cuda.current_stream() == s1 and fastnn.cuda.current_stream(0).cuda_stream == 0
        assert get_backend("cuda:1").stream() == s1.cuda_stream and get_backend("cuda:0").stream() == 0
        if fastnn.backend.cuda.runtime.emulated():  # the emulated array module answers as CuPy would
            xp1 = get_backend("cuda:1").xp
            assert xp1.cuda.get_current_stream().ptr == xp1.cuda.get_current_stream(1).ptr == s1.cuda_stream
            assert xp1.cuda.get_current_stream(0).ptr == 0
        y = fastnn.ones(4, device="cuda") + 1
    assert fastnn.cuda.current_device() == 0 and y.device == fastnn.device("cuda:1")
    ev = fastnn.cuda.Event()
    ev.record(fastnn.cuda.current_stream(0))
    with pytest.raises(RuntimeError, match="does not match"):
        ev.record(s1)


# ---- pinned memory and non_blocking copies ------------------------------------------------------------------
def test_pin_memory_and_is_pinned():
    t = fastnn.arange(12, dtype=fastnn.float32).reshape(3, 4)
    assert not t.is_pinned()
    p = t.pin_memory()
    assert p.is_pinned() and p.device.type == "cpu" and p.dtype is t.dtype and p.shape == t.shape
    np.testing.assert_array_equal(p.numpy(), t.numpy())
    assert p.pin_memory() is p and p[1:].is_pinned() and p.t().is_pinned()
    assert not p.clone().is_pinned() and not t.is_pinned()
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        t.cuda().pin_memory()
    assert not t.cuda().is_pinned()


def test_pin_memory_is_differentiable():
    x = fastnn.randn(5, requires_grad=True)
    (x.pin_memory() * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 2.0, np.float32))


def test_pin_memory_without_cuda(no_cuda):
    t = fastnn.ones(3)
    assert not t.is_pinned()
    with pytest.raises(RuntimeError, match="accelerator"):
        t.pin_memory()


def test_non_blocking_copies():
    p = fastnn.randn(4, 6).pin_memory()
    for y in (p.to("cuda", non_blocking=True), p.cuda(non_blocking=True), p.to("cuda", True),
              fastnn.randn(2).to("cuda", non_blocking=True)):
        assert y.is_cuda
    y = p.to("cuda", non_blocking=True)
    fastnn.cuda.current_stream().synchronize()
    np.testing.assert_array_equal(y.cpu().numpy(), p.numpy())
    s = fastnn.cuda.Stream()
    with fastnn.cuda.stream(s):
        z = p.cuda(non_blocking=True) * 2
    s.synchronize()
    np.testing.assert_array_equal(z.cpu().numpy(), p.numpy() * 2)


class _DictSet(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return {"x": fastnn.full((3,), float(i)), "y": i}


def test_dataloader_pin_memory_loop():
    xs, ys = fastnn.randn(10, 3), fastnn.arange(10)
    loader = DataLoader(TensorDataset(xs, ys), batch_size=4, pin_memory=True)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for xb, yb in loader:
            assert xb.is_pinned() and yb.is_pinned()
            xb, yb = xb.to("cuda", non_blocking=True), yb.cuda(non_blocking=True)
            assert xb.is_cuda and yb.is_cuda
            seen.append((xb.cpu().numpy(), yb.cpu().numpy()))
        for batch in DataLoader(_DictSet(), batch_size=3, pin_memory=True):
            assert batch["x"].is_pinned() and batch["y"].is_pinned()
            assert batch["x"].to("cuda", non_blocking=True).shape == (3, 3)
    np.testing.assert_array_equal(np.concatenate([s[0] for s in seen]), xs.numpy())
    np.testing.assert_array_equal(np.concatenate([s[1] for s in seen]), ys.numpy())


def test_dataloader_pin_memory_with_a_worker():
    xs = fastnn.randn(6, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader = DataLoader(TensorDataset(xs), batch_size=3, num_workers=1, pin_memory=True, timeout=30)
        pinned = [(xb.is_pinned(), xb.cuda(non_blocking=True)) for (xb,) in loader]
    got = [g for _, g in pinned]
    assert len(got) == 2 and all(p for p, _ in pinned) and all(g.is_cuda for g in got)
    np.testing.assert_array_equal(np.concatenate([g.cpu().numpy() for g in got]), xs.numpy())


def test_dataloader_pin_memory_warns_without_cuda(no_cuda):
    loader = DataLoader(TensorDataset(fastnn.ones(4, 2)), batch_size=2, pin_memory=True)
    with pytest.warns(UserWarning, match="no accelerator is found"):
        batches = list(loader)
    assert len(batches) == 2 and not batches[0][0].is_pinned()


# ---- generator states ---------------------------------------------------------------------------------------
def test_rng_state_round_trip():
    fastnn.cuda.manual_seed(123)
    state = fastnn.cuda.get_rng_state()
    assert state.dtype is fastnn.uint8 and state.device.type == "cpu" and state.ndim == 1
    a = fastnn.randn(8, device="cuda").cpu().numpy()
    b = fastnn.rand(3, device="cuda").cpu().numpy()
    fastnn.cuda.set_rng_state(state)
    np.testing.assert_array_equal(fastnn.randn(8, device="cuda").cpu().numpy(), a)
    np.testing.assert_array_equal(fastnn.rand(3, device="cuda").cpu().numpy(), b)
    assert not np.array_equal(fastnn.randn(8, device="cuda").cpu().numpy(), a)
    np.testing.assert_array_equal(fastnn.cuda.get_rng_state("cuda:0").numpy(), fastnn.cuda.get_rng_state(0).numpy())


def test_rng_state_all_and_errors(two_cuda):
    states = fastnn.cuda.get_rng_state_all()
    assert len(states) == fastnn.cuda.device_count() == 2
    a = [fastnn.randn(4, device=f"cuda:{i}").cpu().numpy() for i in range(2)]
    fastnn.cuda.set_rng_state_all(states)
    for i in range(2):
        np.testing.assert_array_equal(fastnn.randn(4, device=f"cuda:{i}").cpu().numpy(), a[i])
    with pytest.raises(TypeError, match="uint8"):
        fastnn.cuda.set_rng_state(states[0].float())
    with pytest.raises(RuntimeError, match="bytes"):
        fastnn.cuda.set_rng_state(states[0][:-1])
    with pytest.raises(RuntimeError, match="CPU"):
        fastnn.cuda.set_rng_state(states[0].cuda())
