"""Running a script on several MPI ranks from a test: ``mpiexec -n N python script`` in a subprocess, with a
timeout, one thread per rank (the machine has 2 cores), and this checkout's fastnn on the path."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def mpiexec() -> str:
    """mpiexec beside this Python (the mpich wheel's), else on PATH; skips the test when there is none."""
    pytest.importorskip("mpi4py")
    here = Path(sys.executable).with_name("mpiexec")
    if here.exists():
        return str(here)
    import shutil
    found = shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec (pip install mpich)")
    return found


def rank_env(env=None) -> dict:
    e = dict(os.environ)
    e.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "KERAS_BACKEND": "torch",
              "PYTHONUNBUFFERED": "1"})
    src = str(REPO / "python")
    if (REPO / "python" / "fastnn").is_dir() and src not in e.get("PYTHONPATH", ""):
        # the tests run against the checkout's package when it is on sys.path (as in development); an
        # installed fastnn comes first otherwise, exactly as for the test process itself
        import fastnn
        if Path(fastnn.__file__).resolve().is_relative_to((REPO / "python").resolve()):
            e["PYTHONPATH"] = src + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.update(env or {})
    return e


def run_ranks(script, n: int = 2, timeout: float = 120, env=None, args=()) -> subprocess.CompletedProcess:
    """Runs ``script`` (a path, or Python source text) on ``n`` ranks; returns the CompletedProcess
    (stdout and stderr as text). A run past ``timeout`` fails the test (a hang is a bug here)."""
    path = Path(script) if isinstance(script, Path) or (isinstance(script, str) and "\n" not in script
                                                        and script.endswith(".py")) else None
    tmp = None
    if path is None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
        tmp.write(textwrap.dedent(script))
        tmp.close()
        path = Path(tmp.name)
    cmd = [mpiexec(), "-n", str(n), sys.executable, str(path), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=rank_env(env),
                            cwd=str(REPO), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import signal
        os.killpg(proc.pid, signal.SIGKILL)  # mpiexec and every rank: they share the new session's group
        out, err = proc.communicate()
        pytest.fail(f"{n} ranks of {path.name} did not finish within {timeout} s (a hang)\nstdout:\n{out}"
                    f"\nstderr:\n{err}")
    finally:
        if tmp is not None:
            os.unlink(tmp.name)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def lines_by_rank(out: str, tag: str) -> dict:
    """{rank: value text} from lines '<tag> <rank> <value...>' that the ranks printed."""
    found = {}
    for line in out.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) >= 2 and parts[0] == tag:
            found[int(parts[1])] = parts[2] if len(parts) > 2 else ""
    return found
