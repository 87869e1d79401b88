"""Timing, machine description and per-library worker processes shared by every bench family."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# NumPy races at its best: these two slow OpenBLAS down on this host and are unset for the bench's
# worker processes only (never for tests or CI).
UNSET_FOR_PEERS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
LIBRARIES = ("fastnn", "numpy", "torch")


def median_time(fn, *, repeats: int = 5, min_batch_s: float = 0.02, warmup: int = 2) -> float:
    """Median seconds per call of ``fn`` over ``repeats`` batches, each at least ``min_batch_s`` long."""
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_batch_s / once))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def library_available(lib: str) -> bool:
    if lib in ("fastnn", "numpy"):
        return True
    try:
        import importlib.util

        return importlib.util.find_spec(lib) is not None
    except (ImportError, ValueError):
        return False


def worker_env(threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in UNSET_FOR_PEERS}
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_worker(family: str, lib: str, threads: int, quick: bool, timeout: float = 1800) -> dict:
    """Runs one bench family for one library in a fresh process (spinning OpenMP/OpenBLAS workers of
    one library would otherwise steal the cores another is being timed on)."""
    cmd = [sys.executable, str(BENCH_DIR / "worker.py"), family, lib, str(threads)] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(threads), timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {family}/{lib}/{threads}t failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def import_time_s(repeats: int = 5) -> float:
    """Median wall time of ``import fastnn`` (NumPy included) in a fresh interpreter."""
    code = "import time; t = time.perf_counter(); import fastnn; print(time.perf_counter() - t)"
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)
