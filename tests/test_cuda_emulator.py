"""The CUDA emulator (fastnn._emu) keeps the rules of the CUDA execution model: right answers from
correct kernels under every schedule, and a clear error (never a hang, never a pass) from broken ones.
The kernels here are the emulator's self-tests (csrc/cuda/emu/selftest_kernels.cpp); the library's own
kernels are tested through it in tests/test_cuda_kernels_*.py."""
import pathlib

import numpy as np
import pytest

_emu = pytest.importorskip("fastnn._emu")

SELFTEST = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "cuda" / "emu" / "selftest_kernels.cpp"


@pytest.fixture(params=["forward", "reverse", "random"])
def schedule(request):
    _emu.set_schedule(request.param, 7)
    yield request.param
    _emu.set_schedule("forward", 0)


def _line_of(marker):
    return next(i for i, line in enumerate(SELFTEST.read_text().splitlines(), 1) if marker in line)


@pytest.mark.parametrize("n", [1, 16, 40])
def test_tiled_matmul_with_shared_memory_and_barriers(schedule, n):
    rng = np.random.default_rng(n)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    np.testing.assert_allclose(_emu.selftest_tiled_matmul(a, b), a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


def test_warp_shuffles_and_ballot(schedule):
    x = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    out = _emu.selftest_warp_ops(x)
    w = x.reshape(2, 32).astype(np.float64)
    np.testing.assert_allclose(out[:, 0], np.repeat(w.sum(1), 32), atol=1e-5)       # xor butterfly: all lanes
    np.testing.assert_allclose(out[::32, 1], w.sum(1), atol=1e-5)                   # down-shift: lane 0 has it
    up = out[:, 2].reshape(2, 32)
    np.testing.assert_array_equal(up[:, 1:], w[:, :-1])                              # up by one
    np.testing.assert_array_equal(up[:, 0], w[:, 0])                                 # lane 0 keeps its own
    np.testing.assert_array_equal(out[:, 3].reshape(2, 32), np.repeat(w[:, 3:4], 32, 1))  # broadcast lane 3
    assert set(out[:, 4].astype(np.float64)) == {float(np.float32(0xAAAAAAAA))}     # ballot of odd lanes
    np.testing.assert_allclose(out[:, 5].reshape(4, 16),                            # width-16 groups, two masks
                               np.repeat(x.reshape(4, 16).astype(np.float64).sum(1, keepdims=True), 16, 1), atol=1e-5)


def test_atomics_across_blocks_and_syncthreads_count(schedule):
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    np.testing.assert_allclose(_emu.selftest_block_sum(x, 128)[0], x.astype(np.float64).sum(), rtol=1e-4)
    assert _emu.selftest_count_odd(96) == 48


def test_shared_memory_starts_poisoned_in_every_block():
    out = _emu.selftest_read_unwritten_shared(3)
    np.testing.assert_array_equal(out[:64], np.tile([1.0, 2.0], (64, 1)))  # block 0 reads what it wrote
    assert np.isnan(out[64:]).all()  # later blocks see neither zeros nor block 0's data (static and dynamic)


@pytest.mark.parametrize("kernel, message", [
    ("divergent_barrier", r"divergent __syncthreads: thread \(0,0,0\) waits at selftest_kernels.cpp:\d+, "
                          r"thread \(16,0,0\) at selftest_kernels.cpp:\d+"),
    ("exit_before_barrier", r"24 thread\(s\) exited while 40 wait at __syncthreads"),
    ("shuffle_with_exited_lanes", r"__shfl_xor_sync with mask 0xffffffff in warp 0 can never complete: lane 16 exited"),
])
def test_broken_kernels_raise_naming_the_kernel(schedule, kernel, message):
    with pytest.raises(RuntimeError, match=f"fastnn CUDA emulator: {kernel}: block \\(0,0,0\\): {message}"):
        _emu.selftest_broken(kernel)


@pytest.mark.parametrize("marker, caught_by", [
    # Without the barrier after the loads a thread reads tile entries others have not written yet: only a
    # schedule that runs some thread's reads before another's writes shows it (random does; forward and
    # reverse orders each happen to write before they read in this kernel, or read the poison).
    ("SELFTEST_BARRIER_LOADED", {"random"}),
    # Without the barrier after the multiply, fast threads overwrite the tile slower ones still read.
    ("SELFTEST_BARRIER_CONSUMED", {"forward", "reverse", "random"}),
])
def test_a_planted_missing_barrier_is_caught(marker, caught_by):
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((32, 32)).astype(np.float32) for _ in range(2))
    want = a.astype(np.float64) @ b
    caught = set()
    try:
        _emu.plant_missing_barrier(SELFTEST.name, _line_of(marker))
        for sched in _emu.schedules():
            _emu.set_schedule(sched, 3)
            got = _emu.selftest_tiled_matmul(a, b)
            if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
                caught.add(sched)
        assert _emu.planted_barrier_hits() > 0
    finally:
        _emu.plant_missing_barrier("", 0)
        _emu.set_schedule("forward", 0)
    assert caught_by <= caught, caught
    assert "random" in caught  # the seeded random schedule is the one every kernel test relies on


def test_bad_schedule_and_launch_configuration():
    with pytest.raises(ValueError, match="set_schedule: schedule must be"):
        _emu.set_schedule("sideways")
    with pytest.raises(RuntimeError, match="invalid launch configuration"):
        _emu.selftest_count_odd(2048)  # more than 1024 threads per block
