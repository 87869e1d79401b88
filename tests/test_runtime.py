"""ISA dispatch, threads, config() and the optional CUDA build."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import _C


def run_python(code, **env):
    full_env = dict(os.environ)
    full_env.pop("FASTNN_ISA", None)
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def test_config_reports_build_and_runtime():
    cfg = fastnn.config()
    assert cfg["isa"] in ("generic", "avx2", "avx512")
    assert cfg["isa"] in cfg["isa_levels"] and cfg["isa_levels"][0] == "generic"
    assert cfg["num_threads"] >= 1
    assert cfg["cache_bytes"]["l1d"] > 0 and cfg["cache_bytes"]["l2"] > cfg["cache_bytes"]["l1d"]
    assert "march=native" not in cfg["build_flags"]
    assert isinstance(cfg["cuda_built"], bool) and isinstance(cfg["cuda_available"], bool)


@pytest.mark.parametrize("level", list(_C.isa_levels()))
def test_fastnn_isa_forces_each_supported_level(level):
    r = run_python("import fastnn; print(fastnn.config()['isa'])", FASTNN_ISA=level)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == level


def test_fastnn_isa_unknown_name_is_a_clear_error():
    r = run_python("import fastnn", FASTNN_ISA="sse9")
    assert r.returncode != 0
    assert "FASTNN_ISA" in r.stderr and "unknown ISA level 'sse9'" in r.stderr


@pytest.mark.skipif(_C.isa_supported() == "avx512", reason="this CPU runs every level")
def test_fastnn_isa_above_cpu_is_a_clear_error():
    r = run_python("import fastnn", FASTNN_ISA="avx512")
    assert r.returncode != 0 and "not supported by this CPU" in r.stderr


def test_active_level_runs_matmul():
    a = np.random.default_rng(0).standard_normal((31, 47)).astype(np.float32)
    assert np.allclose(_C.matmul(a, a.T), a.astype(np.float64) @ a.T, atol=1e-4)


def test_set_and_get_num_threads(threads):
    threads(1)
    assert fastnn.get_num_threads() == 1
    threads(2)
    assert fastnn.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -3])
def test_set_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        fastnn.set_num_threads(bad)


def test_set_num_threads_rejects_non_int():
    with pytest.raises(TypeError):
        fastnn.set_num_threads(1.5)


def test_omp_num_threads_is_honoured():
    r = run_python("import fastnn; print(fastnn.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


def test_import_needs_no_gpu_and_cuda_answers_honestly():
    r = run_python("import sys, fastnn; print(fastnn.cuda.is_available(), fastnn.cuda.device_count(), "
                   "'cupy' in sys.modules)", CUDA_VISIBLE_DEVICES="", FASTNN_CUDA="auto")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "0", "False"]  # and CuPy was never imported
