"""The CUDA half of the build: the two kernel modules agree, a CUDA build without a GPU fails cleanly,
and importing fastnn costs neither CuPy nor the emulator."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _C

_emu = pytest.importorskip("fastnn._emu")
needs_cuda_build = pytest.mark.skipif(not hasattr(_C, "cuda"), reason="fastnn built without CUDA (no nvcc)")


def _kernels(module):
    return {n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))}


def test_emulator_module_has_the_emulator_controls_and_kernels():
    assert {"set_schedule", "schedules", "plant_missing_barrier", "stats"} <= _kernels(_emu)
    assert "layer_norm_rows_f32" in _kernels(_emu)


@needs_cuda_build
def test_the_gpu_module_and_the_emulator_serve_the_same_kernels():
    controls = {n for n in _kernels(_emu) if n.startswith("selftest_")} | {
        "set_schedule", "schedule", "schedules", "plant_missing_barrier", "planted_barrier_hits", "stats"}
    assert _kernels(_C.cuda) == _kernels(_emu) - controls


class _FakeDeviceArray:
    """Host memory behind a __cuda_array_interface__: enough for the binding's checks to pass."""

    def __init__(self, a):
        self.a = a
        self.__cuda_array_interface__ = {"shape": a.shape, "typestr": a.dtype.str, "data": (a.ctypes.data, False),
                                         "strides": None, "version": 3}


@needs_cuda_build
@pytest.mark.skipif(_C.cuda_device_count() > 0, reason="a GPU is present")
def test_a_cuda_kernel_without_a_gpu_raises_instead_of_crashing():
    x, y = _FakeDeviceArray(np.ones((2, 3), np.float32)), _FakeDeviceArray(np.ones((2, 3), np.float32))
    m, r = _FakeDeviceArray(np.ones(2, np.float32)), _FakeDeviceArray(np.ones(2, np.float32))
    with pytest.raises(RuntimeError, match="cannot use CUDA device 0"):
        _C.cuda.layer_norm_rows_f32(x, None, None, y, m, r, 1e-5, device=0, stream=0)


def test_import_fastnn_loads_neither_cupy_nor_the_emulator():
    code = ("import sys, fastnn, fastnn.nn, fastnn.optim; "
            "print(sorted(m for m in ('cupy', 'fastnn._emu') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "FASTNN_CUDA"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    assert fastnn.cuda.is_built() == hasattr(_C, "cuda")
