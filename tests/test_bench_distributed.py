"""bench/bench_distributed.py: a CI-sized run (the smallest sizes and the MLP at 2 ranks, marker mpi) prints every
row with finite figures (the timings themselves mean nothing on a loaded CI machine); the report, the fit and
the scaling model computed from a made-up result (no MPI)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from mpi_helpers import mpiexec, rank_env

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_distributed.py"
SIZES = ("4 KiB", "64 KiB", "1 MiB", "2 MiB")  # two sizes >= 1 MiB: the bandwidth fit needs a slope


@pytest.mark.mpi
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


def _bench_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_distributed", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("on_s", [0.004, 0.0001])  # a partial overlap; one that clips to a full one
def test_report_and_model_from_a_result(on_s, capsys):
    b = _bench_module()
    rows = [{"bytes": s, "fastnn_s": 1e-5 + s / 1e9, "mpi_s": 1e-5 + s / 1e9, "fastnn_min_s": 1e-5 + s / 1e9,
             "mpi_min_s": 1e-5 + s / 1e9} for s in (4 << 10, 16 << 10, 1 << 20, 4 << 20)]
    step = {"model": "mlp", "grad_bytes": 1 << 20, "buckets": 1}
    res = {"ranks": 2, "cpus": 2, "models": ["mlp"], "torch_step": None,
           "allreduce": {"mpi": "MPICH", "rows": rows},
           "fastnn_step": {"1": {"rows": [{**step, "mode": "single", "seconds": 0.003}]},
                           "2": {"rows": [{**step, "mode": "local", "seconds": 0.003},
                                          {**step, "mode": "ddp-overlap", "seconds": on_s},
                                          {**step, "mode": "ddp-no-overlap", "seconds": 0.005}]}}}
    b.print_report(res)
    out = capsys.readouterr().out
    # t = 10 us + bytes / 1 GB/s at N = 2 (2(N-1)/N = 1): the fit gives both back
    assert res["fit"]["fastnn_min_s"]["alpha_s"] == pytest.approx(1e-5, rel=1e-6)
    assert res["fit"]["fastnn_min_s"]["beta_Bps"] == pytest.approx(1e9, rel=1e-6)
    o = res["overlap"]["mlp"]
    assert o["fraction"] == pytest.approx((0.005 - on_s) / (0.005 - 0.003))
    ov = min(1.0, o["fraction"])
    beta = 10e9 / 8
    want = 0.003 + (1 - ov) * (1e-5 + 2 * 63 / 64 * (1 << 20) / beta)
    assert res["scaling"]["mlp 10Gb on"]["ms"][-1] == pytest.approx(want * 1e3)
    assert len([line for line in out.splitlines() if line.startswith("MLP") and "Gb/s" in line]) == 6


def test_bucket_count_follows_torchs_rule():
    b = _bench_module()
    mib = 1 << 20
    assert b.bucket_count([100]) == 1
    assert b.bucket_count([30 * mib, mib]) == 2  # reverse order: the 1 MiB first bucket, then 30 MiB >= 25
    assert b.bucket_count([mib // 2] * 4) == 2  # 1 MiB first, the remaining 1 MiB below 25 MiB: one more
    assert b.bucket_count([mib // 2] * 4, cap_mb=0.5) == 4
