"""Finding mpiexec and starting N copies of a script under it (shared by ``run`` and ``launch``)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys


def find_mpiexec() -> str:
    """The mpiexec beside this Python (the mpich wheel installs one into the environment's bin/), else PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit("fastnn.distributed: no mpiexec found; pip install mpich (or install an MPI library)")
    return found


def launch(nproc: int, target: list, module: bool = False, mpiexec_args=()) -> int:
    """Runs ``target`` (a script and its arguments, or with ``module`` a module name and its arguments) on
    ``nproc`` ranks; returns mpiexec's exit status."""
    if nproc < 1:
        raise SystemExit(f"fastnn.distributed: the number of processes must be at least 1, got {nproc}")
    if not target:
        raise SystemExit("fastnn.distributed: name a script to run")
    cmd = [find_mpiexec(), "-n", str(nproc), *mpiexec_args, sys.executable, "-m", "fastnn.distributed._bootstrap"]
    cmd += ["-m"] if module else []
    cmd += list(target)
    return subprocess.call(cmd)
