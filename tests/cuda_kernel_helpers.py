"""Running a CUDA kernel binding in a test: on the emulator (fastnn._emu, host memory, every schedule)
always, and on a real GPU (fastnn._C.cuda with CuPy arrays) where one is present.

Use the ``target`` fixture (conftest.py imports it):

    def test_layer_norm(target):
        x = target.to_device(x_host)
        y = target.empty((rows, cols), np.float32)
        target.native.layer_norm_rows_f32(x, None, None, y, ..., device=0, stream=target.stream)
        np.testing.assert_allclose(target.to_host(y), reference, ...)
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

SCHEDULES = ("forward", "reverse", "random")


class HostDeviceArray:
    """A NumPy array posing as a device array for the emulator: it exposes only
    ``__cuda_array_interface__`` (so a binding can never mistake it for a host array)."""

    def __init__(self, a: np.ndarray):
        self.a = a

    @property
    def shape(self):
        return self.a.shape

    @property
    def dtype(self):
        return self.a.dtype

    @property
    def __cuda_array_interface__(self):
        a = self.a
        return {"shape": a.shape, "typestr": a.dtype.str, "data": (a.ctypes.data, not a.flags.writeable),
                "strides": None if a.flags.c_contiguous else a.strides, "version": 3}


class EmulatorTarget:
    name = "emu"
    stream = 0

    def __init__(self, schedule: str):
        self.native = importlib.import_module("fastnn._emu")
        self.schedule = schedule

    def to_device(self, a):
        return HostDeviceArray(np.array(a, copy=True))

    def empty(self, shape, dtype):
        return HostDeviceArray(np.full(shape, np.nan, dtype) if np.dtype(dtype).kind == "f" else
                               np.full(shape, -1, dtype))  # poisoned, so an unwritten output shows

    def to_host(self, d):
        return np.array(d.a, copy=True)

    def synchronize(self):
        pass


class CupyTarget:
    name = "cuda"
    schedule = None

    def __init__(self):
        import cupy

        from fastnn import _C

        self.cupy = cupy
        self.native = _C.cuda

    @property
    def stream(self):
        return self.cupy.cuda.get_current_stream().ptr

    def to_device(self, a):
        return self.cupy.asarray(np.ascontiguousarray(a))

    def empty(self, shape, dtype):
        return self.cupy.full(shape, np.nan if np.dtype(dtype).kind == "f" else -1, dtype)

    def to_host(self, d):
        return self.cupy.asnumpy(d)

    def synchronize(self):
        self.cupy.cuda.get_current_stream().synchronize()


def _real_gpu() -> bool:
    try:
        from fastnn import _C

        if not hasattr(_C, "cuda") or _C.cuda_device_count() == 0:
            return False
        importlib.import_module("cupy")
        return True
    except ImportError:
        return False


def _params():
    params = [pytest.param(("emu", s), id=f"emu-{s}") for s in SCHEDULES]
    params.append(pytest.param(("cuda", None), id="cuda", marks=[
        pytest.mark.cuda, pytest.mark.skipif(not _real_gpu(), reason="no CUDA GPU with CuPy")]))
    return params


@pytest.fixture(params=_params())
def target(request):
    kind, schedule = request.param
    if kind == "cuda":
        yield CupyTarget()
        return
    emu = importlib.import_module("fastnn._emu")
    emu.set_schedule(schedule, 11)
    try:
        yield EmulatorTarget(schedule)
    finally:
        emu.set_schedule("forward", 0)


def planted_barrier(kernel_file: str, marker: str):
    """Context manager: the __syncthreads on the line of ``kernel_file`` (under csrc/cuda/) holding
    ``marker`` (a comment) is left out while inside."""
    import contextlib
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "cuda" / kernel_file
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if marker in text)
    emu = importlib.import_module("fastnn._emu")

    @contextlib.contextmanager
    def planted():
        emu.plant_missing_barrier(path.name, line)
        try:
            yield emu
        finally:
            emu.plant_missing_barrier("", 0)
    return planted()


def schedules_catching(kernel_file: str, marker: str, wrong, seed: int = 3) -> set:
    """The schedules under which a kernel whose __syncthreads at ``marker`` (see ``planted_barrier``) is left
    out gives a wrong answer: ``wrong(schedule)`` runs it (that schedule already set) and says whether its
    result is wrong. Checks the planted site ran at all; leaves the forward schedule set."""
    caught = set()
    with planted_barrier(kernel_file, marker) as emu:
        try:
            for sched in SCHEDULES:
                emu.set_schedule(sched, seed)
                if wrong(sched):
                    caught.add(sched)
            assert emu.planted_barrier_hits() > 0
        finally:
            emu.set_schedule("forward", 0)
    return caught
