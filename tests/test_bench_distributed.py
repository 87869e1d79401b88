"""CI-sized run of bench/bench_distributed.py: the smallest sizes and the MLP at 2 ranks, every row printed
with finite figures (the timings themselves mean nothing on a loaded CI machine)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_helpers import mpiexec, rank_env

pytestmark = pytest.mark.mpi

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_distributed.py"
SIZES = ("4 KiB", "64 KiB", "1 MiB", "2 MiB")  # two sizes >= 1 MiB: the bandwidth fit needs a slope


def test_quick_run_prints_every_row(tmp_path):
    mpiexec()  # skips without mpi4py / mpiexec
    out_json = tmp_path / "r.json"
    cmd = [sys.executable, str(BENCH), "--quick", "--sizes", "4K,64K,1M,2M", "--models", "mlp", "--repeats", "1",
           "--min-batch-s", "0.001", "--json", str(out_json)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=rank_env(),
                          cwd=str(BENCH.parents[1]))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for size in SIZES:
        assert any(line.startswith("all_reduce(t) vs comm.Allreduce") and f" {size} " in line
                   for line in out.splitlines()), (size, out)
    labels = ["fastnn 1 rank", "fastnn DDP 2 ranks overlap on", "fastnn DDP 2 ranks overlap off",
              "overlap fraction"]
    has_torch = json.loads(out_json.read_text())["torch_step"] is not None
    if has_torch:
        labels += ["torch 1 rank", "torch DDP gloo 2 ranks"]
    for label in labels:
        assert any(line.startswith("MLP 784-256-256-10 b128") and label in line for line in out.splitlines()), \
            (label, out)
    assert "fit of t = alpha" in out
    res = json.loads(out_json.read_text())
    assert [r["bytes"] for r in res["allreduce"]["rows"]] == [4 << 10, 64 << 10, 1 << 20, 2 << 20]
    for r in res["allreduce"]["rows"]:
        assert r["fastnn_s"] > 0 and r["mpi_s"] > 0 and math.isfinite(r["ratio"])
    # the MLP's gradient: 784*256+256 + 256*256+256 + 256*10+10 float32 parameters
    assert res["overlap"]["mlp"]["grad_bytes"] == 4 * (784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10)
    assert res["overlap"]["mlp"]["buckets"] == 1  # 1.08 MB: the 1 MiB first bucket closes on the last parameter
    scaling_rows = [line for line in out.splitlines() if line.startswith("MLP") and "Gb/s" in line]
    assert len(scaling_rows) == 6  # 3 links x overlap on/off
