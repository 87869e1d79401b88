"""bench/run.py --contended: the busy process is pinned, spins, and is gone afterwards (normal exit, an error
inside the timed part, SIGTERM, the bench killed outright); the target check flags the right rows; a quick contended run
(softmax family, fastnn and NumPy at 1 and 2 threads) prints the marked table and the check, and writes both to the
JSON. The timings themselves mean nothing on a loaded CI machine: only their presence is checked."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

_spec = importlib.util.spec_from_file_location("bench_contended_mode", BENCH / "contended.py")
contended = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contended)


def _state(pid: int) -> str | None:
    """The process state letter from /proc (R running, S sleeping, Z zombie ...), None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _state(pid) in (None, "Z", "X"):  # an exited child of init may linger as a zombie for a moment
            return True
        time.sleep(0.05)
    return False


def test_spinner_is_pinned_busy_and_gone_after_exit():
    mine = os.sched_getaffinity(0)
    with contended.Spinner() as spinner:
        pid = spinner.pid
        assert spinner.cpu == max(mine)
        assert os.sched_getaffinity(pid) == {spinner.cpu}
        assert os.sched_getaffinity(0) == mine  # only the busy process is pinned, never the bench or its workers
        t0 = _cpu_seconds(pid)
        time.sleep(0.5)
        assert _cpu_seconds(pid) - t0 > 0.05  # it burns CPU (a core shared with a busy host still gives it some)
    assert _state(pid) is None  # killed and reaped: no zombie, no orphan
    assert spinner.pid is None


def test_spinner_stops_when_the_timed_part_raises():
    with pytest.raises(KeyboardInterrupt):
        with contended.Spinner() as spinner:
            pid = spinner.pid
            raise KeyboardInterrupt  # as Ctrl-C in the middle of a worker
    assert _state(pid) is None


def test_spinner_ends_on_its_own_when_the_bench_is_killed():
    # The bench's process dies without running any finally (os._exit stands for SIGKILL): the spinner sees its
    # parent change and leaves its loop.
    code = ("import importlib.util, os, sys\n"
            f"spec = importlib.util.spec_from_file_location('c', {str(BENCH / 'contended.py')!r})\n"
            "c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c)\n"
            "s = c.Spinner().start(); print(s.pid, flush=True); os._exit(0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    pid = int(out.stdout.strip())
    assert _wait_gone(pid), f"busy process {pid} outlived the bench (state {_state(pid)})"


def test_sigterm_to_the_bench_stops_the_spinner():
    # A CI runner's cancel: SIGTERM becomes SystemExit inside the timed part, so the with block still stops it.
    code = ("import importlib.util, time\n"
            f"spec = importlib.util.spec_from_file_location('c', {str(BENCH / 'contended.py')!r})\n"
            "c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c)\n"
            "with c.Spinner() as s:\n    print(s.pid, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(proc.stdout.readline())
        proc.terminate()
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.stdout.close()
    assert _state(pid) is None  # stopped and reaped by the bench before it exited


def _row(kernel, threads, fastnn, numpy):
    return {"kernel": kernel, "case": "c", "threads": threads, "times": {"fastnn": fastnn, "numpy": numpy}}


def test_check_flags_both_targets():
    rows = [_row("a", 1, 1.0, 2.0), _row("b", 1, 1.0, 1.0), _row("c", 1, 1.0, 1.0), _row("d", 1, 1.0, None),
            _row("a", 2, 0.6, 1.2),   # faster than 1t and than NumPy: ok
            _row("b", 2, 1.5, 2.0),   # slower than its 1t figure only
            _row("c", 2, 0.8, 0.5),   # slower than NumPy's 2t figure only
            _row("d", 2, 3.0, None)]  # no NumPy figure: only the 1-thread target applies
    check = {c["kernel"]: c for c in contended.check_rows(rows)}
    assert sorted(check) == ["a", "b", "c", "d"]  # one entry per 2-thread row, none for 1-thread rows
    assert check["a"]["flags"] == [] and check["a"]["vs_base"] == pytest.approx(1 / 0.6)
    assert check["b"]["flags"] == ["slower than 1t"]
    assert check["c"]["flags"] == ["slower than numpy 2t"] and check["c"]["vs_numpy"] == pytest.approx(0.625)
    assert check["d"]["flags"] == ["slower than 1t"] and check["d"]["vs_numpy"] is None


def test_quick_contended_run(tmp_path):
    out_json = tmp_path / "r.json"
    env = dict(os.environ)
    import fastnn
    if Path(fastnn.__file__).resolve().is_relative_to((ROOT / "python").resolve()):
        # this checkout's package (development); an installed fastnn (CI) is found as it is, and the
        # checkout's sources, which hold no native modules there, must not shadow it
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "python"), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, str(BENCH / "run.py"), "--contended", "--quick", "--only", "softmax", "--threads", "1,2",
           "--libs", "fastnn,numpy", "--no-demo", "--json", str(out_json)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    cpu = max(os.sched_getaffinity(0))
    assert "CONTENDED: one busy process" in out and f"pinned to CPU {cpu}" in out
    assert "Contended check" in out
    result = json.loads(out_json.read_text())
    assert result["contended"]["cpu"] == cpu
    two = [r for r in result["rows"] if r["threads"] == 2]
    assert two and len(result["contended_check"]) == len(two)
    for c in result["contended_check"]:
        assert c["fastnn_s"] > 0 and c["fastnn_base_s"] > 0 and c["numpy_s"] > 0
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{c['kernel']:<8} {c['case']:<24}   2 ")
                    and ln.rstrip().endswith("; ".join(c["flags"]) or "ok"))
        assert line
